/**
 * An answer as server-sent events, in three parts so the demo upstream can pace only the words
 * (docs/wire.md §4.1 data-only chat chunks, §5.1 named Responses events).
 */
export interface StreamedAnswer {
  /** Sent at once: the opening events. */
  head: string[];
  /** One event per word, sent a few milliseconds apart, as a model would. */
  words: string[];
  /** Sent at once after the last word: the closing events, usage, the end of the stream. */
  tail: string[];
}

/** A Chat Completions event: `data:` only. */
export const dataEvent = (payload: unknown): string => `data: ${JSON.stringify(payload)}\n\n`;

/** A Responses event: its type named on an `event:` line and repeated in the JSON. */
export const namedEvent = (payload: { type: string; [member: string]: unknown }): string =>
  `event: ${payload.type}\ndata: ${JSON.stringify(payload)}\n\n`;
