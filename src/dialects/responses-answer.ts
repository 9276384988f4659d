/**
 * The Response object of a bridged answer (responses-over-chat.ts): built here once, for a whole
 * `chat.completion` and for the end of a translated stream alike, so both tell the client the same.
 * Members follow OpenAI's own Response objects: what the request set is echoed, the rest carries the
 * API's defaults. A `length` finish is `incomplete` with reason `max_output_tokens`, `content_filter`
 * `incomplete` with reason `content_filter`, and the last output item of an incomplete response is
 * `incomplete` too, as on OpenAI.
 */
import { isJsonObject } from '../openai/json-object.js';
import { normaliseUsage, type Usage } from '../openai/usage.js';
import { newId } from '../responses/items.js';
import type { ResponseItem, ResponseObject } from '../responses/stored-response.js';
import type { ClientRequest } from './dialect.js';

type Json = Record<string, unknown>;

export type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';

/** What a bridged answer amounts to, however it arrived. */
export interface BridgedAnswer {
  id: string;
  /** Unix seconds. */
  createdAt: number;
  model: unknown;
  output: ResponseItem[];
  finishReason: unknown;
  usage: Usage | undefined;
  serviceTier?: unknown;
  /** The upstream's error, for a failed response. */
  error?: { code: string; message: string };
}

const INCOMPLETE_REASONS: Record<string, string> = { length: 'max_output_tokens', content_filter: 'content_filter' };

export function statusOf(answer: Pick<BridgedAnswer, 'finishReason' | 'error'>): ResponseStatus {
  if (answer.error) return 'failed';
  const cut = typeof answer.finishReason === 'string' && INCOMPLETE_REASONS[answer.finishReason] !== undefined;
  return cut ? 'incomplete' : 'completed';
}

/** The Response object; `status` defaults to the answer's own (in_progress for a stream's first events). */
export function responseObject(
  { body }: ClientRequest,
  answer: BridgedAnswer,
  status: ResponseStatus = statusOf(answer),
): ResponseObject {
  const echo = (name: string, otherwise: unknown) => body[name] ?? otherwise;
  const reason = typeof answer.finishReason === 'string' ? INCOMPLETE_REASONS[answer.finishReason] : undefined;
  const reasoning = isJsonObject(body.reasoning) ? body.reasoning : {};
  const text = isJsonObject(body.text) ? body.text : {};
  return {
    id: answer.id,
    object: 'response',
    created_at: answer.createdAt,
    status,
    background: false,
    completed_at: status === 'in_progress' ? null : unixNow(),
    error: status === 'failed' ? (answer.error ?? null) : null,
    incomplete_details: status === 'incomplete' ? { reason } : null,
    instructions: echo('instructions', null),
    max_output_tokens: echo('max_output_tokens', null),
    max_tool_calls: null,
    model: answer.model,
    output: answer.output,
    parallel_tool_calls: echo('parallel_tool_calls', true),
    previous_response_id: echo('previous_response_id', null),
    prompt_cache_key: echo('prompt_cache_key', null),
    reasoning: { effort: reasoning.effort ?? null, summary: reasoning.summary ?? null },
    safety_identifier: echo('safety_identifier', null),
    service_tier: answer.serviceTier ?? echo('service_tier', 'auto'),
    store: echo('store', true),
    temperature: echo('temperature', 1),
    text: { format: text.format ?? { type: 'text' }, verbosity: text.verbosity ?? 'medium' },
    tool_choice: echo('tool_choice', 'auto'),
    tools: echo('tools', []),
    top_logprobs: echo('top_logprobs', 0),
    top_p: echo('top_p', 1),
    truncation: echo('truncation', 'disabled'),
    usage: status === 'in_progress' ? null : responsesUsage(answer.usage),
    user: echo('user', null),
    metadata: echo('metadata', {}),
  };
}

/** A usage as Responses reports it (docs/wire.md §3.2). */
function responsesUsage(usage: Usage | undefined): Json | null {
  if (!usage) return null;
  return {
    input_tokens: usage.promptTokens,
    input_tokens_details: { cached_tokens: usage.cachedTokens },
    output_tokens: usage.completionTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens },
    total_tokens: usage.totalTokens,
  };
}

export const outputTextPart = (text: string): Json => ({ type: 'output_text', annotations: [], logprobs: [], text });
export const refusalPart = (refusal: string): Json => ({ type: 'refusal', refusal });

export function messageItem(id: string, status: string, content: Json[]): ResponseItem {
  return { id, type: 'message', status, content, role: 'assistant' };
}

export interface FunctionCall {
  callId: unknown;
  name: unknown;
  arguments: string;
}

export function functionCallItem(id: string, status: string, call: FunctionCall): ResponseItem {
  return { id, type: 'function_call', status, arguments: call.arguments, call_id: call.callId, name: call.name };
}

/**
 * Marks the last item of a finished answer with the answer's end: `incomplete` when the output cap or
 * the content filter cut it (the items before it were complete), as on OpenAI.
 */
export function lastItemStatus(answer: Pick<BridgedAnswer, 'finishReason' | 'error'>): string {
  return statusOf(answer) === 'incomplete' ? 'incomplete' : 'completed';
}

/** A whole `chat.completion` as a Response (its first choice: Responses has one). */
export function responseOfChatCompletion(request: ClientRequest, json: unknown): ResponseObject {
  const completion = isJsonObject(json) ? json : {};
  const [choice] = Array.isArray(completion.choices) ? completion.choices : [];
  const message = isJsonObject(choice) && isJsonObject(choice.message) ? choice.message : {};
  const finishReason = isJsonObject(choice) ? choice.finish_reason : null;
  const output: ResponseItem[] = [];
  const content: Json[] = [];
  if (typeof message.content === 'string' && message.content !== '') content.push(outputTextPart(message.content));
  if (typeof message.refusal === 'string') content.push(refusalPart(message.refusal));
  if (content.length > 0) output.push(messageItem(newId('msg'), 'completed', content));
  for (const call of Array.isArray(message.tool_calls) ? message.tool_calls : []) {
    const fn = isJsonObject(call) && isJsonObject(call.function) ? call.function : {};
    const args = typeof fn.arguments === 'string' ? fn.arguments : '';
    const callId = isJsonObject(call) ? call.id : undefined;
    output.push(functionCallItem(newId('fc'), 'completed', { callId, name: fn.name, arguments: args }));
  }
  const last = output.at(-1);
  if (last) last.status = lastItemStatus({ finishReason });
  return responseObject(request, {
    id: newId('resp'),
    createdAt: typeof completion.created === 'number' ? completion.created : unixNow(),
    model: completion.model ?? request.body.model,
    output,
    finishReason,
    usage: normaliseUsage(completion.usage),
    serviceTier: completion.service_tier,
  });
}

export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}
