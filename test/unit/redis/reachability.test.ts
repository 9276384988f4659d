// RedisReachability's words, from a fake connection and a fake clock: since when, and why.
import { EventEmitter } from 'node:events';
import t from 'tap';
import { RedisReachability } from '../../../src/redis/reachability.js';

class FakeConnection extends EventEmitter {
  status = 'ready';
  answer: () => Promise<unknown> = async () => 'PONG';
  ping(): Promise<unknown> {
    return this.answer();
  }
}

const at = (iso: string) => () => new Date(iso);

t.test('up, dropped, refused on reconnect, back', async (t) => {
  const connection = new FakeConnection();
  let now = at('2026-12-02T14:00:00.250Z');
  const reachability = new RedisReachability(connection, 500, () => now());
  t.same(await reachability.check(), { ok: true, words: 'ok' });

  now = at('2026-12-02T14:03:11.700Z');
  connection.status = 'reconnecting';
  connection.emit('close');
  t.same(await reachability.check(), {
    ok: false,
    words: 'unreachable since 2026-12-02T14:03:11Z (connection closed)',
  });
  now = at('2026-12-02T14:03:12.000Z');
  connection.emit('error', Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:6379'), { code: 'ECONNREFUSED' }));
  connection.emit('close'); // a failed reconnect ends in close too: the first drop's time stays
  t.same(await reachability.check(), {
    ok: false,
    words: 'unreachable since 2026-12-02T14:03:11Z (connection refused)',
  });

  connection.status = 'ready';
  connection.emit('ready');
  t.same(await reachability.check(), { ok: true, words: 'ok' });
});

t.test('never connected: unreachable since start-up; a refused password said as such', async (t) => {
  const connection = new FakeConnection();
  connection.status = 'connecting';
  const reachability = new RedisReachability(connection, 500, at('2026-12-02T08:00:00Z'));
  t.same(await reachability.check(), {
    ok: false,
    words: 'unreachable since 2026-12-02T08:00:00Z (not connected yet)',
  });
  connection.emit('error', new Error('WRONGPASS invalid username-password pair or user is disabled.'));
  t.same(await reachability.check(), {
    ok: false,
    words: 'unreachable since 2026-12-02T08:00:00Z (authentication failed)',
  });
});

t.test('connected but stalled: not answering, with the command timeout', async (t) => {
  const connection = new FakeConnection();
  const reachability = new RedisReachability(connection, 750, at('2026-12-02T09:30:00Z'));
  connection.answer = async () => {
    throw new Error('Command timed out');
  };
  t.same(await reachability.check(), {
    ok: false,
    words: 'not answering since 2026-12-02T09:30:00Z (no reply within 750 ms)',
  });
});
