/**
 * A Responses request's `input` as items: as sent upstream before a rebuilt conversation, and as a
 * record keeps them (docs/contract.md §5.6). A string is one user message (docs/wire.md §2.3). In a
 * record, message content given as a string becomes one text part, as OpenAI lists input items, and
 * every item gets an id when the client gave none, so `input_items` can page by id.
 */
import { randomBytes } from 'node:crypto';
import { isJsonObject } from '../openai/json-object.js';
import type { ResponseItem } from './stored-response.js';

/** OpenAI's id prefixes by item type; other types get `item_`. */
const ID_PREFIXES: Record<string, string> = {
  message: 'msg',
  function_call: 'fc',
  function_call_output: 'fco',
  reasoning: 'rs',
};

/** `prefix_` and 48 hex characters, as OpenAI's own ids look. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('hex')}`;
}

/** `input` as a list of items, as the client wrote them. */
export function inputAsItems(input: unknown): unknown[] {
  if (typeof input !== 'string') return Array.isArray(input) ? input : [];
  return [{ type: 'message', role: 'user', content: [textPart('user', input)] }];
}

/** `input` as a record keeps it: objects only, each with an id and its content as parts. */
export function recordedInputItems(input: unknown): ResponseItem[] {
  return inputAsItems(input).filter(isJsonObject).map(asItem);
}

function asItem(raw: Record<string, unknown>): ResponseItem {
  const type = typeof raw.type === 'string' ? raw.type : 'message';
  const id = typeof raw.id === 'string' ? raw.id : newId(ID_PREFIXES[type] ?? 'item');
  const item: ResponseItem = { ...raw, id, type };
  if (type === 'message' && typeof raw.content === 'string') item.content = [textPart(raw.role, raw.content)];
  return item;
}

/** The assistant's own words are output text; everyone else's are input text. */
function textPart(role: unknown, text: string): Record<string, unknown> {
  return { type: role === 'assistant' ? 'output_text' : 'input_text', text };
}

/** A Response object's `output` as record items (each output item has its id already; one without gets one). */
export function outputItems(output: unknown): ResponseItem[] {
  return Array.isArray(output) ? output.filter(isJsonObject).map(asItem) : [];
}
