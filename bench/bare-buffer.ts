/**
 * The buffering floor: what a Node proxy that reads JSON answers whole, as tollgate does, cannot go
 * below. node:http in, one undici Pool out, the answer read with `body.arrayBuffer()` and sent with
 * one `res.end(buffer)`. Streams (text/event-stream) are piped through as they arrive: no proxy can
 * buffer SSE. bare-proxy.ts pipes every answer; piping a small JSON answer costs more in stream
 * machinery and GC than buffering it, so this one is the primary floor for CPU per request. Mock
 * origin in argv[2].
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
    const type = String(upstream.headers['content-type'] ?? 'application/json');
    res.writeHead(upstream.statusCode, { 'content-type': type });
    if (type.startsWith('text/event-stream')) {
      upstream.body.pipe(res);
      return;
    }
    res.end(Buffer.from(await upstream.body.arrayBuffer()));
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
