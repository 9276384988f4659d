/**
 * The buffering floor: what a Node proxy that reads JSON answers whole, as tollgate does, cannot go
 * below. node:http in, one undici Pool out (floor.ts), the answer read with `body.arrayBuffer()` and
 * sent with one `res.end(buffer)`. Streams (text/event-stream) are piped through as they arrive: no
 * proxy can buffer SSE. bare-proxy.ts pipes every answer; piping a small JSON answer costs more in
 * stream machinery and GC than buffering it, so this one is the primary floor for CPU per request.
 */
import { serveFloor } from './floor.js';

await serveFloor(async (upstream, res) => {
  const type = String(upstream.headers['content-type'] ?? 'application/json');
  res.writeHead(upstream.statusCode, { 'content-type': type });
  if (type.startsWith('text/event-stream')) {
    upstream.body.pipe(res);
    return;
  }
  res.end(Buffer.from(await upstream.body.arrayBuffer()));
});
