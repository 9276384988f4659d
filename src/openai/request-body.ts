/**
 * Request bodies are checked only as far as the gateway relies on them; every other field passes
 * through untouched so new OpenAI parameters work without a gateway change. (docs/wire.md §2;
 * docs/contract.md §4)
 */
import { z } from 'zod';
import type { Endpoint } from './endpoint.js';
import { bodyNotAnObject, invalidRequestFromZod, memberCaseVariant, memberRepeated } from '../errors.js';
import type { JsonMember } from './json-scan.js';

/**
 * The most choices (`n`) one request may ask for, taken to be OpenAI's own bound; the wire notes do not
 * confirm it (docs/wire.md §2.1, §11 item 9).
 */
export const MAX_CHOICES = 128;

const outputCap = z.number().int().positive().nullish();

/**
 * Every output cap, and `n`, is checked on both APIs: upstreams honour whichever name they know
 * (OpenAI-compatible servers often accept all three caps, and `n`, on either API), and the gateway
 * reserves the largest cap times `n`. (docs/wire.md §2.1)
 */
const common = {
  model: z.string().min(1),
  stream: z.boolean().nullish(),
  max_tokens: outputCap,
  max_completion_tokens: outputCap,
  max_output_tokens: outputCap,
  n: z.number().int().min(1).max(MAX_CHOICES).nullish(),
};

const schemas: Record<Endpoint, z.ZodType> = {
  chat: z.looseObject({
    ...common,
    messages: z.array(z.unknown()).min(1),
    stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  }),
  responses: z.looseObject({
    ...common,
    input: z.union([z.string(), z.array(z.unknown())]),
    // tollgate resolves the chain and keeps the record itself (docs/contract.md §5.6).
    previous_response_id: z.string().min(1).nullish(),
    store: z.boolean().nullish(),
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
  n?: number | null;
  /** Responses only. */
  previous_response_id?: string | null;
  store?: boolean | null;
  [field: string]: unknown;
}

/**
 * Members the gateway routes, limits or keeps records on. JSON.parse keeps the last of duplicate members, other
 * decoders the first, and some (Go's) match names regardless of case: a second `model`, or a `MODEL`,
 * could reach an upstream that reads it instead of the one the gateway checked. (docs/wire.md §2.1;
 * docs/contract.md §4)
 */
const GUARDED_MEMBERS = new Set([
  'model',
  'stream',
  'stream_options',
  'max_tokens',
  'max_completion_tokens',
  'max_output_tokens',
  'n',
  'previous_response_id',
  'store',
]);

/**
 * Case folding as lenient decoders do it, and a little wider: upper then lower case also folds the
 * Kelvin sign to `k` and the long s to `s`, which Go's decoder matches to them.
 */
const fold = (name: string): string => name.toUpperCase().toLowerCase();

/** 400 for a guarded member sent twice or under a case variant; only top-level names are read. */
function refuseAmbiguousMembers(members: JsonMember[]): void {
  const seen = new Set<string>();
  for (const { name } of members) {
    const folded = fold(name);
    if (!GUARDED_MEMBERS.has(folded)) continue;
    if (name !== folded) {
      throw memberCaseVariant(name, folded);
    }
    if (seen.has(folded)) throw memberRepeated(name);
    seen.add(folded);
  }
}

/** `members`: the body's top-level members as the JSON parser found them, null when it was no object. */
export function checkBody(endpoint: Endpoint, body: unknown, members: JsonMember[] | null): ProxyBody {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || members === null) {
    throw bodyNotAnObject();
  }
  refuseAmbiguousMembers(members);
  const result = schemas[endpoint].safeParse(body);
  if (!result.success) throw invalidRequestFromZod(result.error, 'openai');
  // Validation only: the original object is forwarded so unknown fields keep their exact values.
  return body as ProxyBody;
}
