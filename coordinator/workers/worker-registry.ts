// Connected workers and their liveness. A worker is lost when its control stream
// closes (at once) or when no message arrives within the loss deadline (a partition
// that leaves the TCP connection hanging).
import type { CoreContext } from '../context';
import type { WorkerRegistration } from '../domain';
import { markAllWorkersOffline, setWorkerState, touchWorker, upsertWorker } from './worker-store';
import type { WorkerSession } from './worker-session';
import type { ResourceUsage } from '../domain';

export interface WorkerLossHandler {
  (workerId: string, reason: string): void;
}

export class WorkerRegistry {
  private readonly sessions = new Map<string, WorkerSession>();
  private sweepTimer: ReturnType<typeof setInterval> | null = null;
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
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    for (const s of this.sessions.values()) s.close();
    this.sessions.clear();
  }

  onWorkerLost(handler: WorkerLossHandler): void {
    this.lossHandlers.push(handler);
  }

  get(workerId: string): WorkerSession | undefined {
    return this.sessions.get(workerId);
  }

  /** Registers (or re-registers) a worker on a new control stream. */
  register(reg: WorkerRegistration, session: WorkerSession): { reconnect: boolean } {
    const previous = this.sessions.get(reg.id);
    if (previous && previous !== session) {
      // Same identity on a new connection: the old stream is dead or about to be.
      this.handleLost(previous, 'replaced by a new connection');
    }
    const now = this.ctx.clock.now();
    const { reconnect } = upsertWorker(this.ctx.db, reg, now);
    this.sessions.set(reg.id, session);
    this.ctx.log.info('worker registered', { workerId: reg.id, name: reg.name, encoders: reg.encoders.map((e) => e.name) });
    this.ctx.events.emit('worker:registered', { workerId: reg.id, name: reg.name, reconnect });
    return { reconnect };
  }

  heartbeat(session: WorkerSession, usage?: ResourceUsage): void {
    const now = this.ctx.clock.now();
    session.lastSeenAt = now;
    if (this.sessions.get(session.workerId) === session) touchWorker(this.ctx.db, session.workerId, now, usage);
  }

  /** The control stream ended or failed. */
  disconnected(session: WorkerSession, reason: string): void {
    this.handleLost(session, reason);
  }

  /** Closes sessions whose last message is older than the loss deadline. */
  sweepStale(now: number): void {
    const deadline = this.ctx.config.liveness.workerLossDeadlineMs;
    for (const session of this.sessions.values()) {
      if (now - session.lastSeenAt > deadline) {
        this.handleLost(session, `no message for ${now - session.lastSeenAt} ms (deadline ${deadline} ms)`);
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
