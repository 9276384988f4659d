/**
 * What both floors share (bare-proxy.ts, bare-buffer.ts): node:http in, one undici Pool to the mock
 * (origin in argv[2]) out, the request body read whole and forwarded; `answer` sends the upstream
 * answer back. Nothing else, so a floor is only its way of answering.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import { announce } from './common.js';
import { startProbe } from './probe.js';

export async function serveFloor(
  answer: (upstream: Dispatcher.ResponseData, res: http.ServerResponse) => Promise<void> | void,
): Promise<void> {
  // No connection cap: the floor never queues a stream behind another (the slow-streams run).
  const pool = new Pool(process.argv[2]!, { keepAliveTimeout: 30_000 });
  const server = http.createServer(async (req, res) => {
    // Reading the body is inside the try: a client that hangs up mid-upload (autocannon stopping at
    // the end of a run with a 4 MB body) must not take the process down.
    try {
      const parts: Buffer[] = [];
      for await (const part of req) parts.push(part as Buffer);
      const upstream = await pool.request({
        method: 'POST',
        path: req.url!,
        headers: { 'content-type': 'application/json' },
        body: Buffer.concat(parts),
      });
      await answer(upstream, res);
    } catch {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    }
  });
  await startProbe();
  server.listen(0, '127.0.0.1', () => {
    announce((server.address() as AddressInfo).port, async () => {
      server.closeAllConnections();
      server.close();
      await pool.close();
    });
  });
}
