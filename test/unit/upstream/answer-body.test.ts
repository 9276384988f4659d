import { PassThrough } from 'node:stream';
import t from 'tap';
import type { Dispatcher } from 'undici';
import { AnswerBuffers } from '../../../src/upstream/answer-body.js';

/** An upstream answer body the test writes into, as undici's response body would deliver it. */
const answerBody = () => new PassThrough() as unknown as Dispatcher.ResponseData['body'] & PassThrough;
const json = (bytes: number) => Buffer.from(JSON.stringify({ text: 'x'.repeat(bytes - 12) }));

t.test('an answer larger than the per-answer bound is handed on as a stream from there', async (t) => {
  const answers = new AnswerBuffers(1_000, 10_000);
  const body = answerBody();
  const read = answers.read(body);
  body.write(Buffer.alloc(800, 0x20));
  body.write(Buffer.alloc(800, 0x20));
  const result = await read;
  t.equal(result.kind, 'large');
  t.equal(
    result.kind === 'large' && Buffer.concat(result.head).length,
    1_600,
    'every byte read so far is kept for the relay',
  );
  t.equal(body.isPaused(), true, 'the rest waits on the body');
});

t.test(
  'answers read at the same time share the total: one past it streams, bystanders within it are read whole',
  async (t) => {
    const answers = new AnswerBuffers(1_000, 1_000);
    const first = answerBody();
    const firstRead = answers.read(first);
    const firstAnswer = json(600);
    first.write(firstAnswer.subarray(0, 590)); // 590 bytes held while its upstream is slow
    await new Promise((resolve) => setImmediate(resolve));

    const second = answerBody();
    const secondRead = answers.read(second);
    second.write(json(600));
    t.equal(
      (await secondRead).kind,
      'large',
      'a second 600-byte answer would pass the 1,000-byte total: it streams',
    );

    first.end(firstAnswer.subarray(590));
    const firstResult = await firstRead;
    t.equal(firstResult.kind, 'whole', 'the first is still read whole and checked');

    const third = answerBody();
    const thirdRead = answers.read(third);
    third.end(json(900));
    t.equal((await thirdRead).kind, 'whole', 'once the first is done its bytes are free again');
  },
);

t.test('a broken answer gives its bytes back too', async (t) => {
  const answers = new AnswerBuffers(1_000, 1_000);
  const cut = answerBody();
  const cutRead = answers.read(cut);
  cut.write(Buffer.from('{"text":"' + 'x'.repeat(900)));
  await new Promise((resolve) => setImmediate(resolve));
  cut.destroy(new Error('upstream went away'));
  t.match(await cutRead, { kind: 'broken', cause: 'body_cut' });

  const next = answerBody();
  const nextRead = answers.read(next);
  next.end(json(950));
  t.equal((await nextRead).kind, 'whole', 'the cut answer holds nothing after its read ended');
});
