/**
 * The piping floor for any Node proxy (docs/contract.md §17): read the body, forward it with undici
 * Pool.request to the mock, pipe the answer back with its status and content-type. Nothing else. Mock
 * origin in argv[2]. (bare-buffer.ts is the floor for a proxy that reads JSON answers whole.)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { announce } from './common.js';
import { startProbe } from './probe.js';

// No connection cap: the floor never queues a stream behind another (the slow-streams run).
const pool = new Pool(process.argv[2]!, { keepAliveTimeout: 30_000 });

const server = http.createServer(async (req, res) => {
  // Reading the body is inside the try: a client that hangs up mid-upload (autocannon stopping at the
  // end of a run with a 4 MB body) must not take the process down.
  try {
    const parts: Buffer[] = [];
    for await (const part of req) parts.push(part as Buffer);
    const upstream = await pool.request({
      method: 'POST',
      path: req.url!,
      headers: { 'content-type': 'application/json' },
      body: Buffer.concat(parts),
    });
    res.writeHead(upstream.statusCode, {
      'content-type': String(upstream.headers['content-type'] ?? 'application/json'),
    });
    upstream.body.pipe(res);
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
