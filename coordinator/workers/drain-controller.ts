// Drain and resume. A draining worker gets no new jobs (the scheduler query wants
// state = 'online'); its running jobs are handed over to other workers without
// dropping clients, then cancelled on it.
import type { CoreContext } from '../context';
import { AppError } from '../errors';
import type { JobSupervisor } from '../jobs/job-supervisor';
import type { WorkerRegistry } from './worker-registry';
import { getWorker, setWorkerState } from './worker-store';

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

  drain(workerId: string, reason: string, opts: { notifyWorker: boolean }): void {
    const worker = getWorker(this.ctx.db, workerId);
    if (!worker) throw new AppError('not_found', `worker ${workerId} not found`);
    if (worker.state === 'offline') throw new AppError('conflict', `worker ${workerId} is offline`);
    // Already draining: its jobs are being handed over (or stay for want of another
    // worker). A second request, from an admin or the worker itself, changes nothing;
    // handing a job over again would start a second replacement for it.
    if (worker.state === 'draining') {
      this.ctx.log.info('worker already draining', { workerId, reason });
      return;
    }
    setWorkerState(this.ctx.db, workerId, 'draining');
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

  resume(workerId: string): void {
    const worker = getWorker(this.ctx.db, workerId);
    if (!worker) throw new AppError('not_found', `worker ${workerId} not found`);
    if (worker.state !== 'draining') throw new AppError('conflict', `worker ${workerId} is ${worker.state}, not draining`);
    setWorkerState(this.ctx.db, workerId, 'online');
    this.ctx.events.emit('worker:state', { workerId, state: 'online' });
    this.registry.get(workerId)?.send({ resume: {} });
  }
}
