/**
 * Shared setup for the gateway-level tiered-limit tests: a gateway whose test key sits on a tier of
 * the test's choosing, in front of fresh mock upstreams, on Redis (own key prefix per gateway, so
 * scenarios never share buckets) or in memory; plus a raw HTTP client that exposes status, headers,
 * text and parsed body of every answer.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Test } from 'tap';
import { request } from 'undici';
import { estimatePromptTokens } from '../../src/openai/prompt-tokens.js';
import { ALIAS, startGateway, type Gateway, type RawConfig } from './gateway.js';
import { parseAnswerJson, type AnswerJson } from './json.js';
import { startMockUpstream, type MockUpstream, type MockUpstreamOptions } from './mock-upstream.js';

export const messages = [{ role: 'user' as const, content: 'hi' }];
/** What the gateway reserves for `messages` besides the output cap. */
export const PROMPT_ESTIMATE = estimatePromptTokens({ messages }, 'chat');
/** The mock's real usage for an uncapped default reply: 12 prompt + 5 word tokens. */
export const MOCK_TOTAL_TOKENS = 17;

/** Where a suite runs: `redisUrl` undefined means the in-memory limiter. */
export interface Backend {
  name: string;
  redisUrl?: string;
}

export interface LimitedSetup {
  tier: Record<string, number>;
  /** Options for the primary mock (e.g. usage that matches the reservation exactly). */
  mock?: MockUpstreamOptions;
  withSecondary?: boolean;
  configure?: (raw: RawConfig) => void;
}

export interface Limited {
  gw: Gateway;
  mock: MockUpstream;
  secondary: MockUpstream | undefined;
  /** Resolves once `count` proxied requests have been settled and logged (their 'request completed' line). */
  settled(count: number): Promise<void>;
  chat(body?: Record<string, unknown>, apiKey?: string): Promise<Answer>;
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The parsed JSON object, or undefined when the body is not one (an SSE stream). */
  body: AnswerJson | undefined;
}

let prefixes = 0;

/** One Redis server's URL, or a Redis Cluster's node URLs. */
export type RedisTarget = string | string[];

export function redisSection(target: RedisTarget, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const where = typeof target === 'string' ? { url: target } : { cluster: { nodes: target } };
  return { ...where, keyPrefix: `tgtest:${process.pid}:${Date.now()}:${++prefixes}:`, ...extra };
}

/**
 * Two gateways in front of `mock` on one Redis (or one Redis Cluster) and one key prefix, so they share
 * every bucket; `configure` sets the tiers and keys of both. The caller closes them.
 */
export async function twoGatewaysOnRedis(
  redis: RedisTarget,
  mock: MockUpstream,
  configure: (raw: RawConfig) => void,
  { captureLogs = false } = {},
): Promise<{ prefix: string; instances: Gateway[] }> {
  const section = redisSection(redis);
  const instances = await Promise.all(
    [0, 1].map(() =>
      startGateway({
        primary: mock,
        captureLogs,
        configure: (raw) => {
          raw.redis = section;
          configure(raw);
        },
      }),
    ),
  );
  return { prefix: section.keyPrefix as string, instances };
}

/** A gateway for one scenario; closed with the test. */
export async function limitedGateway(t: Test, backend: Backend, setup: LimitedSetup): Promise<Limited> {
  const mock = await startMockUpstream(setup.mock);
  const secondary = setup.withSecondary ? await startMockUpstream() : undefined;
  const gw = await startGateway({
    primary: mock,
    secondary,
    captureLogs: true,
    configure: (raw) => {
      raw.tiers.limited = setup.tier;
      raw.keys[0]!.tier = 'limited';
      if (backend.redisUrl) raw.redis = redisSection(backend.redisUrl);
      setup.configure?.(raw);
    },
  });
  t.teardown(async () => {
    await gw.close();
    await mock.close();
    await secondary?.close();
  });
  const settled = (count: number) => proxiedSettled(gw, count, 5_000);
  return { gw, mock, secondary, settled, chat: (body = {}, apiKey = gw.key) => post(gw.url, body, apiKey) };
}

/**
 * Resolves once a gateway started with captureLogs has settled and logged `count` proxied requests (their
 * 'request completed' line, written after their usage was recorded).
 */
export async function proxiedSettled(gw: Gateway, count: number, timeoutMs: number): Promise<void> {
  if (count <= 0) return;
  // waitFor scans the lines already written, then new ones, in order: the predicate counts proxied lines.
  await gw.logs.waitFor((e) => e.msg === 'request completed' && e.provider !== undefined && --count <= 0, timeoutMs);
}

/** POST /v1/chat/completions (model and messages filled in unless given). */
export async function post(
  url: string,
  body: Record<string, unknown>,
  apiKey: string,
  path = '/v1/chat/completions',
): Promise<Answer> {
  const res = await request(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: ALIAS, messages, ...body }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, body: parseAnswerJson(text) };
}

/** Go-style duration (`1s`, `120ms`, `6m0s`, `2m59.56s`, `1h0m0s`) in ms; NaN when malformed. */
export function parseDuration(value: unknown): number {
  const match =
    typeof value === 'string' ? /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)s|(\d+)ms)$/.exec(value) : null;
  if (!match) return Number.NaN;
  const [, h = '0', m = '0', s = '0', ms = '0'] = match;
  return Number(h) * 3_600_000 + Number(m) * 60_000 + Math.round(Number(s) * 1_000) + Number(ms);
}

/**
 * What a bucket of `limit` per `periodMs` has refilled since `since` (a performance.now() taken before
 * the first request): the slack a test allows for its own run time, measured rather than guessed, so
 * a slow machine widens it instead of failing.
 */
export function refilledSince(since: number, limit: number, periodMs = 60_000): number {
  return Math.ceil(((performance.now() - since) * limit) / periodMs);
}

/** A header as a number (NaN when absent). */
export const num = (headers: IncomingHttpHeaders | Headers, name: string): number => {
  const value = headers instanceof Headers ? headers.get(name) : headers[name];
  return typeof value === 'string' && value !== '' ? Number(value) : Number.NaN;
};

/** OpenAI's envelope: exactly message, type, param, code. */
export function assertEnvelope(
  t: Test,
  body: AnswerJson | undefined,
  expected: Record<string, unknown>,
  label: string,
): void {
  t.same(
    Object.keys(body?.error ?? {}).sort(),
    ['code', 'message', 'param', 'type'],
    `${label}: OpenAI error envelope`,
  );
  t.match(body?.error, expected, `${label}: error fields`);
}

/** Sends requests one after another until the first refusal; returns the successes and that refusal. */
export async function exhaust(limited: Limited, max: number): Promise<{ passed: number; refusal: Answer }> {
  for (let passed = 0; passed < max; passed++) {
    const answer = await limited.chat();
    if (answer.status !== 200) return { passed, refusal: answer };
  }
  throw new Error(`no refusal within ${max} requests`);
}
