/**
 * A Responses request as a Chat Completions body, for providers that serve only chat (the bridge,
 * responses-over-chat.ts). What maps:
 * - `instructions` is the first, system message (a system/developer message on OpenAI's own word,
 *   docs/wire.md §2.3); then the resolved chain (`history`), then `input` (a string is one user message);
 * - message items keep their role; text, output text and refusal parts are text parts, `input_image`
 *   with an `image_url` an `image_url` part (user messages only);
 * - `function_call` items are the `tool_calls` of an assistant message (consecutive calls, and the
 *   assistant text right before them, are one message); `function_call_output` items are tool messages;
 * - `reasoning` items are dropped: they are another provider's opaque reasoning, which chat cannot take
 *   back, and the model answers without it;
 * - function tools, `tool_choice`, `text.format` (as `response_format`), `text.verbosity`,
 *   `max_output_tokens` (as `max_completion_tokens`), `reasoning.effort` and the sampling and
 *   attribution members carry over. `metadata` and `store` are not sent: they are echoed in the
 *   answer, and tollgate keeps the record itself. `reasoning.summary` is not sent: chat has no
 *   summaries, the answer simply has no reasoning item.
 * Everything else chat cannot do refuses the route with a 400 naming the member, so a later route that
 * serves Responses natively may take it: hosted tools, file and audio inputs, item references,
 * `background`, `conversation`, `prompt` templates, `max_tool_calls`, `truncation: auto`,
 * `top_logprobs` (chat's log probabilities are asked for and shaped differently; not mapped) and
 * `include` values that ask for what chat cannot produce.
 */
import { unsupportedByChatProvider, type GatewayError } from '../errors.js';
import { isJsonObject } from '../openai/json-object.js';
import type { ClientRequest } from './dialect.js';

type Json = Record<string, unknown>;
/** A chat message as the bridge builds it. */
type ChatMessage = Json & { role: string };

/** Why the request cannot go to a chat provider: thrown while mapping, caught once in chatBodyOf. */
class Unmappable extends Error {
  constructor(readonly refusal: GatewayError) {
    super(refusal.message);
  }
}

const refuse = (param: string, what: string): never => {
  throw new Unmappable(unsupportedByChatProvider(param, what));
};

/** Members copied under the same name when the client set them. */
const CARRIED = ['temperature', 'top_p', 'user', 'safety_identifier', 'prompt_cache_key', 'service_tier'] as const;

/**
 * `include` values that ask for nothing a bridged answer could hold: reasoning that chat never returns
 * (Codex-style clients always ask for it), and outputs of hosted tools, which are refused anyway.
 */
const HARMLESS_INCLUDES = new Set([
  'reasoning.encrypted_content',
  'web_search_call.action.sources',
  'web_search_call.results',
  'code_interpreter_call.outputs',
  'computer_call_output.output.image_url',
  'file_search_call.results',
]);

const MESSAGE_ROLES = new Set(['user', 'assistant', 'system', 'developer']);

/** The chat body for the request, or the route's refusal. */
export function chatBodyOf(request: ClientRequest, model: string): { chat: Json } | { refusal: GatewayError } {
  try {
    return { chat: chatBody(request, model) };
  } catch (err) {
    if (err instanceof Unmappable) return { refusal: err.refusal };
    throw err;
  }
}

function chatBody({ body, history }: ClientRequest, model: string): Json {
  refuseUnsupportedMembers(body);
  // A string input is one user message (docs/wire.md §2.3), sent as the string it is.
  const input = typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : body.input;
  const items = [...(history ?? []), ...(input as unknown[])];
  const chat: Json = { model, messages: messagesOf(body.instructions, items) };
  const tools = chatTools(body.tools);
  if (tools.length > 0) {
    chat.tools = tools;
    if (present(body.parallel_tool_calls)) chat.parallel_tool_calls = body.parallel_tool_calls;
  }
  if (present(body.tool_choice)) chat.tool_choice = chatToolChoice(body.tool_choice);
  Object.assign(chat, textOptions(body.text));
  if (present(body.max_output_tokens)) chat.max_completion_tokens = body.max_output_tokens;
  for (const member of CARRIED) if (present(body[member])) chat[member] = body[member];
  if (isJsonObject(body.reasoning) && present(body.reasoning.effort)) chat.reasoning_effort = body.reasoning.effort;
  if (present(body.stream)) chat.stream = body.stream;
  return chat;
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function refuseUnsupportedMembers(body: Json): void {
  if (body.background === true) refuse('background', 'background responses');
  if (present(body.conversation)) refuse('conversation', 'conversations');
  if (present(body.prompt)) refuse('prompt', 'prompt templates');
  if (present(body.max_tool_calls)) refuse('max_tool_calls', 'a cap on tool calls');
  if (body.truncation === 'auto') refuse('truncation', 'automatic truncation');
  if (typeof body.top_logprobs === 'number' && body.top_logprobs > 0) refuse('top_logprobs', 'log probabilities');
  for (const value of Array.isArray(body.include) ? body.include : []) {
    if (!HARMLESS_INCLUDES.has(value as string)) refuse('include', `the output ${JSON.stringify(value)}`);
  }
}

function messagesOf(instructions: unknown, items: unknown[]): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (typeof instructions === 'string') messages.push({ role: 'system', content: instructions });
  for (const item of items) addItem(messages, item);
  return messages;
}

function addItem(messages: ChatMessage[], item: unknown): void {
  if (!isJsonObject(item)) return refuse('input', 'an input item that is not an object');
  switch (item.type ?? 'message') {
    case 'message':
      messages.push(chatMessage(item));
      return;
    case 'function_call':
      return addToolCall(messages, item);
    case 'function_call_output':
      messages.push({ role: 'tool', tool_call_id: item.call_id, content: toolOutput(item.output) });
      return;
    case 'reasoning':
      return; // another provider's opaque reasoning: chat cannot take it back (see the file's comment)
    default:
      return refuse('input', `input items of type ${JSON.stringify(item.type)}`);
  }
}

function chatMessage(item: Json): ChatMessage {
  const role = item.role;
  if (typeof role !== 'string' || !MESSAGE_ROLES.has(role)) {
    return refuse('input', `a message with role ${JSON.stringify(role)}`);
  }
  if (typeof item.content === 'string') return { role, content: item.content };
  if (!Array.isArray(item.content)) return refuse('input', 'a message without content');
  return { role, content: item.content.map((part) => chatPart(part, role)) };
}

function chatPart(part: unknown, role: string): Json {
  const type = isJsonObject(part) ? part.type : undefined;
  if (!isJsonObject(part)) return refuse('input', 'a content part that is not an object');
  if (type === 'input_text' || type === 'output_text') return { type: 'text', text: part.text };
  if (type === 'refusal') return { type: 'text', text: part.refusal };
  if (type !== 'input_image') return refuse('input', `content parts of type ${JSON.stringify(type)}`);
  if (role !== 'user') return refuse('input', `an image in a ${role} message`);
  if (typeof part.image_url !== 'string') return refuse('input', 'an image given by file id');
  const imageUrl: Json = { url: part.image_url };
  if (present(part.detail)) imageUrl.detail = part.detail;
  return { type: 'image_url', image_url: imageUrl };
}

/** A call joins the assistant message right before it (text, or the calls before it), or starts one. */
function addToolCall(messages: ChatMessage[], item: Json): void {
  const call = { id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } };
  const last = messages.at(-1);
  if (last?.role === 'assistant') {
    last.tool_calls = [...((last.tool_calls as unknown[] | undefined) ?? []), call];
    return;
  }
  messages.push({ role: 'assistant', content: null, tool_calls: [call] });
}

/** A tool result's text: the output string, or its text parts joined. */
function toolOutput(output: unknown): string {
  if (typeof output === 'string') return output;
  if (!Array.isArray(output)) return refuse('input', 'a function call output without text');
  return output
    .map((part) => {
      if (isJsonObject(part) && part.type === 'input_text' && typeof part.text === 'string') return part.text;
      return refuse('input', 'a function call output that is not text');
    })
    .join('\n');
}

function chatTools(tools: unknown): Json[] {
  return (Array.isArray(tools) ? tools : []).map((tool) => {
    if (!isJsonObject(tool) || tool.type !== 'function') {
      return refuse('tools', `tools of type ${JSON.stringify(isJsonObject(tool) ? tool.type : tool)}`);
    }
    const { name, description, parameters, strict } = tool;
    return { type: 'function', function: definedMembers({ name, description, parameters, strict }) };
  });
}

function chatToolChoice(choice: unknown): unknown {
  if (choice === 'auto' || choice === 'none' || choice === 'required') return choice;
  if (isJsonObject(choice) && choice.type === 'function' && typeof choice.name === 'string') {
    return { type: 'function', function: { name: choice.name } };
  }
  const type = isJsonObject(choice) ? choice.type : choice;
  return refuse('tool_choice', `a tool choice of ${JSON.stringify(type)}`);
}

/** `text.format` as chat's `response_format`, `text.verbosity` as `verbosity`. */
function textOptions(text: unknown): Json {
  if (!isJsonObject(text)) return {};
  const options: Json = {};
  const format = present(text.format) ? responseFormat(text.format) : undefined;
  if (format) options.response_format = format;
  if (present(text.verbosity)) options.verbosity = text.verbosity;
  return options;
}

/** Undefined for plain text, which is chat's default. */
function responseFormat(format: unknown): Json | undefined {
  const type = isJsonObject(format) ? format.type : undefined;
  if (type === 'text') return undefined;
  if (type === 'json_object') return { type: 'json_object' };
  if (type !== 'json_schema' || !isJsonObject(format)) {
    return refuse('text', `a text format of ${JSON.stringify(type)}`);
  }
  const { name, schema, strict, description } = format;
  return { type: 'json_schema', json_schema: definedMembers({ name, schema, strict, description }) };
}

function definedMembers(members: Json): Json {
  return Object.fromEntries(Object.entries(members).filter(([, value]) => value !== undefined));
}
