/**
 * Reading an upstream's successful JSON answer before anything is sent to the client, up to two
 * bounds. An answer that fits is checked (complete and valid JSON), so a broken one can still fall
 * through to the next route; a larger one stops being read at the bound and is relayed as a stream
 * from there. One answer never holds more than `perAnswerBytes`, and all the answers being read at
 * once never more than `totalBytes` together: past it, the next chunk of any answer turns that answer
 * into a stream, so many concurrent large answers cost a known amount of memory, not N times the bound.
 */
import type { Dispatcher } from 'undici';

export type AnswerRead =
  /** The whole answer, valid JSON, with its parsed value (for the usage). */
  | { kind: 'whole'; body: Buffer; json: unknown }
  /** Larger than the bound: what was read so far; the rest is still to come on the response body (paused). */
  | { kind: 'large'; head: Buffer[] }
  /** Not usable: the body broke off, or it is not JSON. */
  | { kind: 'broken'; cause: 'body_cut' | 'invalid_json'; err?: unknown };

export class AnswerBuffers {
  #held = 0;

  constructor(
    readonly perAnswerBytes: number,
    readonly totalBytes: number,
  ) {}

  read(body: Dispatcher.ResponseData['body']): Promise<AnswerRead> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const stop = (read: AnswerRead) => {
        body.off('data', onData).off('end', onEnd).off('error', onError);
        this.#held -= size; // read: the answer is sent (or dropped) right away, or streams from here
        resolve(read);
      };
      const onData = (chunk: Buffer) => {
        chunks.push(chunk);
        const fits = size + chunk.length <= this.perAnswerBytes && this.#held + chunk.length <= this.totalBytes;
        if (fits) {
          size += chunk.length;
          this.#held += chunk.length;
          return;
        }
        body.pause();
        stop({ kind: 'large', head: chunks });
      };
      const onEnd = () => stop(parsed(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
      const onError = (err: unknown) => stop({ kind: 'broken', cause: 'body_cut', err });
      body.on('data', onData).once('end', onEnd).once('error', onError);
    });
  }
}

function parsed(body: Buffer): AnswerRead {
  try {
    return { kind: 'whole', body, json: JSON.parse(body.toString('utf8')) };
  } catch {
    return { kind: 'broken', cause: 'invalid_json' };
  }
}
