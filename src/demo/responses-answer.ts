/**
 * The demo upstream's Responses answers: a Response object, or its event stream with one
 * `response.output_text.delta` per word, numbered by `sequence_number` from 0 and ending with
 * `response.completed`, which carries the usage (docs/wire.md §5.1–§5.3, §6.1). The Response object
 * is the one the gateway's own bridge builds (src/dialects/responses-answer.ts), so both kinds of
 * answer echo the request's settings the same way.
 */
import type { ClientRequest } from '../dialects/dialect.js';
import {
  messageItem,
  outputTextPart,
  responseObject,
  unixNow,
  type BridgedAnswer,
} from '../dialects/responses-answer.js';
import { newId } from '../responses/items.js';
import type { ResponseObject } from '../responses/stored-response.js';
import type { EchoAnswer } from './echo.js';
import { namedEvent, type StreamedAnswer } from './sse-frames.js';

function finished(request: ClientRequest, answer: EchoAnswer, messageId: string): BridgedAnswer {
  return {
    id: newId('resp'),
    createdAt: unixNow(),
    model: request.body.model,
    output: [messageItem(messageId, 'completed', [outputTextPart(answer.text)])],
    finishReason: 'stop',
    usage: answer.usage,
  };
}

export function response(request: ClientRequest, answer: EchoAnswer): ResponseObject {
  return responseObject(request, finished(request, answer, newId('msg')));
}

export function responseStream(request: ClientRequest, answer: EchoAnswer): StreamedAnswer {
  const messageId = newId('msg');
  const done = finished(request, answer, messageId);
  const opening = responseObject(request, { ...done, output: [] }, 'in_progress');
  const item = done.output[0]!;
  const at = { item_id: messageId, output_index: 0, content_index: 0 };
  let sequence = 0;
  const event = (type: string, members: object) => namedEvent({ type, sequence_number: sequence++, ...members });
  return {
    head: [
      event('response.created', { response: opening }),
      event('response.in_progress', { response: opening }),
      event('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } }),
      event('response.content_part.added', { ...at, part: outputTextPart('') }),
    ],
    words: answer.words.map((delta) => event('response.output_text.delta', { ...at, delta, logprobs: [] })),
    // Members are evaluated in order, so these sequence numbers follow on from the words'.
    tail: [
      event('response.output_text.done', { ...at, text: answer.text, logprobs: [] }),
      event('response.content_part.done', { ...at, part: outputTextPart(answer.text) }),
      event('response.output_item.done', { output_index: 0, item }),
      event('response.completed', { response: responseObject(request, done) }),
    ],
  };
}
