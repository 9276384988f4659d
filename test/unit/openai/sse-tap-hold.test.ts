// SseTap on a native Responses stream: the terminal event waits for the exchange to keep its response.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { SseTap } from '../../../src/openai/sse-tap.js';
import type { ResponseObject } from '../../../src/responses/stored-response.js';

const fixture = new URL('../../helpers/fixtures/openai-responses-stream.sse', import.meta.url);
/** The recorded stream, its last event closed as a live stream closes it. */
const recorded = readFileSync(fixture, 'utf8') + '\n\n';

t.test('the chunk with response.completed is passed on once keep settled, byte for byte', async (t) => {
  for (const outcome of ['resolve', 'reject'] as const) {
    const tap = new SseTap({ endpoint: 'responses', stripUsageChunk: false });
    let keepCalled!: () => void;
    const keeping = new Promise<void>((resolve) => (keepCalled = resolve));
    let settle!: () => void;
    const kept: ResponseObject[] = [];
    tap.holdTerminalEvent((response) => {
      kept.push(response);
      keepCalled();
      return new Promise<void>((resolve, reject) => {
        settle = outcome === 'resolve' ? resolve : () => reject(new Error('store down'));
      });
    });
    const out: Buffer[] = [];
    tap.on('data', (piece: Buffer) => out.push(piece));
    const ended = new Promise((resolve) => tap.on('end', resolve));
    const cut = recorded.indexOf('event: response.completed');
    tap.write(recorded.slice(0, cut));
    tap.end(recorded.slice(cut));
    await keeping;
    t.equal(Buffer.concat(out).toString(), recorded.slice(0, cut), `${outcome}: everything before it passed`);
    t.equal(kept[0]?.id, 'resp_045d5195f1ed9f940068ff5b16458c8197acc79be8346cd880');
    t.same(tap.response, kept[0]);
    settle();
    await ended;
    t.equal(Buffer.concat(out).toString(), recorded, `${outcome}: then the rest, unchanged`);
    t.equal(tap.completed, true);
  }
});
