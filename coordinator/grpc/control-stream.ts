// Handler for a worker's long-lived control stream.
import type { CoreContext } from '../context';
import { AppError } from '../errors';
import type { JobSupervisor } from '../jobs/job-supervisor';
import type { JobReportBody } from '../cluster/peer-relay';
import type { WorkerRegistry } from '../workers/worker-registry';
import { WorkerSession, type ControlCall } from '../workers/worker-session';
import type { WorkerEvent__Output } from '../../proto/gen/tvarr/transcode/v1/WorkerEvent';
import { acceptWorkerCall } from './accept-worker-call';
import { checkHeartbeatJobs, progressFromProto, registrationFromProto, usageFromProto } from './convert';
import { toGrpcStatus } from './status';
import type { DrainController } from '../workers/drain-controller';
import { CLIP_LEN, clipText, CONTROL_BURST, CONTROL_RATE_PER_S } from '../../common/worker-contract';
import { status as grpcStatus, Metadata } from '@grpc/grpc-js';

/** The first message (`register`) must arrive this soon after the call opens (DEADLINE_EXCEEDED). */
export const REGISTER_TIMEOUT_MS = 10_000;
const PING_INTERVAL_MS = 2000;

/**
 * Per-stream token bucket over control messages: CONTROL_BURST at once, refilled at
 * CONTROL_RATE_PER_S. Returns false when the peer is over its budget.
 */
export function controlRateLimiter(now: () => number, burst = CONTROL_BURST, ratePerS = CONTROL_RATE_PER_S): () => boolean {
  let tokens = burst;
  let at = now();
  return () => {
    const t = now();
    tokens = Math.min(burst, tokens + ((t - at) * ratePerS) / 1000);
    at = t;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
}

export interface ControlDeps {
  ctx: CoreContext;
  registry: WorkerRegistry;
  supervisor: JobSupervisor;
  drain: DrainController;
}

export function handleControlStream(deps: ControlDeps, call: ControlCall): void {
  const { ctx, registry, supervisor } = deps;
  const workerId = acceptWorkerCall(call, ctx.config);
  if (workerId === null) return;
  let session: WorkerSession | null = null;
  let failed = false;
  const registerTimer = setTimeout(() => {
    failed = true;
    ctx.log.warn('control stream rejected', { workerId, error: `no register within ${REGISTER_TIMEOUT_MS} ms` });
    call.emit('error', { code: grpcStatus.DEADLINE_EXCEEDED, details: `first message must be register, within ${REGISTER_TIMEOUT_MS} ms`, metadata: new Metadata() });
  }, REGISTER_TIMEOUT_MS);
  const withinRate = controlRateLimiter(() => performance.now());

  const fail = (err: unknown) => {
    if (failed) return;
    failed = true;
    ctx.log.warn('control stream rejected', { workerId, error: err instanceof Error ? err.message : String(err) });
    // Ends this stream only: a session registered on it is lost through the 'error'
    // listener below; a refused registration never had one, so another live session of
    // the same id is untouched.
    call.emit('error', toGrpcStatus(err));
  };

  // Messages are handled one at a time in arrival order, each after the previous one's
  // database work: a heartbeat never overtakes the register before it, a JobEnded never
  // overtakes a JobRejected. The rate limit (checked on arrival) bounds the queue.
  let queue: Promise<void> = Promise.resolve();
  let usageEveryMs = ctx.config.liveness.heartbeatIntervalMs / 2;
  let usageAt = -Infinity;
  let pending = 0;
  call.on('data', (msg) => {
    if (failed) return;
    if (!withinRate()) return fail(new AppError('no_capacity', `more than ${CONTROL_BURST} control messages at once or ${CONTROL_RATE_PER_S}/s sustained`));
    // Liveness counts on arrival, not after the queue: a slow database must not make a
    // worker that keeps talking look silent.
    if (session) registry.sawMessage(session);
    // Heartbeats and pongs touch memory only: with nothing queued they are handled now,
    // without a promise per message (1,000 workers send 4,000 a second).
    if (pending === 0 && session && (msg.event === 'heartbeat' || msg.event === 'pong')) {
      try {
        handleLiveness(session, msg);
      } catch (err) {
        fail(err);
      }
      return;
    }
    pending += 1;
    queue = queue
      .then(() => (failed ? undefined : handle(msg)))
      .catch(fail)
      .finally(() => (pending -= 1));
  });

  const handleLiveness = (s: WorkerSession, msg: WorkerEvent__Output): void => {
    if (msg.event === 'pong') {
      s.link.pong(Number(msg.pong?.nonce ?? 0));
      return;
    }
    checkHeartbeatJobs(msg.heartbeat?.jobs.length ?? 0);
    // Usage at most once per half interval (the proto's rule): faster heartbeats are liveness only.
    const now = performance.now();
    const takeUsage = now - usageAt >= usageEveryMs;
    if (takeUsage) usageAt = now;
    registry.heartbeat(s, takeUsage ? usageFromProto(msg.heartbeat?.usage ?? null) : undefined);
    for (const p of msg.heartbeat?.jobs ?? []) {
      const job = supervisor.ownedHere({ jobId: p.job_id, attempt: p.attempt, workerId });
      if (job) job.progress = progressFromProto(p);
    }
  };

  const handle = async (msg: WorkerEvent__Output): Promise<void> => {
    {
      if (!session) {
        if (msg.event !== 'register' || !msg.register) throw new AppError('invalid_request', 'first message must be register');
        clearTimeout(registerTimer);
        const reg = registrationFromProto(msg.register, workerId, call.getPeer());
        const s = new WorkerSession(workerId, reg.name, call, ctx.clock.now());
        s.maxRenditions = reg.maxRenditions ?? 0;
        await registry.register(reg, s); // throws before anything is stored if refused
        session = s;
        const interval = registry.heartbeatIntervalFor();
        usageEveryMs = interval / 2;
        // Anything the worker still runs that we do not know as live is stale: stop it.
        const notHere = reg.activeJobs.filter((j) => !supervisor.ownedHere({ jobId: j.jobId, attempt: j.attempt, workerId }));
        // Cluster: a job another live coordinator owns goes on (its stream goes there, proto
        // StartJob.job_stream_address); its reports are passed on from here.
        const peersKeep = ctx.clustered && supervisor.peers && notHere.length > 0 ? await supervisor.peers.ownedByLivePeers(workerId, notHere).catch(() => new Set<string>()) : new Set<string>();
        const stale = notHere.filter((j) => !peersKeep.has(`${j.jobId}/${j.attempt}`));
        if (peersKeep.size > 0) ctx.log.info('cluster: worker kept jobs owned by other coordinators', { workerId, jobs: [...peersKeep] });
        s.send({
          registered: {
            worker_id: workerId,
            heartbeat_interval_ms: interval,
            cancel_jobs: stale.map((j) => ({ job_id: j.jobId, attempt: j.attempt })),
          },
        });
        // The link's RTT: a Ping now (lanes for the first job need it), then every 2 s at most
        // as often as heartbeats (a path's RTT changes slowly; thousands of workers ping too).
        // Each Ping also carries the interval for the fleet as it is now (Ping.heartbeat_interval_ms).
        s.link.start((nonce) => {
          const now = registry.heartbeatIntervalFor();
          usageEveryMs = now / 2;
          return s.send({ ping: { nonce, heartbeat_interval_ms: now } });
        }, Math.max(PING_INTERVAL_MS, interval), () => registry.steadyPingIntervalFor(), registry.samplePingsFor());
        return;
      }
      switch (msg.event) {
        case 'heartbeat':
          handleLiveness(session, msg);
          return;
        case 'job_rejected': {
          registry.sawMessage(session);
          const r = msg.job_rejected!;
          const reason = `${r.reason}: ${clipText(r.message, CLIP_LEN.jobRejectedMessage)}`;
          if (!(await supervisor.rejected({ jobId: r.job_id, attempt: r.attempt, workerId }, reason))) passOn({ jobId: r.job_id, attempt: r.attempt, workerId, rejected: { reason } });
          return;
        }
        case 'job_ended': {
          registry.sawMessage(session);
          const e = msg.job_ended!;
          const state = e.outcome === 'JOB_OUTCOME_COMPLETED' ? 'completed' : e.outcome === 'JOB_OUTCOME_CANCELLED' ? 'cancelled' : 'failed';
          const reason = state === 'completed' ? null : clipText(e.message, CLIP_LEN.jobEndedMessage) || `ffmpeg exited with code ${e.exit_code}`;
          if (!(await supervisor.workerReportedEnd({ jobId: e.job_id, attempt: e.attempt, workerId }, { state, reason }))) passOn({ jobId: e.job_id, attempt: e.attempt, workerId, ended: { state, reason } });
          return;
        }
        case 'pong':
          handleLiveness(session, msg);
          return;
        case 'drain_started':
          registry.sawMessage(session);
          await deps.drain.drain(workerId, clipText(msg.drain_started?.reason || 'worker is shutting down', CLIP_LEN.drainReason), { notifyWorker: false });
          return;
        case 'register':
          throw new AppError('invalid_request', 'already registered on this stream');
        default:
          registry.sawMessage(session);
          return; // an event from a newer worker version: ignore
      }
    }
  };

  // A report on a job this coordinator does not run: its owner may be a peer (cluster/peer-relay.ts).
  // Not awaited: a slow peer must not hold up this worker's next messages.
  const passOn = (report: JobReportBody) => {
    if (ctx.clustered && supervisor.peers) void supervisor.peers.reportToOwner(report).catch(() => false);
  };

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
