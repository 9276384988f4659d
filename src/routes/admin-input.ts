/** Admin request validation: a zod failure becomes an OpenAI-shaped 400 naming the parameter. */
import type { z } from 'zod';
import { invalidRequestFromZod } from '../errors.js';

/** Validates a body or query; the 400 lists every issue and names the first offending parameter. */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw invalidRequestFromZod(result.error, 'summary');
}
