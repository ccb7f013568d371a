// The worker's life: keep a registered control stream to one coordinator of the
// TVARR_COORDINATOR_URL list, run the jobs it starts, and drain or stop on request.
//
// Moving (several coordinators): when the control stream is lost the worker dials the
// next address at once (coordinator-rotation.ts orders them) and registers there as the
// same identity, reporting its running jobs in Register.active_jobs; the jittered backoff
// is waited once per full round, so a live coordinator is reached without delay. Jobs are
// not stopped by the move: each job's stream dials the coordinator that started it, and
// ends only if that coordinator goes (its stream fails) or the new one lists it in
// Registered.cancel_jobs.
//
// Draining: `drain` from the coordinator or SIGTERM (startDrain) stops new jobs;
// `resume` lifts a coordinator drain but never a local SIGTERM drain.
import { EventEmitter } from 'node:events';
import type { Logger } from '../../common/log';
import { isHostPort, type WorkerConfig } from '../config';
import type { Capabilities } from '../probe/capabilities';
import { ResourceSampler } from '../heartbeat/resource-sampler';
import { JobProcess } from '../runner/job-process';
import { buildFfmpegArgs } from '../runner/build-args';
import type { TranscodeSpec } from '../runner/transcode-spec';
import { backoffDelayMs } from './backoff';
import { ClientPool } from './client-pool';
import { ControlSession, type SessionResult } from './control-session';
import { CoordinatorRotation, directTarget, type CoordinatorTarget, type ResolveHost } from './coordinator-rotation';
import { jobKey, type IncomingCommand, type JobEndedInfo, type JobRef, type Limits, type OutgoingEvent } from './domain';
import { decideAdmission, decideOutcome, jobSlots, type SlotUsage } from './job-admission';
import { bridgeJobStream, jobProgress, openJobStream, type JobStreamResult } from './job-stream';
import { bridgeJobLanes, openJobLanes } from './job-lanes';
import { MAX_JOB_STREAM_LANES } from '../../common/job-lanes';
import { callMetadata, createCoordinatorClient, explainConnectionFailure, type CreateClient } from './grpc-connection';

interface RunningJob {
  ref: JobRef;
  spec: TranscodeSpec;
  kind: 'cpu' | 'gpu';
  /** job stream calls for this job (1 = the single-call format) */
  lanes: number;
  /**
   * Where its job stream dials: the coordinator that started it, or the owner that
   * StartJob.job_stream_address names; there wherever the control stream has moved since.
   */
  coordinator: CoordinatorTarget;
  proc?: JobProcess;
  cancelReason?: string;
  ended: Promise<void>;
}

export interface AgentOptions {
  config: WorkerConfig;
  capabilities: Capabilities;
  logger: Logger;
  version: string;
  /** Builds the client for one coordinator address (job stream lanes ask for their own connection); defaults to one from config. */
  createClient?: CreateClient;
  /** Resolves a TVARR_COORDINATOR_URL host name to its addresses; defaults to the system resolver. */
  resolve?: ResolveHost;
  /** Picks the address the first round starts at; defaults to Math.random. */
  random?: () => number;
  sampler?: ResourceSampler;
}

/** Typed lifecycle events, for logs and tests. */
export interface AgentEvents {
  registered: [{ workerId: string; heartbeatIntervalMs: number; coordinator: string; address: string }];
  /** A control stream ended (or never opened); retryInMs 0 = the next address is dialled at once. */
  disconnected: [{ reason: string; retryInMs: number; address: string }];
  'job:started': [JobRef & { pid: number }];
  'job:rejected': [JobRef & { reason: string; message: string }];
  'job:ended': [JobEndedInfo];
  idle: [];
}

export class WorkerAgent extends EventEmitter<AgentEvents> {
  private readonly jobs = new Map<string, RunningJob>();
  private readonly createClient: CreateClient;
  private readonly pool: ClientPool;
  private readonly rotation: CoordinatorRotation;
  private readonly sampler: ResourceSampler;
  private session: ControlSession | undefined;
  /** job_ended events that could not be sent while disconnected; resent after registering. */
  private readonly unsent: OutgoingEvent[] = [];
  private coordinatorDrain = false;
  private localDrain: string | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly o: AgentOptions) {
    super();
    this.createClient = o.createClient ?? ((target, opts) => createCoordinatorClient(o.config, target, opts));
    this.pool = new ClientPool(this.createClient);
    this.rotation = new CoordinatorRotation(o.config.coordinatorUrls, { resolve: o.resolve, random: o.random });
    this.sampler = o.sampler ?? new ResourceSampler(o.capabilities.gpus.some((g) => g.vendor === 'nvidia'));
  }

  get draining(): boolean {
    return this.coordinatorDrain || this.localDrain !== undefined;
  }

  get activeJobs(): JobRef[] {
    return [...this.jobs.values()].map((j) => j.ref);
  }

  get limits(): Limits {
    const { maxJobs, maxGpuJobs, maxCpuJobs } = this.o.config;
    return { maxJobs, maxGpuJobs, maxCpuJobs };
  }

  start(): void {
    this.loop ??= this.connectLoop();
  }

  /**
   * Rounds over the coordinator list until stopped. Within a round the next address is
   * dialled at once whenever one is lost or refuses; a round that ends without a session
   * that settled (kept past its first heartbeat) ends with the backoff, which such a session
   * resets. A lost coordinator is tried again only in the next round, after the others.
   */
  private async connectLoop(): Promise<void> {
    const { config, logger } = this.o;
    let failedRounds = 0;
    let lastHint: string | undefined;
    while (!this.stopped) {
      const round = await this.rotation.round();
      if (round.unresolved.length > 0) logger.warn('cannot resolve coordinator', { unresolved: round.unresolved });
      const several = round.targets.length > 1;
      let pending = round.targets;
      let reason = round.unresolved.length > 0 ? `cannot resolve ${round.unresolved.join('; ')}` : 'no coordinator address';
      let last: CoordinatorTarget | undefined;
      while (pending.length > 0 && !this.stopped) {
        const target = pending.shift()!;
        this.rotation.tried(target);
        const result = await this.runSession(target, several);
        if (this.stopped) return;
        last = target;
        reason = result.reason;
        // Kept past its first heartbeat, then lost: the backoff starts again and the others are
        // tried now (names resolved again), this one in the next round. A coordinator that
        // registers us and drops us at once only moves us on within this round, so a cluster
        // that does that to every worker is not dialled in a loop faster than the backoff.
        if (result.settled) {
          failedRounds = 0;
          pending = (await this.rotation.round()).targets.filter((t) => t.address !== target.address);
        }
        if (result.registered) {
          lastHint = undefined;
        } else {
          // A misconfiguration (TLS trust, token) gets one clear error line naming what to fix.
          // Only for a coordinator that never took us: a lost one (reset, killed) proved TLS and token fine.
          const hint = explainConnectionFailure(result.reason, config);
          if (hint && hint !== lastHint) logger.error('cannot connect to the coordinator', { hint, reason: result.reason, address: target.address });
          lastHint = hint;
        }
        const next = pending[0];
        if (next) {
          logger.warn('coordinator lost; trying next', { coordinator: target.entry, address: target.address, reason, next: next.address });
          this.emit('disconnected', { reason, retryInMs: 0, address: target.address });
        }
      }
      if (this.stopped) break;
      const retryInMs = backoffDelayMs(failedRounds++, config.reconnectBaseMs, config.reconnectMaxMs);
      logger.warn('control stream lost; reconnecting', { coordinator: last?.entry, address: last?.address, reason, retryInMs });
      this.emit('disconnected', { reason, retryInMs, address: last?.address ?? '' });
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, retryInMs);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** One Control call to `target`, from dial to loss. */
  private async runSession(target: CoordinatorTarget, several: boolean): Promise<SessionResult> {
    const { config, logger } = this.o;
    const client = this.pool.acquire(target);
    const session = new ControlSession(client, callMetadata(config), {
      registration: () => ({
        workerId: config.workerId,
        name: config.workerName,
        version: this.o.version,
        hostname: config.hostname,
        capabilities: this.o.capabilities,
        limits: this.limits,
        activeJobs: this.activeJobs,
        draining: this.draining,
        maxRenditions: config.maxRenditions >= 2 ? config.maxRenditions : 0,
      }),
      onRegistered: (cmd) => this.onRegistered(cmd, target),
      onCommand: (cmd) => this.onCommand(cmd, target),
      heartbeat: async () => ({
        type: 'heartbeat',
        usage: await this.sampler.sample(),
        jobs: [...this.jobs.values()].flatMap((j) => (j.proc ? [jobProgress(j.ref, j.proc)] : [])),
      }),
    }, logger, {
      // With another coordinator to go to, an address that does not even connect is given up
      // after as long as a silent connection takes to be declared lost (keepalive).
      connectMs: several ? config.keepaliveTimeMs + config.keepaliveTimeoutMs : undefined,
    });
    this.session = session;
    try {
      return await session.run();
    } finally {
      this.session = undefined;
      this.pool.release(target);
    }
  }

  private onRegistered(cmd: Extract<IncomingCommand, { type: 'registered' }>, target: CoordinatorTarget): void {
    const { config, logger } = this.o;
    const workerId = cmd.workerId || config.workerId;
    logger.info('registered', {
      workerId,
      coordinator: target.entry,
      address: target.address,
      heartbeatIntervalMs: cmd.heartbeatIntervalMs,
      activeJobs: this.jobs.size,
      draining: this.draining,
    });
    this.emit('registered', { workerId, heartbeatIntervalMs: cmd.heartbeatIntervalMs, coordinator: target.entry, address: target.address });
    for (const ref of cmd.cancelJobs) this.cancelJob(ref, 'coordinator no longer wants this job (reconciled at registration)');
    const pending = this.unsent.splice(0);
    for (const e of pending) void this.send(e);
    if (this.localDrain) void this.send({ type: 'drain_started', reason: this.localDrain });
  }

  private onCommand(cmd: IncomingCommand, from: CoordinatorTarget): void {
    switch (cmd.type) {
      case 'registered':
        return;
      case 'start_job':
        return this.startJob(cmd.job, cmd.spec, cmd.streamLanes, cmd.jobStreamAddress ? jobOwnerTarget(cmd.jobStreamAddress) : from);
      case 'ping':
        return; // answered by the control session
      case 'cancel_job':
        return this.cancelJob(cmd.job, cmd.reason || 'cancelled by coordinator');
      case 'drain':
        this.o.logger.info('drain requested by coordinator', { reason: cmd.reason });
        this.coordinatorDrain = true;
        return;
      case 'resume':
        this.o.logger.info('resume requested by coordinator', { localDrain: this.localDrain ?? null });
        this.coordinatorDrain = false;
        return;
      case 'unknown':
        this.o.logger.warn('unknown command ignored');
        return;
      default: {
        const never: never = cmd;
        throw new Error(`unhandled command ${JSON.stringify(never)}`);
      }
    }
  }

  private slotUsage(): SlotUsage {
    // A job being cancelled holds no slot (proto CancelJob): the coordinator has already
    // counted it free and may start its replacement right behind the cancel.
    const all = [...this.jobs.values()].filter((j) => j.cancelReason === undefined);
    const sum = (jobs: RunningJob[]) => jobs.reduce((n, j) => n + jobSlots(j.spec), 0);
    return { total: sum(all), gpu: sum(all.filter((j) => j.kind === 'gpu')), cpu: sum(all.filter((j) => j.kind === 'cpu')) };
  }

  private startJob(ref: JobRef, spec: TranscodeSpec, suggestedLanes: number, coordinator: CoordinatorTarget | null): void {
    const logger = this.o.logger.child({ jobId: ref.jobId, attempt: ref.attempt });
    if (this.jobs.has(jobKey(ref))) {
      logger.warn('duplicate start_job ignored; attempt already running');
      return;
    }
    if (coordinator === null) {
      const message = 'job_stream_address is not host:port (at most 255 characters)';
      logger.warn('job rejected', { reason: 'invalid_spec', message });
      void this.send({ type: 'job_rejected', job: ref, reason: 'invalid_spec', message });
      return;
    }
    const decision = decideAdmission({
      draining: this.draining,
      spec,
      encoders: this.o.capabilities.encoders,
      limits: this.limits,
      usage: this.slotUsage(),
      maxRenditions: this.o.config.maxRenditions,
    });
    if (!decision.accept) {
      logger.info('job rejected', { reason: decision.reason, message: decision.message, encoder: spec.encoder });
      void this.send({ type: 'job_rejected', job: ref, reason: decision.reason, message: decision.message });
      this.emit('job:rejected', { ...ref, reason: decision.reason, message: decision.message });
      return;
    }
    // TVARR_JOB_STREAM_LANES set: that many; else the coordinator's suggestion (from RTT and bitrate).
    const lanes = Math.min(MAX_JOB_STREAM_LANES, Math.max(1, this.o.config.jobStreamLanes || suggestedLanes || 1));
    const job: RunningJob = { ref, spec, kind: decision.kind, lanes, coordinator, ended: Promise.resolve() };
    this.jobs.set(jobKey(ref), job);
    job.ended = this.runJob(job, logger);
  }

  private async runJob(job: RunningJob, logger: ReturnType<Logger['child']>): Promise<void> {
    const { config } = this.o;
    const { lanes, coordinator } = job;
    // Lanes: one fresh client (own connection) per lane for this job, closed when it ends;
    // a single call shares the connection to its coordinator (held until the job ends).
    const laneClients = lanes > 1 ? Array.from({ length: lanes }, () => this.createClient(coordinator, { ownConnection: true })) : [];
    const calls = lanes > 1 ? openJobLanes(laneClients, () => callMetadata(config), job.ref) : [openJobStream(this.pool.acquire(coordinator), callMetadata(config), job.ref)];
    if (lanes > 1) logger.info('job stream lanes opened', { lanes });
    let ended: JobEndedInfo;
    try {
      const args = buildFfmpegArgs(job.spec, {
        vaapiDevice: this.o.capabilities.gpus.find((g) => g.device.startsWith('/dev/dri/'))?.device,
        gpuScaler: this.o.capabilities.gpuScaler,
      });
      const proc = new JobProcess({ ffmpegPath: config.ffmpegPath, args });
      job.proc = proc;
      logger.info('job started', { pid: proc.pid, encoder: job.spec.encoder, width: job.spec.width, height: job.spec.height });
      this.emit('job:started', { ...job.ref, pid: proc.pid });
      if (job.cancelReason !== undefined) void proc.cancel();
      const result: JobStreamResult =
        lanes > 1 ? await bridgeJobLanes({ calls, proc, ref: job.ref, logger }) : await bridgeJobStream({ call: calls[0]!, proc, ref: job.ref, logger });
      ended = { ...job.ref, ...decideOutcome({ exit: result.exit, cancelReason: job.cancelReason, streamFailure: result.streamFailure }) };
    } catch (err) {
      for (const call of calls) call.cancel();
      ended = { ...job.ref, outcome: 'failed', message: `cannot run ffmpeg: ${(err as Error).message}`, exitCode: -1 };
    }
    for (const c of laneClients) c.close();
    if (lanes <= 1) this.pool.release(coordinator);
    this.jobs.delete(jobKey(job.ref));
    logger.info('job ended', { outcome: ended.outcome, exitCode: ended.exitCode, message: ended.message });
    const event: OutgoingEvent = { type: 'job_ended', ended };
    if (!(await this.send(event))) this.unsent.push(event);
    this.emit('job:ended', ended);
    if (this.jobs.size === 0) this.emit('idle');
  }

  /** Kills one job's FFmpeg; it is reported CANCELLED with this reason. Unknown jobs are ignored. */
  cancelJob(ref: JobRef, reason: string): void {
    const job = this.jobs.get(jobKey(ref));
    if (!job) {
      this.o.logger.debug('cancel for unknown job ignored', { jobId: ref.jobId, attempt: ref.attempt });
      return;
    }
    job.cancelReason ??= reason;
    void job.proc?.cancel();
  }

  private send(event: OutgoingEvent): Promise<boolean> {
    return this.session?.send(event) ?? Promise.resolve(false);
  }

  /**
   * SIGTERM: take no new jobs, tell the coordinator (it moves our jobs elsewhere and
   * cancels them here), and resolve once no jobs remain or the timeout passes, after
   * which remaining jobs are killed.
   */
  async startDrain(reason: string, timeoutMs: number): Promise<void> {
    this.localDrain ??= reason;
    this.o.logger.info('draining', { reason, jobs: this.jobs.size, timeoutMs });
    void this.send({ type: 'drain_started', reason });
    if (this.jobs.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = await Promise.race([
        new Promise<boolean>((r) => this.once('idle', () => r(false))),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
      ]);
      clearTimeout(timer);
      if (timedOut) this.o.logger.warn('drain timeout; killing remaining jobs', { jobs: this.jobs.size });
    }
    await this.stop('drain finished');
  }

  /** Kills all jobs, reports them, and closes the connection. */
  async stop(reason: string): Promise<void> {
    for (const job of this.jobs.values()) this.cancelJob(job.ref, `worker stopping: ${reason}`);
    await Promise.all([...this.jobs.values()].map((j) => j.ended));
    this.stopped = true;
    this.wake?.();
    // Half-close so the last job_ended reaches the coordinator, then cut it off if it does not close its side.
    const session = this.session;
    session?.close(true);
    const closed = await Promise.race([
      (this.loop ?? Promise.resolve()).then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 2000).unref?.()),
    ]);
    if (!closed) session?.close(false);
    await this.loop;
    this.pool.closeAll();
  }
}

/**
 * StartJob.job_stream_address as a target: host:port (worker/config.ts isHostPort), at most
 * 255 characters (the proto's bound); null for anything else.
 */
export function jobOwnerTarget(address: string): CoordinatorTarget | null {
  return isHostPort(address, 255) ? directTarget(address) : null;
}
