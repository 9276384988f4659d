/**
 * The bridge's events against a real OpenAI Responses stream (test/helpers/fixtures/openai-responses-stream.sse,
 * see its .md): for a text answer, the same event types in the same order, and for each type the same
 * top-level members. Values differ; `obfuscation` (OpenAI's random padding) is not compared: the bridge
 * does not send it.
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'tap';
import { openaiDialect } from '../../../src/dialects/openai.js';
import { responsesOverChat } from '../../../src/dialects/responses-over-chat.js';
import { responsesRequest } from './bridge-request.js';
import { textStream } from './chat-chunks.js';

const recorded = readFileSync(new URL('../../helpers/fixtures/openai-responses-stream.sse', import.meta.url), 'utf8');

/** Each event's type and sorted top-level member names, obfuscation left out. */
function shapes(text: string): string[] {
  return text.split(/\n\n/).filter(Boolean).map((block) => {
    const data = JSON.parse(block.split('\n')[1]!.slice('data: '.length)) as Record<string, unknown>;
    return `${String(data.type)}: ${Object.keys(data).filter((key) => key !== 'obfuscation').sort().join(',')}`;
  });
}

test('a bridged text answer has the shape of a recorded OpenAI Responses stream', async (t) => {
  const words = ['Greetings', ',', ' hello', ',', ' hi', ',', ' hey', ',', ' sal', 'utations', '!'];
  const request = responsesRequest({ model: 'alias', input: 'Hi', stream: true });
  const tap = responsesOverChat(openaiDialect).clientStream(request);
  const out: Buffer[] = [];
  tap.on('data', (piece: Buffer) => out.push(piece));
  await pipeline(Readable.from([Buffer.from(textStream(words).join(''))]), tap);
  t.same(shapes(Buffer.concat(out).toString()), shapes(recorded));
});
