/**
 * Request bodies are checked only as far as the gateway relies on them; every other field passes
 * through untouched so new OpenAI parameters work without a gateway change.
 */
import { z } from 'zod';
import type { Endpoint } from '../config.js';
import { invalidRequest } from '../errors.js';

const outputCap = z.number().int().positive().nullish();

const common = {
  model: z.string().min(1),
  stream: z.boolean().nullish(),
};

const schemas: Record<Endpoint, z.ZodType> = {
  chat: z.looseObject({
    ...common,
    messages: z.array(z.unknown()).min(1),
    stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
    max_tokens: outputCap,
    max_completion_tokens: outputCap,
  }),
  responses: z.looseObject({
    ...common,
    input: z.union([z.string(), z.array(z.unknown())]),
    max_output_tokens: outputCap,
  }),
};

/** The fields the gateway reads; the body object itself is forwarded as the client sent it. */
export interface ProxyBody {
  model: string;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean | null } | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  max_output_tokens?: number | null;
  [field: string]: unknown;
}

export function checkBody(endpoint: Endpoint, body: unknown): ProxyBody {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidRequest('The request body must be a JSON object.');
  }
  const result = schemas[endpoint].safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const param = issue.path.join('.') || null;
    if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) {
      throw invalidRequest(`Missing required parameter: '${param}'.`, param, 'missing_required_parameter');
    }
    throw invalidRequest(`Invalid value for '${param ?? 'body'}': ${issue.message}.`, param, 'invalid_value');
  }
  // Validation only: the original object is forwarded so unknown fields keep their exact values.
  return body as ProxyBody;
}
