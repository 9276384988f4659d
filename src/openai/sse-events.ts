/**
 * Finding the events of an SSE stream as its bytes arrive, and reading their data, for every tap and
 * translator of upstream streams (sse-tap.ts, the Responses-over-chat bridge). (docs/wire.md §4.1, §5.1)
 */
import { StringDecoder } from 'node:string_decoder';

/**
 * SSE events end at a blank line; OpenAI sends LF, some proxies CRLF. The SDK also splits on bare CR line
 * ends; this pattern does not, so such a stream is relayed but its events go unseen (docs/wire.md §4.1).
 */
const EVENT_END = /\r?\n\r?\n/;
/**
 * An event longer than this (no blank line in 1M characters) is not inspected, so a hostile upstream
 * cannot make a tap hold its whole answer.
 */
const MAX_EVENT_CHARS = 1024 * 1024;

export class SseEventSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private text = '';

  /** Text received after the last whole event (an event still arriving). */
  get pending(): string {
    return this.text;
  }

  /**
   * The events the chunk completed, each with its blank line, in order. `overlong`: text of an event
   * that outgrew MAX_EVENT_CHARS, given up on (the caller decides whether it is passed on).
   */
  write(chunk: Buffer): { events: string[]; overlong?: string } {
    // Only the new text (and the 3 characters before it, a split "\r\n\r\n") can hold a new event end.
    let from = Math.max(0, this.text.length - 3);
    this.text += this.decoder.write(chunk);
    const events: string[] = [];
    let match: RegExpExecArray | null;
    while ((match = EVENT_END.exec(this.text.slice(from))) !== null) {
      const end = from + match.index + match[0].length;
      events.push(this.text.slice(0, end));
      this.text = this.text.slice(end);
      from = 0;
    }
    if (this.text.length <= MAX_EVENT_CHARS) return { events };
    const overlong = this.text;
    this.text = '';
    return { events, overlong };
  }

  /** What is left once the stream ended: an event without its blank line, if any. */
  end(): string {
    this.text += this.decoder.end();
    const rest = this.text;
    this.text = '';
    return rest;
  }

  /** Forgets the event still arriving (a stream that broke off cannot complete it). */
  discard(): void {
    this.text = '';
  }
}

/** An event's data lines, joined per the SSE spec (one optional space after the colon); undefined without any. */
export function eventData(event: string): string | undefined {
  const lines = event.split(/\r?\n/).filter((line) => line.startsWith('data:'));
  if (lines.length === 0) return undefined;
  return lines.map((line) => line.slice(line.startsWith('data: ') ? 6 : 5)).join('\n');
}

/** The JSON of an event's data; undefined if it is not JSON. */
export function parseData(event: string): Record<string, unknown> | undefined {
  const payload = eventData(event);
  if (payload === undefined) return undefined;
  try {
    return JSON.parse(payload);
  } catch {
    return undefined;
  }
}
