/**
 * The bridge: a Responses request served by a provider that speaks only Chat Completions. It wraps the
 * provider's chat dialect (openai or form-schema): the request becomes a chat body
 * (responses-request.ts), which the chat dialect then writes for its provider as it writes any chat
 * request (the OpenAI dialect asks a stream for its usage chunk, the form dialect maps on or refuses).
 * Answers are chat-shaped whichever it is, so the bridge translates them itself: a whole
 * `chat.completion` into a Response object (responses-answer.ts), a chunk stream into Responses events
 * as it arrives (responses-stream.ts). The Response id is tollgate's own (`resp_…`), which the
 * exchange keeps the record under; `previous_response_id` is the client's, echoed.
 */
import { topLevelMembers } from '../openai/json-scan.js';
import type { ProxyBody } from '../openai/request-body.js';
import { normaliseUsage } from '../openai/usage.js';
import { isJsonObject } from '../openai/json-object.js';
import type { Dialect } from './dialect.js';
import { responseOfChatCompletion } from './responses-answer.js';
import { chatBodyOf } from './responses-request.js';
import { ChatToResponsesStream } from './responses-stream.js';

export function responsesOverChat(chat: Dialect): Dialect {
  return {
    upstreamBody(request, model) {
      const mapped = chatBodyOf(request, model);
      if ('refusal' in mapped) return mapped;
      const json = Buffer.from(JSON.stringify(mapped.chat));
      const members = topLevelMembers(json)?.members ?? [];
      return chat.upstreamBody({ endpoint: 'chat', body: mapped.chat as ProxyBody, json, members }, model);
    },

    clientAnswer(request, _body, json) {
      const response = responseOfChatCompletion(request, json);
      const usage = normaliseUsage(isJsonObject(json) ? json.usage : undefined);
      return { body: Buffer.from(JSON.stringify(response)), usage, response };
    },

    clientStream(request) {
      return new ChatToResponsesStream(request);
    },
  };
}
