/**
 * Form-schema resellers: GPT models behind a body of `system_prompt`, `prompt` (required),
 * `image_urls`, `image_detail` and a few sampling members instead of `messages`, answering with
 * `chat.completion` objects and chunks (docs/contract.md §5.5). Only Chat Completions requests are
 * sent here (the format implies `endpoints: [chat]`).
 *
 * The conversation maps as follows:
 * - system and developer messages become `system_prompt`, joined by blank lines;
 * - a single user message becomes `prompt`; a longer conversation becomes a transcript in `prompt`,
 *   one "User: …" or "Assistant: …" paragraph per turn, so no turn is dropped;
 * - `image_url` parts become `image_urls` and their `detail` `image_detail`.
 * What the form has no member for (tools, n > 1, logprobs, audio, stop sequences, …) refuses the
 * route with a 400 naming the member, so a later route that speaks OpenAI's API can serve it.
 * Answers are OpenAI's own shapes, so they are relayed as the OpenAI dialect relays them.
 */
import { unsupportedByFormProvider, type GatewayError } from '../errors.js';
import type { ClientRequest, Dialect, UpstreamBody } from './dialect.js';
import { openaiDialect } from './openai.js';
import { isJsonObject } from '../openai/json-object.js';

/** Members copied as they are when the client set them. */
const CARRIED = ['temperature', 'top_p', 'presence_penalty', 'frequency_penalty', 'seed', 'stream'] as const;

interface FormBody {
  model: string;
  system_prompt?: string;
  prompt: string;
  image_urls?: string[];
  image_detail?: string;
  max_completion_tokens?: number;
  response_format?: { type: string };
  [member: string]: unknown;
}

/** What the client's messages say, sorted into the form's members. */
interface Conversation {
  system: string[];
  turns: { role: 'user' | 'assistant'; text: string }[];
  imageUrls: string[];
  imageDetails: Set<string>;
}

export const formSchemaDialect: Dialect = {
  upstreamBody(request, model): UpstreamBody {
    const refusal = unsupportedMember(request);
    if (refusal) return { refusal };
    const conversation = readConversation(request.body.messages);
    if ('refusal' in conversation) return conversation;
    return { body: Buffer.from(JSON.stringify(formBody(request, model, conversation))) };
  },
  clientAnswer: openaiDialect.clientAnswer,
  clientStream: openaiDialect.clientStream,
};

/** The first member the form cannot express, as the route's refusal. */
function unsupportedMember({ body }: ClientRequest): GatewayError | undefined {
  const present = (name: string) => body[name] !== undefined && body[name] !== null;
  if (Array.isArray(body.tools) && body.tools.length > 0) return unsupportedByFormProvider('tools', 'tools');
  if (present('functions')) return unsupportedByFormProvider('functions', 'functions');
  if (present('tool_choice') && body.tool_choice !== 'none') return unsupportedByFormProvider('tool_choice', 'tools');
  if (present('function_call')) return unsupportedByFormProvider('function_call', 'functions');
  if (typeof body.n === 'number' && body.n > 1) return unsupportedByFormProvider('n', 'more than one choice');
  if (body.logprobs === true) return unsupportedByFormProvider('logprobs', 'log probabilities');
  if (present('top_logprobs')) return unsupportedByFormProvider('top_logprobs', 'log probabilities');
  if (present('audio')) return unsupportedByFormProvider('audio', 'audio output');
  if (Array.isArray(body.modalities) && body.modalities.includes('audio')) {
    return unsupportedByFormProvider('modalities', 'audio output');
  }
  if (present('stop')) return unsupportedByFormProvider('stop', 'stop sequences');
  if (present('logit_bias')) return unsupportedByFormProvider('logit_bias', 'a logit bias');
  if (present('prediction')) return unsupportedByFormProvider('prediction', 'predicted outputs');
  const format = responseFormatType(body.response_format);
  if (format === 'json_schema') return unsupportedByFormProvider('response_format', 'a JSON schema');
  return undefined;
}

function responseFormatType(value: unknown): string | undefined {
  return isJsonObject(value) && typeof value.type === 'string' ? value.type : undefined;
}

function readConversation(messages: unknown): Conversation | { refusal: GatewayError } {
  const conversation: Conversation = { system: [], turns: [], imageUrls: [], imageDetails: new Set() };
  for (const message of Array.isArray(messages) ? messages : []) {
    const refusal = addMessage(conversation, message);
    if (refusal) return { refusal };
  }
  if (conversation.turns.length === 0) {
    return { refusal: unsupportedByFormProvider('messages', 'a conversation without a user or assistant turn') };
  }
  if (conversation.imageDetails.size > 1) {
    return { refusal: unsupportedByFormProvider('messages', 'a different image detail per image') };
  }
  return conversation;
}

function addMessage(conversation: Conversation, message: unknown): GatewayError | undefined {
  if (!isJsonObject(message)) return unsupportedByFormProvider('messages', 'a message that is not an object');
  const { role } = message;
  if (message.tool_calls !== undefined || message.function_call !== undefined) {
    return unsupportedByFormProvider('messages', 'tool calls');
  }
  if (role !== 'system' && role !== 'developer' && role !== 'user' && role !== 'assistant') {
    return unsupportedByFormProvider('messages', `a message with role ${JSON.stringify(role)}`);
  }
  const text = contentText(message.content, role === 'user' ? conversation : undefined);
  if (typeof text !== 'string') return text;
  if (role === 'system' || role === 'developer') conversation.system.push(text);
  else conversation.turns.push({ role, text });
  return undefined;
}

/** The text of a message's content; image parts (user messages only) go to the conversation's images. */
function contentText(content: unknown, images: Conversation | undefined): string | GatewayError {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return unsupportedByFormProvider('messages', 'a message without text content');
  const texts: string[] = [];
  for (const part of content) {
    if (isJsonObject(part) && part.type === 'text' && typeof part.text === 'string') {
      texts.push(part.text);
    } else if (images && isJsonObject(part) && part.type === 'image_url' && isJsonObject(part.image_url)) {
      const { url, detail } = part.image_url;
      if (typeof url !== 'string') return unsupportedByFormProvider('messages', 'an image without a url');
      images.imageUrls.push(url);
      if (typeof detail === 'string') images.imageDetails.add(detail);
    } else {
      const type = isJsonObject(part) ? JSON.stringify(part.type) : 'unknown';
      return unsupportedByFormProvider('messages', `a content part of type ${type}`);
    }
  }
  return texts.join('\n');
}

function formBody({ body }: ClientRequest, model: string, conversation: Conversation): FormBody {
  const form: FormBody = { model, prompt: promptOf(conversation.turns) };
  if (conversation.system.length > 0) form.system_prompt = conversation.system.join('\n\n');
  if (conversation.imageUrls.length > 0) form.image_urls = conversation.imageUrls;
  const [detail] = conversation.imageDetails;
  if (detail !== undefined) form.image_detail = detail;
  for (const member of CARRIED) if (body[member] !== undefined && body[member] !== null) form[member] = body[member];
  const cap = body.max_completion_tokens ?? body.max_tokens;
  if (typeof cap === 'number') form.max_completion_tokens = cap;
  const format = responseFormatType(body.response_format);
  if (format !== undefined) form.response_format = { type: format };
  return form;
}

/** One user turn is the prompt itself; a conversation is a transcript, one labelled paragraph per turn. */
function promptOf(turns: Conversation['turns']): string {
  const [only] = turns;
  if (turns.length === 1 && only?.role === 'user') return only.text;
  return turns.map(({ role, text }) => `${role === 'user' ? 'User' : 'Assistant'}: ${text}`).join('\n\n');
}
