/**
 * An abort signal for the upstream request that fires when the client disconnects. undici accepts an
 * EventEmitter as `signal`; it is several times cheaper per request than an AbortController and its
 * EventTarget machinery.
 */
import { EventEmitter } from 'node:events';

/** The part of the client's response (a node:http ServerResponse) that tells whether it went away. */
export interface ClientResponse {
  readonly writableFinished: boolean;
  once(event: 'close', listener: () => void): unknown;
}

export class ClientGone extends EventEmitter {
  /** Not named `aborted`: undici treats any object with that property as an AbortSignal. */
  gone = false;

  constructor(response: ClientResponse) {
    super();
    response.once('close', () => {
      if (response.writableFinished) return;
      this.gone = true;
      this.emit('abort');
    });
  }
}
