// Source leases (coordinator/cluster/source-leases.ts) on both engines: one owner per
// source; the owner renews with its token; a passed lease is taken with a new token and
// the old owner's renewal and release then match nothing (fenced); on PostgreSQL, many
// concurrent acquisitions by different coordinators over two connections pools give
// exactly one owner.
import { afterAll, describe, expect, test } from 'bun:test';
import { openPostgresStore } from '../../coordinator/db/postgres-store';
import { acquireSourceLease, releaseSourceLease, renewSourceLeases } from '../../coordinator/cluster/source-leases';
import { ENGINES, openTempStore, type TempStore } from './scheduler-fixtures';

const TTL = 1000;

describe.each(ENGINES)('source leases (%s)', (engine) => {
  const opened: TempStore[] = [];
  afterAll(async () => {
    for (const t of opened) await t.close();
  });
  const open = async () => {
    const t = await openTempStore('leases', engine);
    opened.push(t);
    return t;
  };

  test('one owner; its renewal keeps the token; a passed lease goes to another with a new token, and the old owner is fenced', async () => {
    const { store } = await open();
    let now = 1_000_000;
    const a = await acquireSourceLease(store, 'news', 'coord-a', now, TTL);
    expect(a.owned).toBe(true);
    const tokenA = a.owned ? a.lease.token : -1;
    const b = await acquireSourceLease(store, 'news', 'coord-b', now + 10, TTL);
    expect(b).toEqual({ owned: false, holder: { sourceId: 'news', ownerId: 'coord-a', token: tokenA, expiresAt: now + TTL } });
    // A again (a second variant of the same source): still its, same token.
    const again = await acquireSourceLease(store, 'news', 'coord-a', now + 20, TTL);
    expect(again.owned && again.lease.token).toBe(tokenA);
    now += 500;
    expect([...(await renewSourceLeases(store, 'coord-a', new Map([['news', tokenA]]), now, TTL))]).toEqual(['news']);
    // A is paused past its lease: B takes the source, with a new token.
    now += TTL + 1;
    const taken = await acquireSourceLease(store, 'news', 'coord-b', now, TTL);
    expect(taken.owned).toBe(true);
    const tokenB = taken.owned ? taken.lease.token : -1;
    expect(tokenB).toBe(tokenA + 1);
    // A wakes up: its renewal and its release match nothing; B's lease is untouched.
    expect((await renewSourceLeases(store, 'coord-a', new Map([['news', tokenA]]), now + 1, TTL)).size).toBe(0);
    expect(await releaseSourceLease(store, 'news', 'coord-a', tokenA, now + 1)).toBe(false);
    expect((await acquireSourceLease(store, 'news', 'coord-a', now + 2, TTL)).owned).toBe(false);
    // B stops cleanly: the lease ends at once and A may take it back (token + 1 again).
    expect(await releaseSourceLease(store, 'news', 'coord-b', tokenB, now + 3)).toBe(true);
    const back = await acquireSourceLease(store, 'news', 'coord-a', now + 4, TTL);
    expect(back.owned && back.lease.token).toBe(tokenB + 1);
    // B's old token no longer renews, even if B held it once.
    expect((await renewSourceLeases(store, 'coord-b', new Map([['news', tokenB]]), now + 5, TTL)).size).toBe(0);
  });

  test('a lease lost and taken back by the same coordinator: the run holding the old token is fenced too', async () => {
    const { store } = await open();
    const first = await acquireSourceLease(store, 'sport', 'coord-a', 0, TTL);
    const old = first.owned ? first.lease.token : -1;
    await acquireSourceLease(store, 'sport', 'coord-b', TTL + 1, TTL);
    const mine = await acquireSourceLease(store, 'sport', 'coord-a', 3 * TTL, TTL);
    expect(mine.owned && mine.lease.token).toBe(old + 2);
    expect((await renewSourceLeases(store, 'coord-a', new Map([['sport', old]]), 3 * TTL + 1, TTL)).size).toBe(0);
  });

  if (engine === 'postgres') {
    test('40 concurrent acquisitions by 8 coordinators over two connection pools: exactly one owner', async () => {
      const t = await open();
      const other = await openPostgresStore(t.env.TVARR_DATABASE_URL!);
      try {
        const now = Date.now();
        const tries = Array.from({ length: 40 }, (_, i) => acquireSourceLease(i % 2 ? other : t.store, 'busy', `coord-${i % 8}`, now, TTL));
        const results = await Promise.all(tries);
        const owners = new Set(results.filter((r) => r.owned).map((r) => (r.owned ? r.lease.ownerId : '')));
        expect(owners.size).toBe(1);
        const [owner] = [...owners];
        // Every refusal names that owner; every success of the owner has token 1.
        for (const r of results) {
          if (r.owned) expect(r.lease.token).toBe(1);
          else expect(r.holder?.ownerId).toBe(owner!);
        }
      } finally {
        await other.close();
      }
    });
  }
});
