// Drain and resume. A draining worker gets no new jobs (the scheduler query wants
// state = 'online'); its running jobs are handed over to other workers without
// dropping clients, then cancelled on it.
import type { CoreContext } from '../context';
import { AppError } from '../errors';
import type { JobSupervisor } from '../jobs/job-supervisor';
import type { WorkerRegistry } from './worker-registry';
import { getWorker, switchWorkerState } from './worker-store';

export interface JobMover {
  /** Moves a live job to another worker; resolves when the old attempt has ended. */
  moveJobOff(jobId: string, reason: string): Promise<void>;
}

export class DrainController {
  mover: JobMover | null = null;

  constructor(
    private readonly ctx: CoreContext,
    private readonly registry: WorkerRegistry,
    private readonly supervisor: JobSupervisor,
  ) {}

  async drain(workerId: string, reason: string, opts: { notifyWorker: boolean }): Promise<void> {
    // Check-and-set in one statement: of two concurrent drains (two requests, the worker's
    // own DrainStarted, another coordinator) exactly one moves it from online.
    if (!(await switchWorkerState(this.ctx.store, workerId, ['online'], 'draining'))) {
      const worker = await getWorker(this.ctx.store, workerId);
      if (!worker) throw new AppError('not_found', `worker ${workerId} not found`);
      if (worker.state === 'offline') throw new AppError('conflict', `worker ${workerId} is offline`);
      // Already draining: its jobs are being handed over (or stay for want of another
      // worker). A second request, from an admin or the worker itself, changes nothing;
      // handing a job over again would start a second replacement for it.
      this.ctx.log.info('worker already draining', { workerId, reason });
      return;
    }
    this.ctx.events.emit('worker:state', { workerId, state: 'draining' });
    this.ctx.log.info('worker draining', { workerId, reason });
    if (opts.notifyWorker) this.registry.get(workerId)?.send({ drain: { reason } });
    for (const job of this.supervisor.liveJobs()) {
      if (job.info.workerId !== workerId) continue;
      const move = this.mover?.moveJobOff(job.jobId, `worker draining: ${reason}`);
      if (!move) this.supervisor.cancel(job.jobId, `worker draining: ${reason}`);
      else move.catch((err) => this.ctx.log.warn('drain move failed', { jobId: job.jobId, workerId, error: String(err) }));
    }
  }

  async resume(workerId: string): Promise<void> {
    if (!(await switchWorkerState(this.ctx.store, workerId, ['draining'], 'online'))) {
      const worker = await getWorker(this.ctx.store, workerId);
      if (!worker) throw new AppError('not_found', `worker ${workerId} not found`);
      throw new AppError('conflict', `worker ${workerId} is ${worker.state}, not draining`);
    }
    this.ctx.events.emit('worker:state', { workerId, state: 'online' });
    this.registry.get(workerId)?.send({ resume: {} });
  }
}
