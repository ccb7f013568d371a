// Handler for a worker's long-lived control stream.
import type { CoreContext } from '../context';
import { AppError } from '../errors';
import type { JobSupervisor } from '../jobs/job-supervisor';
import type { WorkerRegistry } from '../workers/worker-registry';
import { WorkerSession, type ControlCall } from '../workers/worker-session';
import { acceptWorkerCall } from './accept-worker-call';
import { progressFromProto, registrationFromProto, usageFromProto } from './convert';
import { toGrpcStatus } from './status';
import type { DrainController } from '../workers/drain-controller';

const REGISTER_TIMEOUT_MS = 10_000;

export interface ControlDeps {
  ctx: CoreContext;
  registry: WorkerRegistry;
  supervisor: JobSupervisor;
  drain: DrainController;
}

export function handleControlStream(deps: ControlDeps, call: ControlCall): void {
  const { ctx, registry, supervisor } = deps;
  const workerId = acceptWorkerCall(call, ctx.config.grpcAuthToken);
  if (workerId === null) return;
  let session: WorkerSession | null = null;
  const registerTimer = setTimeout(() => {
    call.emit('error', toGrpcStatus(new AppError('invalid_request', 'first message must be register')));
  }, REGISTER_TIMEOUT_MS);

  const fail = (err: unknown) => {
    ctx.log.warn('control stream rejected', { workerId, error: err instanceof Error ? err.message : String(err) });
    call.emit('error', toGrpcStatus(err));
  };

  call.on('data', (msg) => {
    try {
      if (!session) {
        if (msg.event !== 'register' || !msg.register) throw new AppError('invalid_request', 'first message must be register');
        clearTimeout(registerTimer);
        const reg = registrationFromProto(msg.register, workerId, call.getPeer());
        const s = new WorkerSession(workerId, reg.name, call, ctx.clock.now());
        session = s;
        registry.register(reg, s);
        // Anything the worker still runs that we do not know as live is stale: stop it.
        const stale = reg.activeJobs.filter((j) => !supervisor.owned({ jobId: j.jobId, attempt: j.attempt, workerId }));
        s.send({
          registered: {
            worker_id: workerId,
            heartbeat_interval_ms: ctx.config.liveness.heartbeatIntervalMs,
            cancel_jobs: stale.map((j) => ({ job_id: j.jobId, attempt: j.attempt })),
          },
        });
        // The link's RTT: a Ping now (lanes for the first job need it) and once per heartbeat interval.
        s.link.start((nonce) => s.send({ ping: { nonce } }), ctx.config.liveness.heartbeatIntervalMs);
        return;
      }
      registry.heartbeat(session); // any message proves liveness
      switch (msg.event) {
        case 'heartbeat': {
          registry.heartbeat(session, usageFromProto(msg.heartbeat?.usage ?? null));
          for (const p of msg.heartbeat?.jobs ?? []) {
            const job = supervisor.owned({ jobId: p.job_id, attempt: p.attempt, workerId });
            if (job) job.progress = progressFromProto(p);
          }
          return;
        }
        case 'job_rejected': {
          const r = msg.job_rejected!;
          supervisor.rejected({ jobId: r.job_id, attempt: r.attempt, workerId }, `${r.reason}: ${r.message}`);
          return;
        }
        case 'job_ended': {
          const e = msg.job_ended!;
          const state = e.outcome === 'JOB_OUTCOME_COMPLETED' ? 'completed' : e.outcome === 'JOB_OUTCOME_CANCELLED' ? 'cancelled' : 'failed';
          const reason = state === 'completed' ? null : e.message || `ffmpeg exited with code ${e.exit_code}`;
          supervisor.workerReportedEnd({ jobId: e.job_id, attempt: e.attempt, workerId }, { state, reason });
          return;
        }
        case 'pong':
          session.link.pong(Number(msg.pong?.nonce ?? 0));
          return;
        case 'drain_started':
          deps.drain.drain(workerId, msg.drain_started?.reason || 'worker is shutting down', { notifyWorker: false });
          return;
        case 'register':
          throw new AppError('invalid_request', 'already registered on this stream');
        default:
          return; // an event from a newer worker version: ignore
      }
    } catch (err) {
      fail(err);
    }
  });

  const closed = (reason: string) => {
    clearTimeout(registerTimer);
    session?.link.stop();
    if (session) registry.disconnected(session, reason);
  };
  call.on('end', () => {
    closed('control stream ended');
    try {
      call.end();
    } catch {
      // already closed
    }
  });
  call.on('error', (err: Error) => closed(`control stream error: ${err.message}`));
  call.on('cancelled', () => closed('control stream cancelled'));
  call.on('close', () => closed('connection closed'));
}
