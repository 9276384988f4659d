/** The request bodies run.ts sends: a repeated prompt, a new prompt every request, chat histories by size. */
import { BENCH_KEY, BENCH_MODEL, spreadKey } from './common.js';

/** The same short prompt every time: tollgate's token cache answers its estimate. */
export const chatBody = JSON.stringify({
  model: BENCH_MODEL,
  messages: [{ role: 'user', content: 'Say hello to the benchmark.' }],
});

export const streamBody = (includeUsage: boolean) =>
  JSON.stringify({
    ...JSON.parse(chatBody),
    stream: true,
    ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
  });

const WORDS = (
  'the of and to in is you that it he was for on are as with his they at be this have from or one had by ' +
  'word but not what all were we when your can said there use an each which she do how their if will up ' +
  'other about out many then them these so some her would make like him into time has look two more write ' +
  'go see number no way could people my than first water been call who oil its now find long down day did'
).split(' ');

let sent = 0;

/**
 * A user text never sent before, 200–800 characters (a counter and random words), as real traffic
 * is: the token cache misses on every request.
 */
export function uniquePrompt(): string {
  const length = 200 + Math.floor(Math.random() * 600);
  let text = `Request ${++sent}:`;
  while (text.length < length) text += ` ${WORDS[Math.floor(Math.random() * WORDS.length)]}`;
  return text;
}

export const uniqueChat = () => ({
  body: JSON.stringify({ model: BENCH_MODEL, messages: [{ role: 'user', content: uniquePrompt() }] }),
});

/** The repeated prompt, each request on the next of `keys` keys (tollgate-server.ts BENCH_KEYS). */
export function spreadChat(keys: number): () => { body: string; headers: Record<string, string> } {
  let next = 0;
  return () => ({ body: chatBody, headers: { authorization: `Bearer ${spreadKey(next++ % keys)}` } });
}

/**
 * A chat history of about `kb` KB of JSON, turns alternating user and assistant, in mixed scripts
 * with escaped quotes as chat histories have (an all-ASCII text would flatter every UTF-8 pass).
 */
export function chatHistory(kb: number): string {
  const sentence = 'The quick brown fox jumps over the lazy dog, "quoted" twice. 日本語のテキストも少し。 Ünïcödé, émigré. ';
  const target = kb * 1024;
  const perTurn = Math.max(1, Math.min(40, Math.round(target / Buffer.byteLength(JSON.stringify(sentence)))));
  const text = sentence.repeat(perTurn);
  const turns = Math.max(1, Math.round(target / Buffer.byteLength(JSON.stringify(text))));
  const messages = Array.from({ length: turns }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: text }));
  return JSON.stringify({ model: BENCH_MODEL, messages });
}

export const tollgateHeaders = { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` };
