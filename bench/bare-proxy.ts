/**
 * The floor for any Node proxy (docs/contract.md §17): read the body, forward it with undici
 * Pool.request to the mock, pipe the answer back with its status and content-type. Nothing else. Mock
 * origin in argv[2].
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { announce } from './common.js';

const pool = new Pool(process.argv[2]!, { connections: 128, keepAliveTimeout: 30_000 }); // as tollgate's default

const server = http.createServer(async (req, res) => {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  try {
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
    res.writeHead(502).end();
  }
});

server.listen(0, '127.0.0.1', () => {
  announce((server.address() as AddressInfo).port, async () => {
    server.closeAllConnections();
    server.close();
    await pool.close();
  });
});
