/** Admin request validation: a zod failure becomes an OpenAI-shaped 400 naming the parameter. */
import type { z } from 'zod';
import { invalidRequest } from '../errors.js';

/** Validates a body or query; the 400 names the first offending parameter. */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const first = issues[0];
  const param = first?.code === 'unrecognized_keys' ? first.keys[0] : first?.path[0];
  const message = issues.map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ` : '') + issue.message).join('; ');
  throw invalidRequest(`Invalid request: ${message}.`, param === undefined ? null : String(param));
}
