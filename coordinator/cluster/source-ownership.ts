// Which coordinator serves a source, as seen from this one, and the leases this one holds
// (coordinator/cluster/source-leases.ts does the database side).
//
// whoServes(source):
//   - a lease held here: this coordinator (its variant runs are the producers);
//   - a live lease of another coordinator: that one (this coordinator mirrors it);
//   - no live lease: this coordinator takes it when it holds workers to run the jobs on
//     (jobs run on the owner's own workers); otherwise a live peer that holds workers is
//     asked (it takes the lease when this coordinator opens its internal stream).
//
// The held leases are renewed every lease/4. A lease found lost at a renewal (another
// coordinator took it: this process was paused past the lease, or cut off) stops this
// coordinator's runs of that source at once. Renewals failing for a whole lease (the
// database is unreachable) give every lease up the same way: a coordinator that cannot
// prove it still owns a source must not go on producing it. A source with no run left
// here is released, so another coordinator can take it without waiting for the lease.
import { and, eq, inArray, ne, sql } from 'drizzle-orm';
import type { CoreContext } from '../context';
import { AppError } from '../errors';
import { acquireSourceLease, readSourceLease, releaseSourceLease, renewSourceLeases } from './source-leases';

export type Server = { self: true } | { self: false; coordinatorId: string; httpUrl: string };

export interface OwnershipDeps {
  ctx: CoreContext;
  /** Workers whose Control stream this coordinator holds (it can run jobs). */
  connectedWorkers(): number;
  /** Source ids with a variant run here. */
  sourcesRunning(): Set<string>;
  /** Stops this coordinator's runs of a source (ownership lost or given up). */
  stopSource(sourceId: string, reason: string): void;
}

export class SourceOwnership {
  /** source id -> fencing token of the lease held. */
  private readonly held = new Map<string, number>();
  /** When each lease was taken: a run is still starting right after, so it is not released then. */
  private readonly takenAt = new Map<string, number>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private lastRenewOkAt: number;
  private ticking = false;

  constructor(private readonly deps: OwnershipDeps) {
    this.lastRenewOkAt = deps.ctx.clock.now();
  }

  private get ttl(): number {
    return this.deps.ctx.config.cluster.leaseMs;
  }

  private get self(): string {
    return this.deps.ctx.coordinatorId ?? '';
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), Math.max(100, Math.floor(this.ttl / 4)));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The fence of a source held here ({ownerId, token}), or null: claims for it are refused without one. */
  fenceFor(sourceId: string): { ownerId: string; token: number } | null {
    const token = this.held.get(sourceId);
    return token === undefined ? null : { ownerId: this.self, token };
  }

  heldSources(): string[] {
    return [...this.held.keys()];
  }

  async whoServes(sourceId: string): Promise<Server> {
    if (this.held.has(sourceId)) return { self: true };
    const now = this.deps.ctx.clock.now();
    const holder = await readSourceLease(this.deps.ctx.store, sourceId);
    if (holder && holder.expiresAt >= now && holder.ownerId !== this.self) {
      const peer = await this.peer(holder.ownerId);
      if (peer) return peer;
    }
    if (this.deps.connectedWorkers() === 0) {
      const peer = await this.peerWithWorkers(now);
      if (peer) return peer;
    }
    return this.take(sourceId);
  }

  /** Takes the source's lease (free or passed); a peer that won it meanwhile serves instead. */
  async take(sourceId: string): Promise<Server> {
    const now = this.deps.ctx.clock.now();
    const r = await acquireSourceLease(this.deps.ctx.store, sourceId, this.self, now, this.ttl);
    if (r.owned) {
      const before = this.held.get(sourceId);
      this.held.set(sourceId, r.lease.token);
      this.takenAt.set(sourceId, now);
      if (before !== r.lease.token) await this.endOthersJobs(sourceId, r.lease.token);
      return { self: true };
    }
    const peer = r.holder ? await this.peer(r.holder.ownerId) : null;
    if (!peer) throw new AppError('unavailable', `source ${sourceId} is owned by coordinator ${r.holder?.ownerId ?? '?'}, which is not reachable; retry`);
    return peer;
  }

  /**
   * A new owner: the live jobs another coordinator still has for this source are ended in
   * the table (their coordinator is dead or paused past its lease, and is fenced), so the
   * jobs table never shows two running jobs for one variant.
   */
  private async endOthersJobs(sourceId: string, token: number): Promise<void> {
    const { jobs } = this.deps.ctx.store.t;
    const now = this.deps.ctx.clock.now();
    const res = await this.deps.ctx.store.db
      .update(jobs)
      .set({ state: 'failed', failureReason: `source ${sourceId} taken over by coordinator ${this.self}`, endedAt: now })
      .where(and(eq(jobs.sourceId, sourceId), inArray(jobs.state, ['pending', 'running']), ne(jobs.coordinatorId, this.self)))
      .returning({ id: jobs.id });
    this.deps.ctx.log.info('cluster: source owned', { sourceId, token, endedJobsOfPreviousOwner: res.length });
  }

  private async peer(coordinatorId: string): Promise<Server | null> {
    const { coordinators } = this.deps.ctx.store.t;
    const now = this.deps.ctx.clock.now();
    const [row] = await this.deps.ctx.store.db
      .select({ id: coordinators.id, httpUrl: coordinators.httpUrl })
      .from(coordinators)
      .where(and(eq(coordinators.id, coordinatorId), sql`${coordinators.expiresAt} >= ${now}`, sql`${coordinators.stoppedAt} is null`))
      .limit(1);
    return row ? { self: false, coordinatorId: row.id, httpUrl: row.httpUrl } : null;
  }

  /** A live peer that holds online workers, fewest sources first (it can run the jobs). */
  private async peerWithWorkers(now: number): Promise<Server | null> {
    const { coordinators, workers } = this.deps.ctx.store.t;
    const rows = await this.deps.ctx.store.db
      .select({ id: coordinators.id, httpUrl: coordinators.httpUrl, sources: coordinators.sources })
      .from(coordinators)
      .where(
        and(
          ne(coordinators.id, this.self),
          sql`${coordinators.expiresAt} >= ${now}`,
          sql`${coordinators.stoppedAt} is null`,
          sql`exists (select 1 from ${workers} where ${workers.coordinatorId} = ${coordinators.id} and ${workers.state} = 'online')`,
        ),
      )
      .orderBy(coordinators.sources, coordinators.id)
      .limit(1);
    const row = rows[0];
    return row ? { self: false, coordinatorId: row.id, httpUrl: row.httpUrl } : null;
  }

  /** Renews the held leases; stops what was lost; releases sources with no run left. */
  async tick(): Promise<void> {
    if (this.ticking || this.held.size === 0) {
      if (this.held.size === 0) this.lastRenewOkAt = this.deps.ctx.clock.now();
      return;
    }
    this.ticking = true;
    const now = this.deps.ctx.clock.now();
    try {
      const running = this.deps.sourcesRunning();
      for (const [sourceId, token] of [...this.held]) {
        if (running.has(sourceId) || now - (this.takenAt.get(sourceId) ?? 0) < this.ttl) continue;
        this.held.delete(sourceId);
        this.takenAt.delete(sourceId);
        await releaseSourceLease(this.deps.ctx.store, sourceId, this.self, token, now).catch(() => false);
      }
      const kept = await renewSourceLeases(this.deps.ctx.store, this.self, this.held, now, this.ttl);
      this.lastRenewOkAt = now;
      for (const sourceId of [...this.held.keys()]) {
        if (kept.has(sourceId)) continue;
        this.held.delete(sourceId);
        this.deps.ctx.log.warn('cluster: source lease lost to another coordinator; its runs here stop', { sourceId });
        this.deps.stopSource(sourceId, 'this coordinator no longer owns the source (its lease passed)');
      }
    } catch (err) {
      if (now - this.lastRenewOkAt > this.ttl) this.giveUpAll(`source leases not renewed for ${now - this.lastRenewOkAt} ms: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.ticking = false;
    }
  }

  /** The database cannot confirm the leases: stop producing every source held (peers take them over). */
  giveUpAll(reason: string): void {
    if (this.held.size === 0) return;
    this.deps.ctx.log.warn('cluster: giving up every source lease', { sources: [...this.held.keys()], reason });
    for (const sourceId of [...this.held.keys()]) {
      this.held.delete(sourceId);
      this.deps.stopSource(sourceId, reason);
    }
  }

  /** Clean stop: every lease ends now, so peers take the sources without waiting. */
  async releaseAll(): Promise<void> {
    const now = this.deps.ctx.clock.now();
    await Promise.all([...this.held].map(([sourceId, token]) => releaseSourceLease(this.deps.ctx.store, sourceId, this.self, token, now).catch(() => false)));
    this.held.clear();
  }
}
