/**
 * The behaviour every ManagedKeyStore must show, run against MemoryKeyStore and RedisKeyStore (real
 * redis-server). Each scenario gets a fresh store.
 */
import type { Test } from 'tap';
import { hashKey, isKeyActive, KEY_PREFIX } from '../../../src/keys/api-key.js';
import type { ManagedKeyStore, NewKey } from '../../../src/keys/key-store.js';

export interface Harness {
  store: ManagedKeyStore;
  /** Every string the store persisted (Redis: all keys and values under its prefix). */
  storedText(): Promise<string[]>;
  close(): Promise<void>;
}

const alice: NewKey = { name: 'alice', tier: 'tier-1', team: 'red', models: ['gpt-test'], budgetUsd: 10 };

export function keyStoreSuite(t: Test, make: () => Promise<Harness>): void {
  const scenario = (name: string, fn: (h: Harness, t: Test) => Promise<void>) =>
    t.test(name, async (t) => {
      const harness = await make();
      t.teardown(() => harness.close());
      await fn(harness, t);
    });

  scenario('create returns the plaintext once and finds the record by its hash', async ({ store }, t) => {
    const { record, plaintext } = await store.create(alice);
    t.ok(plaintext.startsWith(KEY_PREFIX), 'plaintext is a tollgate key');
    t.match(record.id, /^key_[0-9a-f]{12}$/, 'id is key_ + 12 hex characters');
    t.equal(record.keyHash, hashKey(plaintext), 'the record keeps only the hash');
    t.match(record, { ...alice, source: 'admin' }, 'the record carries the input');
    t.notOk(record.revokedAt, 'a new key is not revoked');
    const found = await store.findByHash(hashKey(plaintext));
    t.same(found, record, 'findByHash returns the same record');
    t.ok(found && isKeyActive(found), 'the new key is active');
    t.equal(await store.findByHash(hashKey(`${plaintext}x`)), undefined, 'another hash finds nothing');
  });

  scenario('the plaintext is never stored', async ({ store, storedText }, t) => {
    const { plaintext } = await store.create(alice);
    const stored = await storedText();
    t.ok(stored.length > 0, 'the store persisted something to scan');
    const secret = plaintext.slice(KEY_PREFIX.length);
    t.notOk(stored.some((text) => text.includes(secret)), 'no stored key or value contains the plaintext');
  });

  scenario('list and get return every record', async ({ store }, t) => {
    const a = (await store.create(alice)).record;
    const b = (await store.create({ name: 'bob', tier: 'tier-2' })).record;
    const listed = await store.list();
    t.same(listed.map((r) => r.id).sort(), [a.id, b.id].sort(), 'list holds both keys');
    t.same(await store.get(b.id), b, 'get returns the record as created');
    t.notOk((await store.get(b.id))?.team, 'absent optional fields stay absent');
    t.equal(await store.get('key_000000000000'), undefined, 'get of an unknown id is undefined');
  });

  scenario('update changes, clears and keeps fields', async ({ store }, t) => {
    const { record, plaintext } = await store.create(alice);
    const updated = await store.update(record.id, {
      name: 'alice-2',
      budgetUsd: 0,
      team: undefined,
      models: ['a', 'b'],
    });
    t.match(
      updated,
      { id: record.id, name: 'alice-2', tier: 'tier-1', budgetUsd: 0, models: ['a', 'b'] },
      'patched fields changed',
    );
    t.notOk(updated && 'team' in updated, 'a field patched to undefined is cleared');
    t.same(await store.get(record.id), updated, 'get sees the update');
    t.same(await store.findByHash(hashKey(plaintext)), updated, 'findByHash on this instance sees the update at once');
    t.match(await store.update(record.id, { name: undefined }), { name: 'alice-2' }, 'name cannot be cleared');
    t.equal(await store.update('key_000000000000', { name: 'x' }), undefined, 'update of an unknown id is undefined');
  });

  scenario('revoke marks the key inactive and keeps the record', async ({ store }, t) => {
    const { record, plaintext } = await store.create(alice);
    const revoked = await store.revoke(record.id);
    t.ok(revoked?.revokedAt, 'revokedAt is set');
    t.notOk(isKeyActive(revoked!), 'the revoked record is inactive');
    const found = await store.findByHash(hashKey(plaintext));
    t.ok(found && !isKeyActive(found), 'findByHash on this instance sees the revocation at once');
    t.ok((await store.list()).some((r) => r.id === record.id), 'the record stays listed for usage history');
    const again = await store.revoke(record.id);
    t.equal(again?.revokedAt, revoked?.revokedAt, 'revoking twice keeps the first revocation time');
    t.equal(
      (await store.update(record.id, { name: 'back' }))?.revokedAt,
      revoked?.revokedAt,
      'a patch does not un-revoke',
    );
    t.equal(await store.revoke('key_000000000000'), undefined, 'revoke of an unknown id is undefined');
  });

  scenario('expired keys are inactive', async ({ store }, t) => {
    const past = await store.create({ ...alice, expiresAt: new Date(Date.now() - 1_000).toISOString() });
    const future = await store.create({ ...alice, expiresAt: new Date(Date.now() + 60_000).toISOString() });
    const foundPast = await store.findByHash(hashKey(past.plaintext));
    const foundFuture = await store.findByHash(hashKey(future.plaintext));
    t.ok(foundPast && !isKeyActive(foundPast), 'a key past its expiry is inactive');
    t.ok(foundFuture && isKeyActive(foundFuture), 'a key before its expiry is active');
  });
}
