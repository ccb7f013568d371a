// Cluster membership: every coordinator on one database has a row in `coordinators`,
// added at start and renewed every lease/4 (TVARR_CLUSTER_LEASE_MS, default 1.5 s: a
// renewal every 375 ms). A row whose lease has passed is a dead coordinator:
// - the workers it held (workers.coordinator_id) are written offline by the survivors,
//   so no scheduler counts slots that nobody can reach; the workers dial another
//   coordinator of their TVARR_COORDINATOR_URL list and register there;
// - a coordinator that cannot renew its own row (the database is gone, or its process
//   was paused past the lease) is not healthy: /healthz answers 503 so a load balancer
//   sends its viewers elsewhere.
// On SQLite there is one coordinator per file: the row is still written (GET /api/cluster
// lists it) and renewed, but nothing else reads the lease.
//
// Each renewal also reports what the coordinator serves (clients, sources with an upstream
// connection), so any coordinator answers GET /api/cluster for all of them.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { and, eq, gte, inArray, lt, ne, or, sql } from 'drizzle-orm';
import type { CoreContext } from '../context';
import { ConfigError } from '../config';

export interface CoordinatorIdentity {
  id: string;
  /** How peers and clients reach its HTTP (TVARR_PUBLIC_URL). */
  httpUrl: string;
  /** How workers reach its gRPC (TVARR_GRPC_PUBLIC_ADDR), host:port. */
  grpcAddr: string;
}

export interface CoordinatorView extends CoordinatorIdentity {
  self: boolean;
  alive: boolean;
  startedAt: number;
  renewedAt: number;
  expiresAt: number;
  stoppedAt: number | null;
  clients: number;
  sourcesOwned: number;
  workersAttached: number;
}

export interface MembershipHealth {
  ok: boolean;
  reason: string | null;
}

/** Dead coordinators' rows are kept this long for the API, then deleted. */
const DEAD_ROW_RETENTION_MS = 3_600_000;
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]', '']);

function hostPort(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The identity this process announces. TVARR_PUBLIC_URL and TVARR_GRPC_PUBLIC_ADDR when
 * set (validated), else the bind address with the real ports (the host name for a
 * wildcard bind), which is right on one host and for tests.
 */
/** TVARR_COORDINATOR_ID, else the host name and 8 random hex digits (a new id per start). */
export function newCoordinatorId(configured: string | undefined): string {
  return configured ?? `${hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 48)}-${randomBytes(4).toString('hex')}`;
}

export function coordinatorIdentity(ctx: Pick<CoreContext, 'config'>, id: string, ports: { http: number; grpc: number | null }): CoordinatorIdentity {
  const { config } = ctx;
  const advertised = (bind: string) => (WILDCARD_HOSTS.has(bind) ? hostname() : bind);
  const grpcAddr = config.cluster.grpcPublicAddr ?? (ports.grpc === null ? '' : hostPort(advertised(config.grpcHost), ports.grpc));
  const port = Number(/:(\d+)$/.exec(grpcAddr)?.[1] ?? '1');
  if (!(port >= 1 && port <= 65535)) throw new ConfigError('TVARR_GRPC_PUBLIC_ADDR: invalid value, expected a port 1-65535');
  return {
    id,
    httpUrl: (config.publicUrl ?? `http://${hostPort(advertised(config.httpHost), ports.http)}`).replace(/\/+$/, ''),
    grpcAddr,
  };
}

export class ClusterMembership {
  private timer: ReturnType<typeof setInterval> | null = null;
  private lastRenewedAt = 0;
  private lastError: string | null = null;
  private renewing = false;
  private reaping = false;
  private stopped = false;

  constructor(
    private readonly ctx: CoreContext,
    readonly identity: CoordinatorIdentity,
    private readonly report: () => { clients: number; sources: number },
  ) {}

  get leaseMs(): number {
    return this.ctx.config.cluster.leaseMs;
  }

  /** Adds (or re-adds, same id after a restart) this coordinator's row. */
  async join(): Promise<void> {
    const now = this.ctx.clock.now();
    const { coordinators } = this.ctx.store.t;
    const row = { httpUrl: this.identity.httpUrl, grpcAddr: this.identity.grpcAddr, startedAt: now, renewedAt: now, expiresAt: now + this.leaseMs, stoppedAt: null, clients: 0, sources: 0 };
    await this.ctx.store.db.insert(coordinators).values({ id: this.identity.id, ...row }).onConflictDoUpdate({ target: coordinators.id, set: row });
    this.lastRenewedAt = now;
    this.ctx.log.info('cluster: joined', { coordinatorId: this.identity.id, httpUrl: this.identity.httpUrl, grpcAddr: this.identity.grpcAddr, leaseMs: this.leaseMs });
  }

  /**
   * A row that still looks alive with this coordinator's own address is its previous
   * process (SIGKILLed and restarted within the lease, under a new id): two live processes
   * cannot listen on one address. It is ended now, as a restart on SQLite ends everything:
   * its live jobs fail ("coordinator restarted") and the workers it held go offline until
   * they register here.
   */
  async supersedePredecessors(): Promise<number> {
    const now = this.ctx.clock.now();
    const { coordinators, jobs, workers, sourceLeases } = this.ctx.store.t;
    const { db } = this.ctx.store;
    const same = await db
      .select({ id: coordinators.id })
      .from(coordinators)
      .where(and(ne(coordinators.id, this.identity.id), sql`${coordinators.expiresAt} >= ${now}`, or(eq(coordinators.httpUrl, this.identity.httpUrl), eq(coordinators.grpcAddr, this.identity.grpcAddr))));
    if (same.length === 0) return 0;
    const ids = same.map((r) => r.id);
    await this.ctx.store.transaction(async (tx) => {
      await tx.update(coordinators).set({ stoppedAt: now, expiresAt: now }).where(inArray(coordinators.id, ids));
      await tx
        .update(jobs)
        .set({ state: 'failed', failureReason: 'coordinator restarted', endedAt: now })
        .where(and(inArray(jobs.coordinatorId, ids), inArray(jobs.state, ['pending', 'running'])));
      await tx.update(workers).set({ state: 'offline' }).where(and(inArray(workers.coordinatorId, ids), ne(workers.state, 'offline')));
      // Its sources are free now, not when their leases would have passed.
      await tx.update(sourceLeases).set({ expiresAt: now - 1 }).where(and(inArray(sourceLeases.ownerId, ids), gte(sourceLeases.expiresAt, now)));
    });
    this.ctx.log.info('cluster: ended the previous process on this address', { coordinatorId: this.identity.id, previous: ids });
    return ids.length;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), Math.max(100, Math.floor(this.leaseMs / 4)));
  }

  /**
   * Renews this row, and (beside it, not after it) writes offline the workers of
   * coordinators whose lease passed. The renewal never waits for the reaping: on a loaded
   * coordinator every query takes about one event-loop lag, and a renewal queued behind the
   * reaping's queries came every 2-4 lags, so a lag of ~400 ms let the row lapse (peers then
   * end a live coordinator's jobs); alone, a renewal every lease/4 keeps the row alive up
   * to a lag of about (lease - lease/4) / 2.
   */
  async tick(): Promise<void> {
    if (this.stopped) return;
    await Promise.all([this.renewOnce(), this.reapOnce()]);
  }

  private async renewOnce(): Promise<void> {
    if (this.renewing) return;
    this.renewing = true;
    try {
      await this.renew();
    } finally {
      this.renewing = false;
    }
  }

  private async reapOnce(): Promise<void> {
    if (this.reaping) return;
    this.reaping = true;
    try {
      await this.reapDead();
    } finally {
      this.reaping = false;
    }
  }

  private async renew(): Promise<void> {
    const now = this.ctx.clock.now();
    const { coordinators } = this.ctx.store.t;
    const { clients, sources } = this.report();
    try {
      const res = await this.ctx.store.db
        .update(coordinators)
        .set({ renewedAt: now, expiresAt: now + this.leaseMs, clients, sources })
        .where(eq(coordinators.id, this.identity.id))
        .returning({ id: coordinators.id });
      if (res.length === 0) {
        // Deleted meanwhile (an operator, or a peer that judged it dead long ago): add it again.
        await this.join();
        return;
      }
      if (this.lastError !== null) this.ctx.log.info('cluster: lease renewed again', { coordinatorId: this.identity.id, after: this.lastError });
      this.lastError = null;
      this.lastRenewedAt = now;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (this.lastError === null) this.ctx.log.warn('cluster: lease not renewed; retried', { coordinatorId: this.identity.id, error: message });
      this.lastError = message;
    }
  }

  /** The workers held by dead coordinators go offline; long-dead rows are deleted. */
  private async reapDead(): Promise<void> {
    const now = this.ctx.clock.now();
    const { coordinators, workers } = this.ctx.store.t;
    try {
      // A read first: with no dead coordinator holding workers (the usual case) nothing is written.
      const dead = await this.ctx.store.db
        .select({ id: coordinators.id, expiresAt: coordinators.expiresAt })
        .from(coordinators)
        .where(and(lt(coordinators.expiresAt, now), ne(coordinators.id, this.identity.id)));
      if (dead.length === 0) return;
      const ids = dead.map((d) => d.id);
      const held = await this.ctx.store.db
        .select({ id: workers.id })
        .from(workers)
        .where(and(inArray(workers.coordinatorId, ids), ne(workers.state, 'offline')))
        .limit(1);
      if (held.length > 0) {
        const res = await this.ctx.store.db
          .update(workers)
          .set({ state: 'offline' })
          .where(and(inArray(workers.coordinatorId, ids), ne(workers.state, 'offline')))
          .returning({ id: workers.id });
        if (res.length > 0) this.ctx.log.warn('cluster: workers of a dead coordinator written offline', { coordinators: ids, workers: res.length });
      }
      // Their live jobs: nobody relays them any more (the variants start again where viewers ask).
      const { jobs } = this.ctx.store.t;
      const live = await this.ctx.store.db
        .select({ id: jobs.id })
        .from(jobs)
        .where(and(inArray(jobs.coordinatorId, ids), inArray(jobs.state, ['pending', 'running'])))
        .limit(1);
      if (live.length > 0) {
        const failed = await this.ctx.store.db
          .update(jobs)
          .set({ state: 'failed', failureReason: 'its coordinator died', endedAt: now })
          .where(and(inArray(jobs.coordinatorId, ids), inArray(jobs.state, ['pending', 'running'])))
          .returning({ id: jobs.id });
        if (failed.length > 0) this.ctx.log.warn('cluster: jobs of a dead coordinator failed', { coordinators: ids, jobs: failed.length });
      }
      // Their source leases, if any still run (a stopped coordinator's row ends before them).
      const { sourceLeases } = this.ctx.store.t;
      const leased = await this.ctx.store.db
        .select({ id: sourceLeases.sourceId })
        .from(sourceLeases)
        .where(and(inArray(sourceLeases.ownerId, ids), gte(sourceLeases.expiresAt, now)))
        .limit(1);
      if (leased.length > 0) await this.ctx.store.db.update(sourceLeases).set({ expiresAt: now - 1 }).where(and(inArray(sourceLeases.ownerId, ids), gte(sourceLeases.expiresAt, now)));
      const old = dead.filter((d) => d.expiresAt < now - DEAD_ROW_RETENTION_MS).map((d) => d.id);
      if (old.length > 0) await this.ctx.store.db.delete(coordinators).where(inArray(coordinators.id, old));
    } catch (err) {
      this.ctx.log.warn('cluster: dead coordinators not reaped; retried', { error: err instanceof Error ? err.message : String(err) });
    }
  }

  /** Healthy while this coordinator's own lease is current (its last renewal within the lease). */
  health(): MembershipHealth {
    const age = this.ctx.clock.now() - this.lastRenewedAt;
    if (this.stopped) return { ok: false, reason: 'shutting down' };
    if (age > this.leaseMs) return { ok: false, reason: `cluster lease not renewed for ${age} ms (${this.lastError ?? 'renewal late'})` };
    return { ok: true, reason: null };
  }

  /** Every coordinator on this database, with the workers each holds. */
  async list(): Promise<CoordinatorView[]> {
    const now = this.ctx.clock.now();
    const { coordinators, workers } = this.ctx.store.t;
    const rows = await this.ctx.store.db.select().from(coordinators).orderBy(coordinators.id);
    const attached = await this.ctx.store.db
      .select({ id: workers.coordinatorId, n: sql<number>`count(*)`.mapWith(Number) })
      .from(workers)
      .where(ne(workers.state, 'offline'))
      .groupBy(workers.coordinatorId);
    const byId = new Map(attached.map((a) => [a.id, a.n]));
    return rows.map((r) => ({
      id: r.id,
      httpUrl: r.httpUrl,
      grpcAddr: r.grpcAddr,
      self: r.id === this.identity.id,
      alive: r.stoppedAt === null && r.expiresAt >= now,
      startedAt: r.startedAt,
      renewedAt: r.renewedAt,
      expiresAt: r.expiresAt,
      stoppedAt: r.stoppedAt,
      clients: r.clients,
      sourcesOwned: r.sources,
      workersAttached: byId.get(r.id) ?? 0,
    }));
  }

  /** Clean stop: the row says stopped and its lease ends now, so peers act at once. */
  async leave(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const now = this.ctx.clock.now();
    const { coordinators } = this.ctx.store.t;
    await this.ctx.store.db.update(coordinators).set({ stoppedAt: now, expiresAt: now }).where(eq(coordinators.id, this.identity.id)).catch(() => {});
  }

  /** SIGKILL-like stop for tests: timers end, the row is left to expire. */
  abandon(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/** Live coordinators other than `selfId` (their workers and jobs are theirs, not orphans). */
export async function liveCoordinatorIds(ctx: Pick<CoreContext, 'store'>, selfId: string, now: number): Promise<string[]> {
  const { coordinators } = ctx.store.t;
  const rows = await ctx.store.db
    .select({ id: coordinators.id })
    .from(coordinators)
    .where(and(ne(coordinators.id, selfId), sql`${coordinators.expiresAt} >= ${now}`, sql`${coordinators.stoppedAt} is null`));
  return rows.map((r) => r.id);
}
