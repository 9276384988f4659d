// Many concurrent streams on the default config: every stream holds its upstream connection until it
// ends, so a stream past the per-origin connection bound would wait for a whole earlier one. The mock
// answers nothing until every stream's request reached it: with a bound below STREAMS (the old default
// of 128) the later requests never arrive and no stream ever starts; with streams sized for, all do.
import t from 'tap';
import { startGateway } from '../../helpers/gateway.js';
import { DEFAULT_TEXT, startMockUpstream } from '../../helpers/mock-upstream.js';

/** More than the old default bound of 128 connections per upstream origin. */
const STREAMS = 300;

const mock = await startMockUpstream();
const gw = await startGateway({ primary: mock });
t.teardown(async () => {
  await gw.close();
  await mock.close();
});

t.test(`${STREAMS} concurrent streams to one upstream all start, on the default config`, async (t) => {
  t.equal(gw.config.upstream.connectionsPerOrigin >= STREAMS, true, 'the default bound is above the streams');
  let arrived = 0;
  let everyoneArrived!: () => void;
  const barrier = new Promise<void>((resolve) => { everyoneArrived = resolve; });
  mock.behave(async () => {
    if (++arrived === STREAMS) everyoneArrived();
    await barrier; // no answer, not even headers, until every request holds its own upstream connection
    return { kind: 'ok' };
  });
  const client = gw.client();
  const texts = await Promise.all(Array.from({ length: STREAMS }, async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4.1-nano',
      messages: [{ role: 'user', content: 'hello' }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    return text;
  }));
  t.equal(arrived, STREAMS, 'every request reached the upstream');
  t.equal(texts.filter((text) => text === DEFAULT_TEXT).length, STREAMS, 'every stream arrived whole');
});
