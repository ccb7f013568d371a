// Live job attempts: dispatch to the best worker, attach job streams, and end each
// attempt exactly once whichever signal comes first (worker report, stream loss,
// worker loss, start timeout, cancel). Row writes go through job-store's fences.
import type { CoreContext } from '../context';
import type { TranscodeSpec } from '../domain';
import { checkLaneOpen, chooseLanes, linkCarries } from '../../common/job-lanes';
import { AppError } from '../errors';
import { specToProto } from '../grpc/convert';
import { claimJob, describeNoCandidate } from '../scheduler/claim-job';
import type { WorkerRegistry } from '../workers/worker-registry';
import { ActiveJob, type JobEnd, type JobEndCause } from './active-job';
import { retryWrite } from '../db/retry-write';
import { endJob, isJobOwnedBy, markJobRunning, type JobFence } from './job-store';
import type { PeerRelay } from '../cluster/peer-relay';
import { assertRunnableProfile, buildLadderSpec, buildTranscodeSpec, type ProfileRow } from './transcode-spec';
import type { Candidate } from '../scheduler/list-candidate-workers';

export interface DispatchRequest {
  runId?: string;
  sourceId: string;
  profile: ProfileRow;
  attempt: number;
  role?: 'primary' | 'standby';
  excludeWorkerIds?: readonly string[];
  /** A failover attempt: keyframe right after what the clients got (streams/splice-point.ts). */
  spliceKeyframePts?: number;
  /** Keyframes on the source's (a ladder rendition: streams/segment-grid.ts); hot standby profiles always do. */
  keyframesFollowSource?: boolean;
}

/** A ladder job: every rendition of one ladder of one source, from one decode. */
export interface LadderDispatchRequest {
  runId?: string;
  sourceId: string;
  ladderId: string;
  /** The renditions' profiles, in the ladder's order (program i + 1 is profiles[i]). */
  profiles: readonly ProfileRow[];
  attempt: number;
  excludeWorkerIds?: readonly string[];
}

/** What place() claims and starts: one job row, `slots` slots, the spec for the chosen encoder. */
interface Placement {
  runId?: string;
  sourceId: string;
  /** jobs.profile_id: the profile, or the ladder of a ladder job. */
  profileId: string;
  codec: string;
  preference: string | null;
  attempt: number;
  role?: 'primary' | 'standby';
  excludeWorkerIds?: readonly string[];
  slots: number;
  accepts?: (c: Candidate) => boolean;
  /** Whether a worker of a live peer may take it when none of ours can. */
  peers: boolean;
  /** What could not be placed, for the no_capacity message. */
  what: string;
  /** Whose spec it is, for an invalid_spec message. */
  invalid: string;
  spec: (encoder: string) => TranscodeSpec;
}

export class JobSupervisor {
  private readonly live = new Map<string, ActiveJob>();
  // Attempts whose end is being written (recordEnd), by job id.
  private readonly ending = new Map<string, Promise<void>>();
  /** A source's measured bitrate in kbit/s (0 = not known yet); set by the variant registry. */
  sourceKbps: (sourceId: string) => number = () => 0;
  /**
   * Cluster mode: the way to workers whose Control stream a peer holds (cluster/peer-relay.ts).
   * A job goes there only when none of this coordinator's own workers can take it.
   */
  peers: PeerRelay | null = null;

  constructor(
    private readonly ctx: CoreContext,
    private readonly registry: WorkerRegistry,
  ) {
    registry.onWorkerLost((workerId, reason) => this.failJobsOfWorker(workerId, `worker lost: ${reason}`));
  }

  get(jobId: string): ActiveJob | undefined {
    return this.live.get(jobId);
  }

  liveJobs(): ActiveJob[] {
    return [...this.live.values()];
  }

  /** One job for one variant (see place). */
  async dispatch(req: DispatchRequest): Promise<ActiveJob> {
    assertRunnableProfile(req.profile);
    const pref = req.profile.encoderPreference ? ` (preference ${req.profile.encoderPreference})` : '';
    return this.place({
      runId: req.runId,
      sourceId: req.sourceId,
      profileId: req.profile.id,
      codec: req.profile.videoCodec,
      preference: req.profile.encoderPreference,
      attempt: req.attempt,
      role: req.role,
      excludeWorkerIds: req.excludeWorkerIds,
      slots: 1,
      peers: true,
      what: `${req.profile.videoCodec}${pref}`,
      invalid: `profile '${req.profile.id}'`,
      spec: (encoder) => {
        const spec = buildTranscodeSpec(req.profile, encoder, { keyframesFollowSource: req.keyframesFollowSource });
        return req.spliceKeyframePts ? { ...spec, spliceKeyframePts: req.spliceKeyframePts } : spec;
      },
    });
  }

  /**
   * A ladder job (proto TranscodeSpec.renditions): every rendition of `profiles` from one
   * decode on one worker, holding one slot per rendition, on a worker of this coordinator
   * that runs ladder jobs that large (Register.max_renditions). no_capacity when none can:
   * the caller runs the renditions as jobs of their own instead (jobs/ladder-jobs.ts).
   */
  async dispatchLadder(req: LadderDispatchRequest): Promise<ActiveJob> {
    for (const p of req.profiles) assertRunnableProfile(p);
    const first = req.profiles[0]!;
    const n = req.profiles.length;
    const pref = first.encoderPreference ? ` (preference ${first.encoderPreference})` : '';
    return this.place({
      runId: req.runId,
      sourceId: req.sourceId,
      profileId: req.ladderId,
      codec: first.videoCodec,
      preference: first.encoderPreference,
      attempt: req.attempt,
      excludeWorkerIds: req.excludeWorkerIds,
      slots: n,
      accepts: (c) => (this.registry.get(c.workerId)?.maxRenditions ?? 0) >= n,
      // StartJob through a peer would work, but its Register.max_renditions is the peer's to know.
      peers: false,
      what: `a ladder of ${n} ${first.videoCodec} renditions${pref} in one job (${n} free slots, ladder jobs of ${n})`,
      invalid: `ladder '${req.ladderId}'`,
      spec: (encoder) => buildLadderSpec(req.profiles, encoder),
    });
  }

  /**
   * Claims a slot on the best candidate, sends StartJob and waits until the worker opens
   * the job stream. A refusal or a start timeout fails that attempt row (with the reason)
   * and the next candidate is tried; no candidate left gives no_capacity with reasons.
   * A spec the shared rules refuse (here, or on a worker as REJECT_REASON_INVALID_SPEC)
   * is the profile's fault: invalid_spec at once, no other worker is tried.
   */
  private async place(p: Placement): Promise<ActiveJob> {
    const excluded = new Set(p.excludeWorkerIds ?? []);
    const refusals: string[] = [];
    // Attempts after a refusal belong to the same run, so the history shows where it went.
    let runId = p.runId;
    const sourceKbps = this.sourceKbps(p.sourceId);
    for (;;) {
      const now = this.ctx.clock.now();
      const selectStart = performance.now();
      const request = {
        runId,
        sourceId: p.sourceId,
        profileId: p.profileId,
        codec: p.codec,
        preference: p.preference,
        attempt: p.attempt,
        role: p.role,
        excludeWorkerIds: [...excluded],
        attachedTo: this.ctx.clustered ? this.ctx.coordinatorId : undefined,
        owner: this.ctx.coordinatorId,
        fence: this.ctx.clustered ? (this.ctx.fenceFor?.(p.sourceId) ?? { ownerId: this.ctx.coordinatorId ?? '', token: -1 }) : undefined,
        now,
        // A worker whose link cannot carry the source goes last (scheduler/claim-job.ts).
        linkFits: sourceKbps > 0 ? (workerId: string) => linkCarries(this.registry.get(workerId)?.link.rttMs ?? null, sourceKbps) : undefined,
        slots: p.slots,
        accepts: p.accepts,
      };
      let claim = await claimJob(this.ctx.store, request);
      // None of ours can: a worker held by a live peer (its Control stream carries StartJob,
      // the job stream comes here). Their links were measured by the peer, not here.
      if (!claim && p.peers && this.ctx.clustered && this.peers) {
        const peerIds = await this.peers.livePeerIds();
        if (peerIds.length > 0) claim = await claimJob(this.ctx.store, { ...request, attachedTo: peerIds, linkFits: undefined });
      }
      this.ctx.events.emit('scheduler:selected', { durationMs: performance.now() - selectStart, found: claim !== null });
      if (!claim) {
        const why = refusals.length ? `; tried: ${refusals.join('; ')}` : '';
        const excludedWhy = await describeNoCandidate(this.ctx.store, p.codec, p.preference, now);
        throw new AppError('no_capacity', `no online worker with a free slot can encode ${p.what}: ${excludedWhy}${why}`);
      }
      runId = claim.runId;
      const { candidate } = claim;
      const job = new ActiveJob({
        jobId: claim.jobId,
        runId: claim.runId,
        attempt: claim.attempt,
        workerId: candidate.workerId,
        encoder: candidate.encoder,
        kind: candidate.kind,
      });
      this.live.set(job.jobId, job);
      job.onEnd((end) => this.recordEnd(job, end));
      this.ctx.events.emit('job:assigned', {
        jobId: job.jobId,
        runId: claim.runId,
        workerId: candidate.workerId,
        encoder: candidate.encoder,
        attempt: claim.attempt,
      });
      try {
        await this.startOnWorker(job, p.spec(candidate.encoder), sourceKbps);
        return job;
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        if (err instanceof AppError && err.code === 'invalid_spec') {
          job.finish({ state: 'failed', reason, cause: 'invalid_spec' });
          throw err;
        }
        if (job.ended?.cause === 'invalid_spec') {
          throw new AppError('invalid_spec', `${p.invalid} cannot be run: ${candidate.workerId} ${reason}`);
        }
        refusals.push(`${candidate.workerId}: ${reason}`);
        excluded.add(candidate.workerId);
        job.finish({ state: 'failed', reason });
      }
    }
  }

  private async startOnWorker(job: ActiveJob, spec: TranscodeSpec, sourceKbps: number): Promise<void> {
    const session = this.registry.get(job.info.workerId);
    const start = { job_id: job.jobId, attempt: job.info.attempt, spec: specToProto(spec), stream_lanes: 0 };
    if (session) {
      // Lanes from the link's RTT and the source's bitrate: a far worker gets enough calls to keep pace.
      start.stream_lanes = chooseLanes(session.link.rttMs, sourceKbps);
      if (start.stream_lanes > 1) this.ctx.log.info('job stream lanes suggested', { jobId: job.jobId, workerId: job.info.workerId, lanes: start.stream_lanes, rttMs: session.link.rttMs, sourceKbps });
      if (!session.send({ start_job: start })) throw new Error('control stream closed');
    } else if (this.ctx.clustered && this.peers) {
      // Held by a peer: StartJob through it (its job stream dials here, StartJob.job_stream_address).
      await this.peers.startJob(job.info.workerId, start);
      this.ctx.log.info('job placed on a worker of another coordinator', { jobId: job.jobId, workerId: job.info.workerId });
    } else {
      throw new Error('worker is not connected');
    }
    const timeoutMs = this.ctx.config.liveness.jobStartTimeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.sendCancel(job, 'start timeout');
        reject(new Error(`worker did not open the job stream within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      await Promise.race([job.waitAttached(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A worker opened a job stream: allowed only for its own live attempt. The caller
   * (grpc/job-stream.ts) holds the stream's later messages until this resolves, so
   * output sent right behind `open` is neither lost nor handed to another attempt.
   */
  async attachStream(fence: JobFence, attach: (job: ActiveJob) => void): Promise<ActiveJob> {
    const job = this.live.get(fence.jobId);
    if (!job || job.info.workerId !== fence.workerId || job.info.attempt !== fence.attempt || job.attached || job.openLanes > 0 || job.attaching) {
      throw new AppError('permission_denied', `job ${fence.jobId} attempt ${fence.attempt} is not assigned to this worker`);
    }
    // Claimed before the first await: a second open of the same attempt is refused above.
    job.attaching = true;
    try {
      if (!(await markJobRunning(this.ctx.store, fence, this.ctx.clock.now()))) {
        throw new AppError('permission_denied', `job ${fence.jobId} is no longer pending`);
      }
    } finally {
      job.attaching = false;
    }
    if (job.ended) throw new AppError('permission_denied', `job ${fence.jobId} ended while its stream opened`);
    attach(job);
    this.ctx.events.emit('job:started', { jobId: job.jobId, workerId: fence.workerId });
    return job;
  }

  /**
   * Lane `lane` of `lanes` (> 1) of a job stream opened, under the same fence as
   * attachStream. The attempt counts as started (pending -> running, input flows) only
   * once all lanes are open: input is striped over every lane from its first byte, and a
   * lane that never opens is then caught by the start timeout like a missing stream.
   */
  async attachLane(fence: JobFence, lane: number, lanes: number, open: (job: ActiveJob) => boolean): Promise<ActiveJob> {
    const job = this.live.get(fence.jobId);
    if (!job || job.info.workerId !== fence.workerId || job.info.attempt !== fence.attempt || job.attached) {
      throw new AppError('permission_denied', `job ${fence.jobId} attempt ${fence.attempt} is not assigned to this worker`);
    }
    const why = checkLaneOpen(lane, lanes);
    if (why) throw new AppError('invalid_request', why);
    if (!open(job)) {
      this.ctx.log.info('job stream lane opened', { jobId: job.jobId, workerId: fence.workerId, lane, lanes, open: job.openLanes });
      return job;
    }
    if (!(await markJobRunning(this.ctx.store, fence, this.ctx.clock.now()))) {
      job.finish({ state: 'failed', reason: 'job is no longer pending' });
      throw new AppError('permission_denied', `job ${fence.jobId} is no longer pending`);
    }
    this.ctx.log.info('job stream lane opened', { jobId: job.jobId, workerId: fence.workerId, lane, lanes, open: job.openLanes });
    this.ctx.log.info('job stream lanes attached', { jobId: job.jobId, workerId: fence.workerId, lanes });
    this.ctx.events.emit('job:started', { jobId: job.jobId, workerId: fence.workerId });
    return job;
  }

  /** Worker-reported events are fenced: another worker's job id changes nothing. */
  async owned(fence: JobFence): Promise<ActiveJob | undefined> {
    const job = this.ownedHere(fence);
    if (!job) return undefined;
    return (await isJobOwnedBy(this.ctx.store, fence)) ? job : undefined;
  }

  /**
   * The in-memory half of `owned`: this process runs that attempt on that worker. Enough
   * for progress reports, which change nothing durable (a heartbeat's jobs are not worth
   * a database read each).
   */
  ownedHere(fence: JobFence): ActiveJob | undefined {
    const job = this.live.get(fence.jobId);
    if (!job || job.info.workerId !== fence.workerId || job.info.attempt !== fence.attempt) return undefined;
    return job;
  }

  async rejected(fence: JobFence, reason: string): Promise<boolean> {
    const job = await this.owned(fence);
    if (!job) return false;
    this.ctx.events.emit('job:rejected', { jobId: fence.jobId, workerId: fence.workerId, reason });
    const cause: JobEndCause = reason.startsWith('REJECT_REASON_INVALID_SPEC') ? 'invalid_spec' : 'rejected';
    return job.finish({ state: 'failed', reason: `rejected by worker: ${reason}`, cause });
  }

  async workerReportedEnd(fence: JobFence, end: JobEnd): Promise<boolean> {
    const job = await this.owned(fence);
    if (!job) return false;
    // A failure the worker reports is its FFmpeg's, unless its job stream broke first.
    const cause: JobEndCause | undefined = end.state !== 'failed' ? undefined : end.reason?.startsWith('job stream ended') ? 'stream' : 'ffmpeg';
    return job.finish({ ...end, cause: end.cause ?? cause });
  }

  cancel(jobId: string, reason: string): boolean {
    const job = this.live.get(jobId);
    if (!job) return false;
    this.sendCancel(job, reason);
    return job.finish({ state: 'cancelled', reason });
  }

  /** CancelJob down the worker's Control stream: ours, or through the peer that holds it. */
  private sendCancel(job: ActiveJob, reason: string): void {
    const cancel = { job_id: job.jobId, attempt: job.info.attempt, reason };
    const session = this.registry.get(job.info.workerId);
    if (session) session.send({ cancel_job: cancel });
    else if (this.ctx.clustered && this.peers) void this.peers.cancelJob(job.info.workerId, cancel);
  }

  failJobsOfWorker(workerId: string, reason: string): void {
    for (const job of [...this.live.values()]) {
      if (job.info.workerId === workerId) job.finish({ state: 'failed', reason, cause: 'worker_lost' });
    }
  }

  /** Resolves once an ended attempt's row is written (the cancel API answers with the row). */
  async settled(jobId: string): Promise<void> {
    await this.ending.get(jobId);
  }

  /** Resolves once every ended attempt's row is written (coordinator stop). */
  async settledAll(): Promise<void> {
    while (this.ending.size > 0) await Promise.all([...this.ending.values()]);
  }

  private recordEnd(job: ActiveJob, end: JobEnd): void {
    this.live.delete(job.jobId);
    // Emitted in the same tick as the removal from `live`, so live + ended bytes never double count.
    if (job.bytesIn > 0 || job.bytesOut > 0) {
      this.ctx.events.emit('bytes:relayed', { workerId: job.info.workerId, bytesIn: job.bytesIn, bytesOut: job.bytesOut });
    }
    const now = this.ctx.clock.now();
    // Retried until it lands: a job row left live would hold the worker's slot.
    const write = retryWrite(this.ctx.log, `end of job ${job.jobId}`, () => endJob(this.ctx.store, job.jobId, end.state, end.reason, now))
      .then((ended) => {
        if (!ended) return;
        const log = end.state === 'failed' ? this.ctx.log.warn : this.ctx.log.info;
        log('job ended', { jobId: job.jobId, workerId: job.info.workerId, state: end.state, reason: end.reason });
        this.ctx.events.emit('job:ended', { jobId: job.jobId, workerId: job.info.workerId, state: end.state, reason: end.reason, cause: end.cause });
      })
      .catch((err: unknown) => this.ctx.log.error('job end not recorded', { jobId: job.jobId, state: end.state, error: err instanceof Error ? err.message : String(err) }))
      .finally(() => this.ending.delete(job.jobId));
    this.ending.set(job.jobId, write);
  }
}
