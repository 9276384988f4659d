/**
 * Whether Redis answers, in words an operator reads on /readyz (docs/contract.md §15): "ok",
 * "unreachable since 2026-12-02T14:03:11Z (connection refused)" while the connection is down, or
 * "not answering since … (no reply within 500 ms)" when it is up but Redis is stalled. The client's own
 * events say when the connection went away and why; a PING says whether a connected Redis answers.
 */
import type { EventEmitter } from 'node:events';

/** The part of an ioredis client this reads. */
export interface RedisConnection extends EventEmitter {
  readonly status: string;
  ping(): Promise<unknown>;
}

/** Connection errors as words; other errors are named by their code. */
const CAUSES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection broken',
  ETIMEDOUT: 'connect timed out',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

export class RedisReachability {
  /** When Redis stopped answering; undefined while it answers. Until the first 'ready', since start-up. */
  #downSince: Date | undefined;
  #cause = 'not connected yet';

  constructor(
    private readonly client: RedisConnection,
    private readonly commandTimeoutMs: number,
    private readonly now: () => Date = () => new Date(),
  ) {
    if (client.status !== 'ready') this.#downSince = now();
    client.on('ready', () => {
      this.#downSince = undefined;
    });
    // Every failed reconnect also ends in 'close', after the 'error' that says why: only the first counts.
    client.on('close', () => {
      if (this.#downSince) return;
      this.#downSince = this.now();
      this.#cause = 'connection closed';
    });
    client.on('error', (err: Error) => {
      this.#cause = this.describe(err);
    });
  }

  /** "ok", or what is wrong and since when. */
  async check(): Promise<{ ok: boolean; words: string }> {
    if (this.client.status !== 'ready') {
      return { ok: false, words: `unreachable since ${this.since()} (${this.#cause})` };
    }
    try {
      await this.client.ping();
      this.#downSince = undefined;
      return { ok: true, words: 'ok' };
    } catch (err) {
      return { ok: false, words: `not answering since ${this.since()} (${this.describe(err as Error)})` };
    }
  }

  private since(): string {
    this.#downSince ??= this.now();
    return this.#downSince.toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  private describe(err: Error): string {
    const code = (err as NodeJS.ErrnoException).code;
    if (code && CAUSES[code]) return CAUSES[code];
    if (/timed out/i.test(err.message)) return `no reply within ${this.commandTimeoutMs} ms`;
    if (/^(NOAUTH|WRONGPASS)/.test(err.message)) return 'authentication failed';
    return code ?? err.message;
  }
}
