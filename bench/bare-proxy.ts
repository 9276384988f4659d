/**
 * The piping floor for any Node proxy (docs/contract.md §17): read the body, forward it with undici
 * Pool.request to the mock, pipe the answer back with its status and content-type. Nothing else
 * (floor.ts). bare-buffer.ts is the floor for a proxy that reads JSON answers whole.
 */
import { serveFloor } from './floor.js';

await serveFloor((upstream, res) => {
  res.writeHead(upstream.statusCode, {
    'content-type': String(upstream.headers['content-type'] ?? 'application/json'),
  });
  upstream.body.pipe(res);
});
