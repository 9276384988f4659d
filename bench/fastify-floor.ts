/**
 * The floor for a Fastify proxy: one route that parses the JSON body, forwards it with undici
 * Pool.request, reads the answer whole and sends it with reply.send(buffer). No hooks, no logger, no
 * plugins. tollgate against it is tollgate's own cost; it against bare is the framework's. Mock origin
 * in argv[2]. Streams are buffered too, so its stream timings are not comparable. (Sending the upstream
 * body as a stream instead, reply.send(stream), costs a Fastify route ~0.55× of bare's CPU more on this
 * box, which is why tollgate buffers JSON answers.)
 */
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { announce } from './common.js';

const pool = new Pool(process.argv[2]!, { connections: 128, keepAliveTimeout: 30_000 }); // as tollgate's default
const app = Fastify({ logger: false });

app.post('/v1/chat/completions', async (request, reply) => {
  const upstream = await pool.request({
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request.body),
  });
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    upstream.body
      .on('data', (chunk: Buffer) => chunks.push(chunk))
      .once('error', reject)
      .once('end', () => resolve(Buffer.concat(chunks)));
  });
  reply.code(upstream.statusCode).header('content-type', upstream.headers['content-type']);
  return reply.send(body);
});

await app.listen({ host: '127.0.0.1', port: 0 });
announce((app.server.address() as AddressInfo).port, async () => {
  await app.close();
  await pool.close();
});
