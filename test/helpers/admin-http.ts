/**
 * End-to-end helpers for the admin API and usage accounting: an HTTP admin client (plain fetch, as an
 * operator's script would call it), usage queries around today, and the cost a usage should have.
 *
 *   const admin = adminApi(gw.url, ADMIN_TOKEN);
 *   const { body: created } = await admin.call('POST', '/keys', { name: 'alice', tier: 'tier-1' });
 *   await flushUsage(gw);
 *   const rows = await admin.usage({ groupBy: 'model' });
 */
import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import type { Gateway, RawConfig } from './gateway.js';
import { parseAnswerJson, type AnswerJson } from './json.js';
import { startMockUpstream, type MockUpstream } from './mock-upstream.js';
import { startRedis, type RedisServer } from './redis.js';
import type { UsageRow } from '../../src/usage/usage-store.js';
import { zeroUsageCounters } from './usage-counters.js';

export const ADMIN_TOKEN = 'tg-admin-e2e-token-0123456789abcdef';

/** gpt-4.1-nano, USD per 1M tokens (the helper gateway's pricing). */
export const PRICING = { input: 0.1, cachedInput: 0.025, output: 0.4 } as const;

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed JSON object, or undefined when the body is not one. */
  body: AnswerJson | undefined;
}

/** POST /admin/keys's answer: the record, with the plaintext key shown this once. */
export interface CreatedKey {
  id: string;
  key: string;
  [field: string]: unknown;
}

/** A row of GET /admin/usage as JSON: the store's row as it is. */
export type UsageRowJson = UsageRow;

export interface AdminApi {
  call(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<HttpResult>;
  /** GET /admin/usage from yesterday to tomorrow (UTC) unless given; throws unless 200. */
  usage(params?: Record<string, string>): Promise<UsageRowJson[]>;
  /** POST /admin/keys; throws unless 201. */
  createKey(input: Record<string, unknown>): Promise<CreatedKey>;
}

export async function http(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<HttpResult> {
  const headers = { ...init.headers };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: parseAnswerJson(text) };
}

export function adminApi(baseUrl: string, token = ADMIN_TOKEN): AdminApi {
  const call: AdminApi['call'] = (method, path, body, headers = { authorization: `Bearer ${token}` }) =>
    http(`${baseUrl}/admin${path}`, { method, headers, body });
  return {
    call,
    async usage(params = {}) {
      const query = new URLSearchParams({ from: utcDay(-1), to: utcDay(1), ...params });
      const res = await call('GET', `/usage?${query}`);
      if (res.status !== 200) throw new Error(`GET /admin/usage answered ${res.status}: ${res.text}`);
      return res.body?.data as UsageRowJson[];
    },
    async createKey(input) {
      const res = await call('POST', '/keys', input);
      if (res.status !== 201) throw new Error(`POST /admin/keys answered ${res.status}: ${res.text}`);
      return res.body as CreatedKey;
    },
  };
}

/**
 * A Redis key prefix of its own (config `redis.keyPrefix`), so a file's gateways see only their own
 * keys and usage even on a Redis shared with other test files (REDIS_URL in CI).
 */
/** A `configure` for startGateway: admin API on, usage and keys in Redis under their own prefix. */
export const adminOnRedis = (url: string, keyPrefix: string) => (raw: RawConfig): void => {
  raw.admin = { token: ADMIN_TOKEN };
  raw.redis = { url, keyPrefix };
};

/**
 * A mock upstream and a private Redis for one test file, with a key prefix of its own. Registered
 * first, torn down last (tap runs teardowns in reverse), after the gateways that use them.
 */
export async function upstreamAndRedis(
  t: Test,
  label: string,
): Promise<{ mock: MockUpstream; redis: RedisServer; prefix: string }> {
  const mock = await startMockUpstream();
  const redis = await startRedis();
  t.teardown(async () => {
    await mock.close();
    await redis.stop();
  });
  return { mock, redis, prefix: uniquePrefix(label) };
}

export const uniquePrefix = (label: string): string => `tg-e2e:${label}:${randomBytes(4).toString('hex')}:`;

/** YYYY-MM-DD, UTC, `offsetDays` from today. */
export function utcDay(offsetDays = 0): string {
  return new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);
}

/** Waits until every usage event the gateways recorded so far is in their store. */
export async function flushUsage(...gateways: Gateway[]): Promise<void> {
  await Promise.all(gateways.map((gw) => gw.app.usage.store.flush()));
}

export interface TokenCounts {
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  reasoningTokens: number;
}

/** What the usage should cost at PRICING, computed independently of src/usage/cost.ts. */
export function expectedCostUsd(u: TokenCounts): number {
  return (
    ((u.promptTokens - u.cachedTokens) * PRICING.input +
      u.cachedTokens * PRICING.cachedInput +
      u.completionTokens * PRICING.output) /
    1e6
  );
}

/** Field-wise sum of token counts and request counts. */
export function sumUsage(list: TokenCounts[]): TokenCounts & { requests: number } {
  const total = { requests: list.length, promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 };
  for (const u of list) {
    total.promptTokens += u.promptTokens;
    total.cachedTokens += u.cachedTokens;
    total.completionTokens += u.completionTokens;
    total.reasoningTokens += u.reasoningTokens;
  }
  return total;
}

/** Sums usage rows (e.g. the rows of one key across days, robust to a UTC midnight mid-test). */
export function sumRows(rows: UsageRowJson[]): Omit<UsageRowJson, 'day' | 'keyId' | 'model'> {
  const total = zeroUsageCounters();
  for (const row of rows) {
    for (const field of Object.keys(total) as (keyof typeof total)[]) total[field] += row[field];
  }
  return total;
}

/** Polls `check` every `everyMs` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function poll<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
