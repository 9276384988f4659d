/**
 * A bench target's side channel: a second HTTP server on loopback (its port printed as `PROBE <n>`
 * before `PORT <n>`, processes.ts) that the bench asks, between load runs, what the target's own
 * event loop and heap look like. No admin surface of tollgate is used or needed.
 *  - `GET /heap`: runs gc() twice (the target runs with --expose-gc) and answers heapUsed in bytes,
 *    the heap the live objects hold, garbage excluded.
 *  - `POST /loop/start`, then `GET /loop/stop`: the longest event-loop block in between, in ms. The
 *    1 ms histogram runs only between the two: its timer would otherwise add to every CPU figure.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const collect = (globalThis as { gc?: () => void }).gc;
let loop: ReturnType<typeof monitorEventLoopDelay> | undefined;

function route(method: string | undefined, url: string | undefined): string | undefined {
  if (method === 'GET' && url === '/heap') {
    if (!collect) return 'NaN';
    collect();
    collect();
    return String(process.memoryUsage().heapUsed);
  }
  if (method === 'POST' && url === '/loop/start') {
    loop?.disable();
    loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    return '';
  }
  if (method === 'GET' && url === '/loop/stop' && loop) {
    loop.disable();
    const maxMs = loop.max / 1e6;
    loop = undefined;
    return String(maxMs);
  }
  return undefined;
}

/** Starts the probe and prints `PROBE <port>`; call before announce(). */
export async function startProbe(): Promise<void> {
  const server = http.createServer((req, res) => {
    req.resume().once('end', () => {
      const answer = route(req.method, req.url);
      res.writeHead(answer === undefined ? 404 : 200).end(answer ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  console.log(`PROBE ${(server.address() as AddressInfo).port}`);
}
