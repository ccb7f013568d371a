// Connected workers and their liveness. A worker is lost when its control stream
// closes (at once) or when no message arrives within the loss deadline (a partition
// that leaves the TCP connection hanging). One identity has at most one live session:
// a second registration under a connected id is refused, so a holder of the shared
// token cannot take over a running worker (its old session must end or go silent first).
//
// Database writes: liveness and usage live in memory (the session); a worker's row gets
// them at registration, at loss, and otherwise once per TOUCH_PERSIST_MS, batched into one
// transaction per TOUCH_FLUSH_MS for all workers due. So 1,000 idle workers cost about
// 3 row writes a second in one transaction every 5 s, not one write per heartbeat; the
// API and the page read the live values from the session.
import { heartbeatIntervalForFleet, LARGE_FLEET_WORKERS, LINK_RTT_ALLOWANCE_MAX_MS } from '../../common/liveness';
import { LARGE_FLEET_STEADY_PING_MS, SAMPLES_AFTER_WARMUP, STEADY_INTERVAL_MS } from './link-stats';
import { retryWrite } from '../db/retry-write';
import type { CoreContext } from '../context';
import type { WorkerRegistration } from '../domain';
import { AppError } from '../errors';
import { countWorkers, deleteWorker, getWorker, listOfflineWorkersSeenBefore, markAllWorkersOffline, touchWorkers, upsertWorker } from './worker-store';
import type { WorkerSession } from './worker-session';
import type { ResourceUsage } from '../domain';
import { and, eq, lte } from 'drizzle-orm';

export interface WorkerLossHandler {
  (workerId: string, reason: string): void;
}

/** A connected worker's row gets its last_seen_at and usage at least this often. */
export const TOUCH_PERSIST_MS = 300_000;
/** Due touches are written together this often. */
export const TOUCH_FLUSH_MS = 5_000;

export class WorkerRegistry {
  private readonly sessions = new Map<string, WorkerSession>();
  private sweepTimer: ReturnType<typeof setInterval> | null = null;
  private pruneTimer: ReturnType<typeof setInterval> | null = null;
  private flushTimer: ReturnType<typeof setInterval> | null = null;
  private readonly lossHandlers: WorkerLossHandler[] = [];
  // The live sessions again, ordered by their last message (oldest first): a message moves
  // its session to the end, so the sweep reads only the sessions past the deadline and
  // stops at the first recent one instead of visiting 1,000 workers 16 times a second.
  private readonly byRecency = new Set<WorkerSession>();
  // Rows in the workers table, read at start and with each touch flush: a coordinator
  // restarted under a large fleet knows it is large before the fleet is back.
  private knownWorkers = 0;
  private readonly removeHandlers: ((workerId: string) => Promise<void>)[] = [];
  private lastSweepAt = 0;
  private stopped = false;
  /** Row writes made by this registry (tests and the fleet bench read it). */
  readonly writes = { registrations: 0, touchBatches: 0, touchedRows: 0, losses: 0 };

  constructor(private readonly ctx: CoreContext) {}

  /** At start every worker is offline until it dials in again. */
  async init(liveCoordinators: readonly string[] = []): Promise<void> {
    this.knownWorkers = await countWorkers(this.ctx.store);
    const n = await markAllWorkersOffline(this.ctx.store, liveCoordinators);
    if (n > 0) this.ctx.log.info('workers marked offline until they reconnect', { count: n });
  }

  start(): void {
    const { sweepIntervalMs } = this.ctx.config.liveness;
    this.lastSweepAt = this.ctx.clock.now();
    this.sweepTimer = setInterval(() => {
      const now = this.ctx.clock.now();
      // How late this tick is: our own event loop was stalled that long (a loaded machine,
      // a CPU quota), and what the workers sent meanwhile is still unread behind this timer.
      // Every loop turn reads the sockets, so nothing waits longer than that: the sweep
      // leaves this much out of each worker's silence. (It used to skip a tick more than 3
      // intervals late instead, so under a lag that made every tick that late no frozen
      // worker was ever found.)
      const ownLagMs = Math.max(0, now - this.lastSweepAt - sweepIntervalMs);
      this.lastSweepAt = now;
      this.sweepStale(now, ownLagMs);
    }, sweepIntervalMs);
    const { retentionMs } = this.ctx.config.workers;
    const prune = () => void this.pruneOffline(this.ctx.clock.now()).catch((err: unknown) => this.ctx.log.warn('worker prune failed', { error: String(err) }));
    prune();
    this.pruneTimer = setInterval(prune, Math.min(retentionMs, 3_600_000));
    this.flushTimer = setInterval(() => void this.flushTouches(this.ctx.clock.now()), TOUCH_FLUSH_MS);
    this.flushTimer.unref?.();
  }

  stop(): void {
    this.stopped = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.sweepTimer = null;
    this.pruneTimer = null;
    this.flushTimer = null;
    for (const s of this.sessions.values()) s.close();
    this.sessions.clear();
    this.byRecency.clear();
  }

  onWorkerLost(handler: WorkerLossHandler): void {
    this.lossHandlers.push(handler);
  }

  /** Awaited before a worker's rows are deleted (remove): settles what is still being written about it. */
  beforeWorkerRemoved(handler: (workerId: string) => Promise<void>): void {
    this.removeHandlers.push(handler);
  }

  get(workerId: string): WorkerSession | undefined {
    return this.sessions.get(workerId);
  }

  /** A connected worker's liveness and usage as of its last message (worker-views.ts). */
  live(workerId: string): { lastSeenAt: number; usage: ResourceUsage | null } | null {
    const s = this.sessions.get(workerId);
    return s && !s.closed ? { lastSeenAt: s.lastSeenAt, usage: s.usage } : null;
  }

  /**
   * Registers a worker on a new control stream. Refused with `conflict` (ALREADY_EXISTS)
   * while another session of the same id is alive (a message within the loss deadline),
   * and with `no_capacity` (RESOURCE_EXHAUSTED) when a new id would pass TVARR_MAX_WORKERS.
   * A previous session that has gone silent past the deadline is dropped first.
   */
  async register(reg: WorkerRegistration, session: WorkerSession): Promise<{ reconnect: boolean }> {
    const now = this.ctx.clock.now();
    const previous = this.sessions.get(reg.id);
    if (previous && previous !== session) {
      const silentMs = now - previous.lastSeenAt;
      if (!previous.closed && silentMs <= this.ctx.config.liveness.workerLossDeadlineMs) {
        throw new AppError('conflict', `worker ${reg.id} is already connected (last message ${silentMs} ms ago); retry after that session ends`);
      }
      this.handleLost(previous, `no heartbeat for ${silentMs} ms; the same id registered again`);
    }
    // Held from here, before the first await: a second registration of this id in the
    // meantime meets a live session above and is refused.
    this.sessions.set(reg.id, session);
    this.byRecency.add(session);
    session.registering = true;
    try {
      const { maxWorkers } = this.ctx.config.workers;
      if (!(await getWorker(this.ctx.store, reg.id)) && (await countWorkers(this.ctx.store)) >= maxWorkers) {
        throw new AppError('no_capacity', `the coordinator already knows ${maxWorkers} workers (TVARR_MAX_WORKERS); delete offline ones first`);
      }
      if (session.closed) throw new AppError('unavailable', 'the control stream closed while registering');
      const { reconnect } = await upsertWorker(this.ctx.store, reg, now, this.ctx.coordinatorId ?? null);
      this.writes.registrations += 1;
      session.lastTouchAt = now;
      session.registering = false;
      // Its heartbeats start after Registered: the deadline runs from here.
      this.markSeen(session);
      return this.registered(reg, session, reconnect);
    } catch (err) {
      session.registering = false;
      this.forget(session);
      throw err;
    }
  }

  private registered(reg: WorkerRegistration, session: WorkerSession, reconnect: boolean): { reconnect: boolean } {
    if (session.closed) {
      // The stream closed while the row was written (disconnected() already ran): the
      // upsert may have landed after its offline write, so write offline again.
      this.forget(session);
      this.writeOffline(session);
      return { reconnect };
    }
    this.ctx.log.info('worker registered', { workerId: reg.id, name: reg.name, encoders: reg.encoders.map((e) => e.name) });
    this.ctx.events.emit('worker:registered', { workerId: reg.id, name: reg.name, reconnect });
    return { reconnect };
  }

  /** Any message proves liveness: in memory only, so it costs nothing per message. */
  sawMessage(session: WorkerSession): void {
    this.markSeen(session);
  }

  private markSeen(session: WorkerSession): void {
    const now = this.ctx.clock.now();
    // Seen already this millisecond (a heartbeat is counted on arrival, then handled): its
    // place in byRecency is right, as everyone moved after it has the same time.
    if (session.lastSeenAt === now) return;
    session.lastSeenAt = now;
    if (this.byRecency.delete(session)) this.byRecency.add(session);
  }

  private forget(session: WorkerSession): void {
    this.byRecency.delete(session);
    if (this.sessions.get(session.workerId) === session) this.sessions.delete(session.workerId);
  }

  /** A message from this worker on another call (a job stream) proves it alive too. */
  seen(workerId: string): void {
    const session = this.sessions.get(workerId);
    if (session) this.sawMessage(session);
  }

  /** A Heartbeat: liveness and usage in memory; the row gets them in the next due batch (flushTouches). */
  heartbeat(session: WorkerSession, usage?: ResourceUsage): void {
    this.markSeen(session);
    if (usage) session.usage = usage;
  }

  /** Workers whose Control stream this coordinator holds now. */
  get connectedCount(): number {
    return this.sessions.size;
  }

  /** The heartbeat interval for a worker registering now (common/liveness.ts heartbeatIntervalForFleet). */
  heartbeatIntervalFor(): number {
    return heartbeatIntervalForFleet(this.ctx.config.liveness, Math.max(this.sessions.size, this.knownWorkers));
  }

  /**
   * How often a worker's link is pinged once its RTT is known: seldom in a large fleet
   * (a path's RTT changes slowly; each ping is two messages per worker).
   */
  steadyPingIntervalFor(): number {
    return this.largeFleet ? LARGE_FLEET_STEADY_PING_MS : STEADY_INTERVAL_MS;
  }

  /** Sample pings after a new link's warm-up (link-stats.ts): none in a large fleet. */
  samplePingsFor(): number {
    return this.largeFleet ? 0 : SAMPLES_AFTER_WARMUP;
  }

  private get largeFleet(): boolean {
    return Math.max(this.sessions.size, this.knownWorkers) >= LARGE_FLEET_WORKERS;
  }

  /** Writes last_seen_at and usage of every connected worker not written for TOUCH_PERSIST_MS, in one transaction. */
  async flushTouches(now: number, persistMs: number = TOUCH_PERSIST_MS): Promise<number> {
    this.knownWorkers = await countWorkers(this.ctx.store).catch(() => this.knownWorkers);
    const due = [...this.sessions.values()].filter((s) => !s.closed && now - s.lastTouchAt >= persistMs);
    if (due.length === 0) return 0;
    for (const s of due) s.lastTouchAt = now;
    try {
      await touchWorkers(this.ctx.store, due.map((s) => ({ workerId: s.workerId, lastSeenAt: s.lastSeenAt, usage: s.usage ?? undefined })));
      this.writes.touchBatches += 1;
      this.writes.touchedRows += due.length;
    } catch (err) {
      // Not lost: they are due again at the next flush.
      for (const s of due) s.lastTouchAt = 0;
      this.ctx.log.warn('worker liveness not written; retried at the next flush', { workers: due.length, error: err instanceof Error ? err.message : String(err) });
    }
    return due.length;
  }

  /**
   * Deletes a worker that is not connected, with its encoders and per-worker counters.
   * `conflict` while it is connected: drain it and stop it first.
   */
  async remove(workerId: string, reason: string): Promise<void> {
    if (this.sessions.has(workerId)) throw new AppError('conflict', `worker ${workerId} is connected; stop it before deleting it`);
    // Writes about this worker still out (its counters) land before the delete, not after
    // it: on PostgreSQL they run in another transaction and would bring its rows back.
    for (const settle of this.removeHandlers) await settle(workerId);
    if (!(await deleteWorker(this.ctx.store, workerId))) throw new AppError('not_found', `worker '${workerId}' not found`);
    this.ctx.log.info('worker deleted', { workerId, reason });
    this.ctx.events.emit('worker:removed', { workerId, reason });
  }

  /** Deletes offline workers last seen longer than TVARR_WORKER_RETENTION_MS ago. */
  async pruneOffline(now: number): Promise<number> {
    const { retentionMs } = this.ctx.config.workers;
    let n = 0;
    for (const id of await listOfflineWorkersSeenBefore(this.ctx.store, now - retentionMs)) {
      if (this.sessions.has(id)) continue;
      try {
        await this.remove(id, `offline for more than ${retentionMs} ms`);
        n++;
      } catch (err) {
        this.ctx.log.warn('worker prune failed', { workerId: id, error: String(err) });
      }
    }
    return n;
  }

  /** The control stream ended or failed. */
  disconnected(session: WorkerSession, reason: string): void {
    // The call is over (ended, errored with the status we sent, or cancelled): cancelling
    // the HTTP/2 stream now could cut off that status before it reaches the worker.
    session.markClosed();
    this.handleLost(session, reason);
  }

  /**
   * Closes sessions silent for longer than the loss deadline. `ownLagMs`: how late our own
   * event loop runs this sweep (the timer's lateness); messages that came meanwhile are not
   * read yet, so that much of each silence is ours, not the worker's.
   */
  sweepStale(now: number, ownLagMs = 0): void {
    const base = this.ctx.config.liveness.workerLossDeadlineMs;
    for (const session of this.byRecency) {
      // Every session after this one has a later last message: none of them is late.
      if (now - session.lastSeenAt - ownLagMs <= base) break;
      if (session.registering) continue;
      // A far worker's messages arrive later and a lost packet costs it a retransmission
      // (about one RTT more): allow two measured RTTs on top, capped at one second, so a
      // worker in another datacenter is not judged by a LAN deadline.
      const forRtt = Math.min(LINK_RTT_ALLOWANCE_MAX_MS, Math.round(2 * (session.link.rttMs ?? 0)));
      const silent = now - session.lastSeenAt - ownLagMs;
      if (silent > base + forRtt) {
        const extra = forRtt > 0 ? ` + ${forRtt} ms for the link's RTT` : '';
        const lagged = ownLagMs > 0 ? `; ${ownLagMs} ms more while this coordinator's event loop was stalled, not counted` : '';
        this.handleLost(session, `no message for ${silent} ms (deadline ${base} ms${extra}${lagged})`);
      }
    }
  }

  /** Retried until it lands (db/retry-write.ts): the scheduler must not see a lost worker online. */
  private writeOffline(session: WorkerSession): void {
    const { workers } = this.ctx.store.t;
    const lastSeenAt = session.lastSeenAt;
    void retryWrite(
      this.ctx.log,
      `worker ${session.workerId} offline`,
      async () => {
        // Unless the same id registered again meanwhile (its new row says online): here,
        // or (another coordinator, or this write retried late) in the row itself, whose
        // last_seen_at a newer registration has moved past this session's.
        if (this.sessions.has(session.workerId)) return;
        await this.ctx.store.db
          .update(workers)
          .set({ state: 'offline', lastSeenAt })
          .where(and(eq(workers.id, session.workerId), lte(workers.lastSeenAt, lastSeenAt)));
      },
      () => this.stopped,
    );
  }

  private handleLost(session: WorkerSession, reason: string): void {
    session.close();
    if (this.sessions.get(session.workerId) !== session) return;
    this.forget(session);
    this.writes.losses += 1;
    this.writeOffline(session);
    this.ctx.log.warn('worker lost', { workerId: session.workerId, reason });
    this.ctx.events.emit('worker:lost', { workerId: session.workerId, reason });
    for (const h of this.lossHandlers) h(session.workerId, reason);
  }
}
