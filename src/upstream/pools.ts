/**
 * One keep-alive undici Pool per upstream origin, shared by every request; closed with the app. A pool
 * opens connections as concurrent requests need them, up to `connectionsPerOrigin` (config.ts: sized
 * for streams, each of which holds its connection to the end), and closes them after 30 s idle.
 */
import { Pool } from 'undici';
import type { Config } from '../config.js';

export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly settings: Config['upstream']) {}

  get(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.settings.connectionsPerOrigin,
        connectTimeout: this.settings.connectTimeoutMs,
        headersTimeout: this.settings.headersTimeoutMs,
        bodyTimeout: this.settings.bodyTimeoutMs,
        keepAliveTimeout: 30_000,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.close()));
    this.pools.clear();
  }
}
