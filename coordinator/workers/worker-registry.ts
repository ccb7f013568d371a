// Connected workers and their liveness. A worker is lost when its control stream
// closes (at once) or when no message arrives within the loss deadline (a partition
// that leaves the TCP connection hanging). One identity has at most one live session:
// a second registration under a connected id is refused, so a holder of the shared
// token cannot take over a running worker (its old session must end or go silent first).
import { LINK_RTT_ALLOWANCE_MAX_MS } from '../../common/liveness';
import type { CoreContext } from '../context';
import type { WorkerRegistration } from '../domain';
import { AppError } from '../errors';
import { countWorkers, deleteWorker, getWorker, listOfflineWorkersSeenBefore, markAllWorkersOffline, setWorkerState, touchWorker, upsertWorker } from './worker-store';
import type { WorkerSession } from './worker-session';
import type { ResourceUsage } from '../domain';

export interface WorkerLossHandler {
  (workerId: string, reason: string): void;
}

export class WorkerRegistry {
  private readonly sessions = new Map<string, WorkerSession>();
  private sweepTimer: ReturnType<typeof setInterval> | null = null;
  private pruneTimer: ReturnType<typeof setInterval> | null = null;
  private readonly lossHandlers: WorkerLossHandler[] = [];
  private lastSweepAt = 0;

  constructor(private readonly ctx: CoreContext) {
    const n = markAllWorkersOffline(ctx.db);
    if (n > 0) ctx.log.info('workers marked offline until they reconnect', { count: n });
  }

  start(): void {
    const { sweepIntervalMs } = this.ctx.config.liveness;
    this.lastSweepAt = this.ctx.clock.now();
    this.sweepTimer = setInterval(() => {
      const now = this.ctx.clock.now();
      // Our own event loop stalled (a loaded machine): messages that arrived meanwhile
      // are still unread behind this timer. Judge on the next tick, after they count.
      const stalled = now - this.lastSweepAt > 3 * sweepIntervalMs;
      this.lastSweepAt = now;
      if (!stalled) this.sweepStale(now);
    }, sweepIntervalMs);
    const { retentionMs } = this.ctx.config.workers;
    this.pruneOffline(this.ctx.clock.now());
    this.pruneTimer = setInterval(() => this.pruneOffline(this.ctx.clock.now()), Math.min(retentionMs, 3_600_000));
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.sweepTimer = null;
    this.pruneTimer = null;
    for (const s of this.sessions.values()) s.close();
    this.sessions.clear();
  }

  onWorkerLost(handler: WorkerLossHandler): void {
    this.lossHandlers.push(handler);
  }

  get(workerId: string): WorkerSession | undefined {
    return this.sessions.get(workerId);
  }

  /**
   * Registers a worker on a new control stream. Refused with `conflict` (ALREADY_EXISTS)
   * while another session of the same id is alive (a message within the loss deadline),
   * and with `no_capacity` (RESOURCE_EXHAUSTED) when a new id would pass TVARR_MAX_WORKERS.
   * A previous session that has gone silent past the deadline is dropped first.
   */
  register(reg: WorkerRegistration, session: WorkerSession): { reconnect: boolean } {
    const now = this.ctx.clock.now();
    const previous = this.sessions.get(reg.id);
    if (previous && previous !== session) {
      const silentMs = now - previous.lastSeenAt;
      if (!previous.closed && silentMs <= this.ctx.config.liveness.workerLossDeadlineMs) {
        throw new AppError('conflict', `worker ${reg.id} is already connected (last message ${silentMs} ms ago); retry after that session ends`);
      }
      this.handleLost(previous, `no heartbeat for ${silentMs} ms; the same id registered again`);
    }
    const { maxWorkers } = this.ctx.config.workers;
    if (!getWorker(this.ctx.db, reg.id) && countWorkers(this.ctx.db) >= maxWorkers) {
      throw new AppError('no_capacity', `the coordinator already knows ${maxWorkers} workers (TVARR_MAX_WORKERS); delete offline ones first`);
    }
    const { reconnect } = upsertWorker(this.ctx.db, reg, now);
    session.lastTouchAt = now;
    this.sessions.set(reg.id, session);
    this.ctx.log.info('worker registered', { workerId: reg.id, name: reg.name, encoders: reg.encoders.map((e) => e.name) });
    this.ctx.events.emit('worker:registered', { workerId: reg.id, name: reg.name, reconnect });
    return { reconnect };
  }

  /** Any message proves liveness: in memory only, so it costs nothing per message. */
  sawMessage(session: WorkerSession): void {
    session.lastSeenAt = this.ctx.clock.now();
  }

  /** A message from this worker on another call (a job stream) proves it alive too. */
  seen(workerId: string): void {
    const session = this.sessions.get(workerId);
    if (session) this.sawMessage(session);
  }

  /**
   * A Heartbeat: the row's last_seen_at and usage are written at most once per half
   * heartbeat interval, so a worker that sends faster than that costs no SQLite writes
   * (its extra heartbeats only count as liveness).
   */
  heartbeat(session: WorkerSession, usage?: ResourceUsage): void {
    const now = this.ctx.clock.now();
    session.lastSeenAt = now;
    if (this.sessions.get(session.workerId) !== session) return;
    if (now - session.lastTouchAt < this.minTouchIntervalMs()) return;
    session.lastTouchAt = now;
    touchWorker(this.ctx.db, session.workerId, now, usage);
  }

  private minTouchIntervalMs(): number {
    return Math.floor(this.ctx.config.liveness.heartbeatIntervalMs / 2);
  }

  /**
   * Deletes a worker that is not connected, with its encoders and per-worker counters.
   * `conflict` while it is connected: drain it and stop it first.
   */
  remove(workerId: string, reason: string): void {
    if (this.sessions.has(workerId)) throw new AppError('conflict', `worker ${workerId} is connected; stop it before deleting it`);
    if (!deleteWorker(this.ctx.db, workerId)) throw new AppError('not_found', `worker '${workerId}' not found`);
    this.ctx.log.info('worker deleted', { workerId, reason });
    this.ctx.events.emit('worker:removed', { workerId, reason });
  }

  /** Deletes offline workers last seen longer than TVARR_WORKER_RETENTION_MS ago. */
  pruneOffline(now: number): number {
    const { retentionMs } = this.ctx.config.workers;
    let n = 0;
    for (const id of listOfflineWorkersSeenBefore(this.ctx.db, now - retentionMs)) {
      if (this.sessions.has(id)) continue;
      try {
        this.remove(id, `offline for more than ${retentionMs} ms`);
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

  /** Closes sessions whose last message is older than the loss deadline. */
  sweepStale(now: number): void {
    const base = this.ctx.config.liveness.workerLossDeadlineMs;
    for (const session of this.sessions.values()) {
      // A far worker's messages arrive later and a lost packet costs it a retransmission
      // (about one RTT more): allow two measured RTTs on top, capped at one second, so a
      // worker in another datacenter is not judged by a LAN deadline.
      const forRtt = Math.min(LINK_RTT_ALLOWANCE_MAX_MS, Math.round(2 * (session.link.rttMs ?? 0)));
      if (now - session.lastSeenAt > base + forRtt) {
        const extra = forRtt > 0 ? ` + ${forRtt} ms for the link's RTT` : '';
        this.handleLost(session, `no message for ${now - session.lastSeenAt} ms (deadline ${base} ms${extra})`);
      }
    }
  }

  private handleLost(session: WorkerSession, reason: string): void {
    session.close();
    if (this.sessions.get(session.workerId) !== session) return;
    this.sessions.delete(session.workerId);
    setWorkerState(this.ctx.db, session.workerId, 'offline');
    this.ctx.log.warn('worker lost', { workerId: session.workerId, reason });
    this.ctx.events.emit('worker:lost', { workerId: session.workerId, reason });
    for (const h of this.lossHandlers) h(session.workerId, reason);
  }
}
