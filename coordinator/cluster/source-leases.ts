// Source ownership across the cluster: one owner coordinator per source, by a lease in
// the database with a fencing token (source_leases, drizzle/schema.ts).
//
// - acquire: one statement, INSERT ... ON CONFLICT DO UPDATE ... WHERE the lease has
//   passed (or is already ours). Two coordinators racing for a free source: PostgreSQL
//   locks the row for the second and re-checks the condition on the first's result, so
//   exactly one gets it; the token grows by one at every change of owner.
// - renew: every TTL/4 for every source held, in one statement that names owner and token:
//   a lease another coordinator has taken since (this process was paused past its TTL,
//   cut off, or lost the database) renews nothing, and the old owner learns it lost the
//   source before it acts again (fenced: its writes for the source carry its token).
// - release: at a clean stop (SIGTERM) or when the last viewer leaves: the lease ends now,
//   so another coordinator can take the source at once.
// - A coordinator that cannot renew within the TTL gives its sources up itself (the
//   caller stops their runs): it must not serve on a lease it can no longer prove.
//
// TTL: TVARR_CLUSTER_LEASE_MS (1.5 s by default); takeover after an owner's SIGKILL is at
// most the TTL plus one renewal tick of the new owner.
import { and, eq, inArray, lt, or, sql } from 'drizzle-orm';
import type { Store } from '../db/store';

export interface SourceLease {
  sourceId: string;
  ownerId: string;
  token: number;
  expiresAt: number;
}

export type AcquireResult = { owned: true; lease: SourceLease } | { owned: false; holder: SourceLease | null };

/** Takes the source's lease when it is free, passed, or already ours (then renewed, same token). */
export async function acquireSourceLease(store: Store, sourceId: string, ownerId: string, now: number, ttlMs: number): Promise<AcquireResult> {
  const t = store.t.sourceLeases;
  const rows = await store.db
    .insert(t)
    .values({ sourceId, ownerId, token: 1, acquiredAt: now, expiresAt: now + ttlMs })
    .onConflictDoUpdate({
      target: t.sourceId,
      set: {
        // Ours already: same token (no change of owner). Another's, passed: token + 1.
        token: sql`case when ${t.ownerId} = ${ownerId} then ${t.token} else ${t.token} + 1 end`,
        acquiredAt: sql`case when ${t.ownerId} = ${ownerId} then ${t.acquiredAt} else ${now} end`,
        ownerId,
        expiresAt: now + ttlMs,
      },
      setWhere: or(eq(t.ownerId, ownerId), lt(t.expiresAt, now)),
    })
    .returning({ sourceId: t.sourceId, ownerId: t.ownerId, token: t.token, expiresAt: t.expiresAt });
  const mine = rows[0];
  if (mine && mine.ownerId === ownerId) return { owned: true, lease: mine };
  return { owned: false, holder: await readSourceLease(store, sourceId) };
}

export async function readSourceLease(store: Store, sourceId: string): Promise<SourceLease | null> {
  const t = store.t.sourceLeases;
  const [row] = await store.db
    .select({ sourceId: t.sourceId, ownerId: t.ownerId, token: t.token, expiresAt: t.expiresAt })
    .from(t)
    .where(eq(t.sourceId, sourceId))
    .limit(1);
  return row ?? null;
}

/**
 * Renews the leases this coordinator holds (source id -> token) in one statement; returns
 * the source ids still ours. A lease missing from the result was taken by another
 * coordinator (or deleted): the caller stops serving it as owner.
 */
export async function renewSourceLeases(store: Store, ownerId: string, held: ReadonlyMap<string, number>, now: number, ttlMs: number): Promise<Set<string>> {
  if (held.size === 0) return new Set();
  const t = store.t.sourceLeases;
  const rows = await store.db
    .update(t)
    .set({ expiresAt: now + ttlMs })
    .where(and(eq(t.ownerId, ownerId), inArray(t.sourceId, [...held.keys()])))
    .returning({ sourceId: t.sourceId, token: t.token });
  // The owner id alone is not proof: a lease lost and taken back (by this coordinator, in
  // another run) has a new token, and the run that held the old one must not go on.
  return new Set(rows.filter((r) => held.get(r.sourceId) === r.token).map((r) => r.sourceId));
}

/** Ends the lease now (only if still ours with this token), so another coordinator may take the source. */
export async function releaseSourceLease(store: Store, sourceId: string, ownerId: string, token: number, now: number): Promise<boolean> {
  const t = store.t.sourceLeases;
  const rows = await store.db
    .update(t)
    .set({ expiresAt: now - 1 })
    .where(and(eq(t.sourceId, sourceId), eq(t.ownerId, ownerId), eq(t.token, token)))
    .returning({ sourceId: t.sourceId });
  return rows.length > 0;
}

/** Sources each coordinator owns now (for GET /api/cluster). */
export async function countOwnedSources(store: Store, now: number): Promise<Map<string, number>> {
  const t = store.t.sourceLeases;
  const rows = await store.db
    .select({ ownerId: t.ownerId, n: sql<number>`count(*)`.mapWith(Number) })
    .from(t)
    .where(sql`${t.expiresAt} >= ${now}`)
    .groupBy(t.ownerId);
  return new Map(rows.map((r) => [r.ownerId, r.n]));
}
