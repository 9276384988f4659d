/** The slice of autocannon 9's programmatic API the bench uses (the package ships no types). */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  interface RequestData {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
  }
  interface Options {
    url: string;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    connections?: number;
    duration?: number;
    /** setupRequest runs before every request and may change it (a new body, other headers). */
    requests?: Array<{ setupRequest?: (request: RequestData) => RequestData }>;
  }
  interface Stats { average: number; mean: number; p50: number; p99: number }
  interface Result {
    requests: Stats & { total: number };
    latency: Stats;
    errors: number;
    timeouts: number;
    non2xx: number;
    '2xx': number;
  }
  /** Emits `response` (client, statusCode, resBytes, responseTime in fractional ms) per response. */
  type Instance = EventEmitter & PromiseLike<Result>;
  export default function autocannon(options: Options): Instance;
}
