/**
 * Parsed JSON as the tests hold it. JSON.parse promises nothing, so a member stays `unknown` until a
 * test checks it: an assertion takes it as it is, arithmetic goes through Number() (what the operator
 * would do anyway), and a test that reaches deeper casts to the small shape it reads, which its
 * assertions then check. Answer bodies name the two objects tests reach into most.
 */

/** A JSON object's members by name. */
export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON answer: OpenAI's error envelope when it is a refusal, its usage when it is a completion. */
export interface AnswerJson extends JsonObject {
  error?: JsonObject;
  usage?: JsonObject;
}

/** The body as an answer's JSON object, or undefined when it is not one (not JSON, an SSE stream). */
export function parseAnswerJson(text: string): AnswerJson | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return isJsonObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}
