// A variant (source x profile) being produced: one shared buffer, the job attempt that
// feeds it, and the clients reading it. Failover, handover (drain) and the idle stop all
// happen here, so a client's HTTP response outlives any one worker.
import type { CoreContext } from '../context';
import type { SourceRow } from '../catalog/catalog-store';
import { AppError } from '../errors';
import type { ActiveJob, JobEnd } from '../jobs/active-job';
import type { DispatchRequest, JobSupervisor } from '../jobs/job-supervisor';
import type { LadderPlan, ShareRequest } from '../jobs/ladder-jobs';
import type { SegmentGrid } from './segment-grid';
import type { ProfileRow } from '../catalog/catalog-store';
import { SharedBuffer } from './shared-buffer';
import { DeliveredMedia, SpliceGate } from './splice-point';
import type { SourceEvent } from './source-events';
import { StandbyOutput } from './standby-output';
import type { SourceUpstream } from './source-upstream';
import { feedJob } from '../jobs/feed-job';
import { VariantWatchdog } from './variant-watchdog';


export interface VariantRunDeps {
  ctx: CoreContext;
  supervisor: JobSupervisor;
  upstreamFor(source: SourceRow): SourceUpstream;
  /** The source's running upstream, if any (no new connection is made for asking). */
  upstreamOf?(sourceId: string): SourceUpstream | undefined;
  /** The source's segment grid (segment-grid.ts), shared by all its variants. */
  segmentGridFor?(sourceId: string): SegmentGrid;
  /** Whether a ladder lists this profile as a rendition (asked once, when the run starts); absent: no. */
  isLadderRendition?(profileId: string): Promise<boolean>;
  /** The ladder whose renditions (this profile among them) one job can make; null: none. */
  ladderPlanFor?(profileId: string): Promise<LadderPlan | null>;
  /** A share of that ladder's job (jobs/ladder-jobs.ts); null: run a job of its own. */
  ladderShare?(req: ShareRequest): Promise<ActiveJob | null>;
  onClosed(run: VariantRun, reason: string): void;
}

/**
 * Backoff before the next attempt after `failures` consecutive failed attempts, capped.
 * The first failure retries at once (a healthy variant's failure counts as the first,
 * see HEALTHY_RUN_MS): backoff is there to stop crash loops, not to slow a failover.
 * From the second consecutive failure: base, 2 x base, ... up to max. Pure, for tests.
 */
export function retryDelayMs(failures: number, baseMs: number, maxMs: number): number {
  if (failures <= 1) return 0;
  return Math.min(maxMs, baseMs * 2 ** (failures - 2));
}

interface Handover {
  fromJobId: string;
  /** Set once the replacement has started; null while it is being dispatched. */
  replacement: ActiveJob | null;
  dispatched: Promise<void>;
}

// A job that ran this long counts as healthy: its failure starts a fresh retry budget
// and is retried at once. A crash loop (FFmpeg or a worker failing soon after start)
// never gets this far, so it still backs off.
export const HEALTHY_RUN_MS = 5_000;

// Restarts for source changes are at least this far apart: a source that flips its codec
// every second gets one new attempt per second, not a pile of FFmpeg start-ups.
export const MIN_SOURCE_RESTART_INTERVAL_MS = 1_000;
// More source restarts than this within SOURCE_CHURN_WINDOW_MS is reported as a churning source.
const SOURCE_CHURN_RESTARTS = 5;
const SOURCE_CHURN_WINDOW_MS = 30_000;

export class VariantRun {
  readonly buffer: SharedBuffer;
  private job: ActiveJob | null = null;
  // Hot standby (per profile): a second worker encoding the same source bytes, whose
  // output is held (the last few seconds) but sent to no one until the primary is lost.
  private standby: ActiveJob | null = null;
  private standbyOutput: StandbyOutput | null = null;
  private runId: string | undefined;
  private attempt = 0;
  private failures = 0;
  private stopped = false;
  private graceTimer: ReturnType<typeof setTimeout> | null = null;
  // A drain's handover in progress: at most one per run (the primary's).
  private handover: Handover | null = null;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  // What the clients have been given (latest PTS per stream), for a failover's splice point.
  private readonly delivered = new DeliveredMedia();
  private deliveredFrom: ActiveJob | null = null;
  private seenAdvances = 0;
  readonly watchdog: VariantWatchdog;
  // Restarts after a source change or a stall: one at a time; a request meanwhile is kept.
  private restarting = false;
  private restartWanted: string | null = null;
  private readonly restartTimes: number[] = [];
  /** New attempts started because the source changed (program, reconnect, switch). */
  sourceRestarts = 0;
  lastSourceEvent: SourceEvent | null = null;
  lastStall: { at: number; reason: string } | null = null;
  lastError: string | null = null;
  /**
   * A rendition of a ladder (its profile is listed by one; decided when the run starts):
   * every attempt keys the source's keyframes, so renditions encoded by different jobs,
   * on different workers, started at different times, have keyframes on the same frames,
   * and the HLS segmenter cuts them on the source's segment grid (segment-grid.ts). Only
   * renditions pay for it: following a source with 0.5 s GOPs costs ~25% more bits at the
   * same quality than the profile's own 2 s GOP (README "Ladders").
   */
  private rendition = false;
  /** Its ladder, when one job can make all of that ladder's renditions (decided with `rendition`). */
  private ladderPlan: LadderPlan | null = null;

  constructor(
    private readonly deps: VariantRunDeps,
    readonly source: SourceRow,
    readonly profile: ProfileRow,
  ) {
    this.buffer = new SharedBuffer({
      maxBufferedBytes: deps.ctx.config.bufferBytes,
      stalledReaderTimeoutMs: deps.ctx.config.stalledClientTimeoutMs,
      now: () => deps.ctx.clock.now(),
    });
    this.buffer.onReadersChanged((count) => this.readersChanged(count));
    this.watchdog = new VariantWatchdog({
      stallTimeoutMs: deps.ctx.config.stallTimeoutMs,
      now: () => deps.ctx.clock.now(),
      inputArriving: () => {
        const up = deps.upstreamOf?.(source.id);
        return !!up && up.downSince === null && deps.ctx.clock.now() - up.lastDataAt < 1000;
      },
      onStall: (ms) => this.stalled(ms),
      coordinatorLateMs: () => deps.ctx.loopLag?.lateMs() ?? 0,
    });
  }

  get key(): string {
    return variantKey(this.source.id, this.profile.id);
  }

  get currentJob(): ActiveJob | null {
    return this.job;
  }

  /** The grid this variant's HLS segments are cut on: its source's, for a ladder rendition; null otherwise. */
  get segmentGrid(): SegmentGrid | null {
    return this.rendition ? (this.deps.segmentGridFor?.(this.source.id) ?? null) : null;
  }

  /**
   * Every attempt of the run: a rendition's (and a hot standby's, via its profile) keys the
   * source's keyframes. A rendition of a ladder one job can make takes a share of that
   * ladder job (`input`: where the job's input starts if this request starts it); a
   * standby, or a ladder no worker takes whole, gets a job of its own.
   */
  private async dispatch(req: DispatchRequest, input: FeedFrom = {}): Promise<ActiveJob> {
    if (this.ladderPlan && this.deps.ladderShare && req.role !== 'standby') {
      const share = await this.deps.ladderShare({ source: this.source, plan: this.ladderPlan, profileId: this.profile.id, excludeWorkerIds: req.excludeWorkerIds, input });
      if (share) return share;
    }
    return this.deps.supervisor.dispatch(this.rendition ? { ...req, keyframesFollowSource: true } : req);
  }

  /** Ends an attempt: a CancelJob, or for a share of a ladder job letting go of it (the job goes on for the others). */
  private cancel(job: ActiveJob, reason: string): void {
    if (job.release) job.release(reason);
    else this.deps.supervisor.cancel(job.jobId, reason);
  }

  /** Connects the source and starts the first attempt; throws a clear AppError if either fails. */
  async start(): Promise<void> {
    // Decided once per run: a ladder created or changed later applies from the variant's next start.
    this.rendition = (await this.deps.isLadderRendition?.(this.profile.id)) ?? false;
    this.ladderPlan = this.rendition ? ((await this.deps.ladderPlanFor?.(this.profile.id)) ?? null) : null;
    const upstream = this.deps.upstreamFor(this.source);
    try {
      await upstream.ensureStarted();
      this.attempt = 1;
      const job = await this.dispatch({ sourceId: this.source.id, profile: this.profile, attempt: 1 }, { fromLatestKeyframe: true });
      this.runId = job.info.runId;
      // No client has seen anything yet, so the first job may start from the source's
      // current GOP (a faster first frame); later attempts must not repeat old media.
      this.adopt(job, { fromLatestKeyframe: true });
      this.watchdog.attemptStarted();
    } finally {
      // A failed dispatch leaves the source connected with nobody subscribed: let it go.
      upstream.releaseIfUnused();
    }
    if (this.profile.hotStandby) void this.startStandby();
  }

  get standbyJob(): ActiveJob | null {
    return this.standby;
  }

  get clients(): number {
    return this.buffer.readerCount;
  }

  createClientStream(): ReadableStream<Uint8Array> {
    return this.buffer.createReader();
  }

  /**
   * Starts a replacement on another worker and switches over when it delivers output.
   * One handover per job: a second request for the same job (concurrent drains) joins
   * the one in progress instead of starting a second replacement that nothing would
   * ever stop. The handover lasts until the switch, or until the replacement ends.
   */
  moveJobOff(jobId: string, reason: string): Promise<void> {
    const old = this.job;
    if (!old || old.jobId !== jobId || this.stopped) return Promise.resolve();
    if (this.handover?.fromJobId === jobId) return this.handover.dispatched;
    const handover: Handover = { fromJobId: jobId, replacement: null, dispatched: Promise.resolve() };
    this.handover = handover;
    handover.dispatched = this.startHandover(old, reason, handover);
    return handover.dispatched;
  }

  private async startHandover(old: ActiveJob, reason: string, handover: Handover): Promise<void> {
    this.attempt += 1;
    let replacement: ActiveJob;
    try {
      replacement = await this.dispatch({
        runId: this.runId,
        sourceId: this.source.id,
        profile: this.profile,
        attempt: this.attempt,
        excludeWorkerIds: [old.info.workerId],
      }, {});
    } catch (err) {
      if (this.handover === handover) this.handover = null;
      // Nowhere to move it: keep serving from the draining worker rather than drop clients.
      this.deps.ctx.log.warn('handover found no other worker', { jobId: old.jobId, workerId: old.info.workerId, error: String(err) });
      return;
    }
    if (this.stopped || this.job !== old || this.handover !== handover) {
      // The run stopped or moved on while the replacement started: nothing will read it.
      this.cancel(replacement, 'handover no longer needed');
      return;
    }
    handover.replacement = replacement;
    replacement.onOutput = (chunk) => {
      // First bytes of the replacement: splice here, then retire the old attempt.
      if (this.job === old && this.handover === handover) {
        this.handover = null;
        this.job = replacement;
        this.buffer.beginSegment();
        this.cancel(old, reason);
      }
      if (this.job === replacement) this.deliver(replacement, chunk);
      else this.cancel(replacement, 'handover superseded');
    };
    this.feedInput(replacement);
    replacement.onEnd((end) => {
      if (this.handover === handover) this.handover = null;
      this.jobEnded(replacement, end);
    });
    this.deps.ctx.events.emit('job:reassigned', { runId: this.runId!, fromJobId: old.jobId, attempt: this.attempt });
  }

  stop(reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.watchdog.stop();
    if (this.graceTimer) clearTimeout(this.graceTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.job) this.cancel(this.job, reason);
    if (this.standby) this.cancel(this.standby, reason);
    if (this.handover?.replacement) this.cancel(this.handover.replacement, reason);
    this.handover = null;
    this.buffer.end();
    this.deps.onClosed(this, reason);
  }

  private later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private adopt(job: ActiveJob, input: FeedFrom = {}, gate?: SpliceGate): void {
    this.job = job;
    job.onOutput = (chunk) => {
      if (this.job !== job) return;
      if (!gate) return this.deliver(job, chunk);
      this.passGate(job, gate, chunk);
    };
    this.feedInput(job, input);
    job.onEnd((end) => this.jobEnded(job, end));
  }

  /** A new producer's bytes through its splice gate; logs the splice once it opens. */
  private passGate(job: ActiveJob, gate: SpliceGate, chunk: Uint8Array): void {
    if (this.job !== job) return;
    const wasOpen = gate.isOpen;
    for (const piece of gate.push(chunk)) this.deliver(job, piece);
    if (!wasOpen && gate.isOpen) {
      this.deps.ctx.log.info('failover spliced', { variant: this.key, jobId: job.jobId, droppedBytes: gate.droppedBytes, at: gate.at });
    }
  }

  /** A producer's bytes into the shared buffer, noting what the clients now have. */
  private deliver(job: ActiveJob, chunk: Uint8Array): void {
    if (this.deliveredFrom !== job) {
      this.deliveredFrom = job;
      this.delivered.beginProducer();
    }
    this.delivered.observe(chunk);
    if (this.delivered.advances !== this.seenAdvances) {
      this.seenAdvances = this.delivered.advances;
      this.watchdog.progressed();
    }
    // Every chunk here is (a view of) a gRPC message grpc-js assembled for this call
    // alone, read by nothing after this: the buffer keeps it without a copy.
    this.buffer.write(chunk, { handOver: true });
  }

  /** Source bytes -> the job's stream, waiting on gRPC flow control. */
  private feedInput(job: ActiveJob, input: FeedFrom = {}): void {
    if (job.inputFedElsewhere) return; // a share of a ladder job: the ladder job is fed once
    feedJob(job, this.deps.upstreamFor(this.source).subscribe(input));
  }

  private readersChanged(count: number): void {
    if (count > 0) {
      if (this.graceTimer) clearTimeout(this.graceTimer);
      this.graceTimer = null;
      return;
    }
    if (this.stopped || this.graceTimer) return;
    this.graceTimer = setTimeout(() => this.stop('no clients left'), this.deps.ctx.config.liveness.idleGraceMs);
  }

  private jobEnded(job: ActiveJob, end: JobEnd): void {
    if (this.stopped || job !== this.job) return;
    if (end.state === 'completed') {
      this.lastError = null;
      this.stop('source ended');
      return;
    }
    if (Date.now() - job.startedAt > HEALTHY_RUN_MS) this.failures = 0;
    this.failures += 1;
    this.lastError = end.reason;
    // Whatever comes next (a promotion, a retry) restarts the watch.
    this.watchdog.pause();
    if (this.promoteHandover(job)) return this.watchdog.attemptStarted();
    if (this.promoteStandby(job)) return this.watchdog.attemptStarted();
    this.scheduleRetry(job.info.workerId);
  }

  /** The primary failed while being handed over: its started replacement takes over now. */
  private promoteHandover(failed: ActiveJob): boolean {
    const replacement = this.handover?.replacement;
    if (!replacement || replacement.ended || this.handover?.fromJobId !== failed.jobId) return false;
    this.handover = null;
    this.job = replacement;
    this.buffer.beginSegment();
    this.deps.ctx.log.info('handover replacement took over a failed job', { variant: this.key, jobId: replacement.jobId, failedJobId: failed.jobId });
    return true;
  }

  /**
   * Every attempt of a hot-standby run or a ladder rendition keys exactly the source's
   * keyframes (worker spec keyframesFollowSource), so any two of them share their frame
   * structure: a switch may happen at any frame, not only at a keyframe (splice-point.ts,
   * frame mode). A rendition's failover attempt has no splice keyframe (one would break
   * the alignment), so it must join this way.
   */
  private get switchesAtAnyFrame(): boolean {
    return (this.profile.hotStandby || this.rendition) && this.delivered.videoPts >= 0;
  }

  /** A new producer joins at the frame after the last one delivered: no entry point awaited. */
  private beginFrameSplice(): SpliceGate {
    this.buffer.beginSegment(true);
    return new SpliceGate(new Map(this.delivered.lastDts), 'frame');
  }

  /**
   * The primary is gone: the standby's output goes live from the frame after the last one
   * the clients got, taken from what it made meanwhile (StandbyOutput) and then live.
   */
  private promoteStandby(failed: ActiveJob): boolean {
    const standby = this.standby;
    const held = this.standbyOutput;
    if (!standby || standby.ended || !standby.attached || !held) return false;
    this.standby = null;
    this.standbyOutput = null;
    this.job = standby;
    if (this.switchesAtAnyFrame) {
      const gate = this.beginFrameSplice();
      standby.onOutput = (chunk) => this.passGate(standby, gate, chunk);
      for (const chunk of held.take()) this.passGate(standby, gate, chunk);
    } else {
      // Nothing delivered yet: the standby's output joins at its next keyframe.
      this.buffer.beginSegment();
      standby.onOutput = (chunk) => {
        if (this.job === standby) this.deliver(standby, chunk);
      };
    }
    this.deps.ctx.events.emit('job:reassigned', { runId: this.runId!, fromJobId: failed.jobId, attempt: standby.info.attempt });
    this.deps.ctx.log.info('hot standby promoted', { variant: this.key, jobId: standby.jobId, workerId: standby.info.workerId });
    void this.startStandby();
    return true;
  }

  private async startStandby(): Promise<void> {
    if (this.stopped || this.standby || !this.job) return;
    this.attempt += 1;
    let standby: ActiveJob;
    try {
      standby = await this.dispatch({
        runId: this.runId,
        sourceId: this.source.id,
        profile: this.profile,
        attempt: this.attempt,
        role: 'standby',
        excludeWorkerIds: [this.job.info.workerId],
      });
    } catch (err) {
      // Running without a standby is degraded, not broken: try again later.
      this.deps.ctx.log.warn('no hot standby available', { variant: this.key, error: err instanceof Error ? err.message : String(err) });
      this.later(() => void this.startStandby(), this.deps.ctx.config.liveness.retryBackoffMaxMs);
      return;
    }
    if (this.stopped) {
      this.cancel(standby, 'variant stopped');
      return;
    }
    this.standby = standby;
    const held = new StandbyOutput(() => this.deps.ctx.clock.now());
    this.standbyOutput = held;
    standby.onOutput = (chunk) => held.push(chunk);
    // From the source's current GOP, like the first job: its keyframes are the source's
    // (keyframesFollowSource), so it makes the same frames as the primary from its first one.
    this.feedInput(standby, { fromLatestKeyframe: true });
    standby.onEnd((end) => {
      if (this.standby === standby) {
        this.standby = null;
        this.standbyOutput = null;
        if (!this.stopped) this.later(() => void this.startStandby(), this.deps.ctx.config.liveness.retryBackoffMs);
      }
      this.jobEnded(standby, end);
    });
  }

  /**
   * What the source did (source-upstream.ts). An event with `restart` means the source's
   * content is new from its current GOP (another codec or audio format, a new connection):
   * the running attempt's FFmpeg was opened for the old content, so a new attempt is fed
   * from that GOP's keyframe and spliced into the same shared buffer, clients connected.
   */
  sourceEvent(event: SourceEvent): void {
    if (this.stopped) return;
    this.lastSourceEvent = event;
    if (!event.restart) return;
    // Not started yet, or between attempts: the attempt to come subscribes from the new content.
    if (!this.job || !this.runId) return;
    this.requestRestart(`source ${event.kind}: ${event.detail}`, false);
  }

  /** The watchdog found no new media for a while although the source sent: the attempt is restarted. */
  private stalled(stalledForMs: number): void {
    const job = this.job;
    if (this.stopped || !job || job.ended) return;
    const recent = this.lastSourceEvent && this.deps.ctx.clock.now() - this.lastSourceEvent.at < 2 * this.deps.ctx.config.stallTimeoutMs;
    const reason = `output stalled: no new media for ${(stalledForMs / 1000).toFixed(1)} s while the source kept sending (worker ${job.info.workerId}${recent ? `, after source ${this.lastSourceEvent!.kind}` : ''})`;
    this.lastStall = { at: this.deps.ctx.clock.now(), reason };
    this.deps.ctx.log.warn('variant stalled; restarting the attempt', { variant: this.key, jobId: job.jobId, workerId: job.info.workerId, stalledForMs });
    this.deps.ctx.events.emit('variant:stalled', { variant: this.key, jobId: job.jobId, workerId: job.info.workerId, reason });
    this.requestRestart(reason, true);
  }

  /**
   * Replaces the current attempt by one fed from the source's current GOP. A stall counts
   * against the variant's retry budget (TVARR_MAX_ATTEMPTS; a healthy run resets it) but
   * never against the worker: the old attempt is cancelled, which is no worker fault.
   */
  private requestRestart(reason: string, isFault: boolean): void {
    if (this.restarting) {
      this.restartWanted = reason;
      return;
    }
    const now = this.deps.ctx.clock.now();
    if (isFault) {
      if (this.job && now - this.job.startedAt > HEALTHY_RUN_MS) this.failures = 0;
      this.failures += 1;
      this.lastError = reason;
      if (this.failures >= this.deps.ctx.config.liveness.maxAttempts) return this.fail(`gave up after ${this.failures} failed attempts; last error: ${reason}`);
    } else if (this.job && now - this.job.startedAt > HEALTHY_RUN_MS) {
      // A source change is no failure: an attempt that ran healthy leaves a fresh retry budget.
      this.failures = 0;
    }
    const last = this.restartTimes[this.restartTimes.length - 1] ?? -Infinity;
    const wait = MIN_SOURCE_RESTART_INTERVAL_MS - (now - last);
    this.restarting = true;
    const go = () => void this.restartAttempt(reason).finally(() => this.restartDone());
    if (wait > 0) this.later(go, wait);
    else go();
  }

  private restartDone(): void {
    this.restarting = false;
    const again = this.restartWanted;
    this.restartWanted = null;
    if (again && !this.stopped) this.requestRestart(again, false);
  }

  private async restartAttempt(reason: string): Promise<void> {
    if (this.stopped) return;
    const now = this.deps.ctx.clock.now();
    this.restartTimes.push(now);
    while (this.restartTimes.length > 0 && now - this.restartTimes[0]! > SOURCE_CHURN_WINDOW_MS) this.restartTimes.shift();
    if (this.restartTimes.length > SOURCE_CHURN_RESTARTS) {
      this.lastError = `source changes too often: ${this.restartTimes.length} restarts in ${SOURCE_CHURN_WINDOW_MS / 1000} s (latest: ${reason})`;
    }
    const old = this.job;
    // From here the old attempt's output is not delivered (it decodes the new content with
    // the old decoder) and its end is no failure of this run.
    this.job = null;
    this.watchdog.pause();
    this.sourceRestarts++;
    if (old) this.cancel(old, `restart: ${reason}`);
    if (this.handover?.replacement) this.cancel(this.handover.replacement, 'restart');
    this.handover = null;
    const standby = this.standby;
    this.standby = null;
    this.standbyOutput = null;
    if (standby) this.cancel(standby, 'restart');
    this.attempt += 1;
    try {
      const upstream = this.deps.upstreamFor(this.source);
      await upstream.ensureStarted();
      const job = await this.dispatch({ runId: this.runId, sourceId: this.source.id, profile: this.profile, attempt: this.attempt }, { fromLatestKeyframe: true });
      if (this.stopped) {
        this.cancel(job, 'variant stopped');
        return;
      }
      // The new content's first keyframe, later than anything delivered (the source is
      // restamped onto one timeline, so its timestamps carry on).
      this.buffer.beginSegment();
      this.adopt(job, { fromLatestKeyframe: true }, new SpliceGate(new Map(this.delivered.lastPts)));
      this.watchdog.attemptStarted();
      this.deps.ctx.events.emit('job:reassigned', { runId: this.runId!, fromJobId: old?.jobId ?? '', attempt: this.attempt });
      this.deps.ctx.log.info('variant restarted', { variant: this.key, jobId: job.jobId, workerId: job.info.workerId, attempt: this.attempt, reason });
      if (this.profile.hotStandby) void this.startStandby();
    } catch (err) {
      this.dispatchFailed(err);
    }
  }

  private scheduleRetry(lastWorkerId: string | null): void {
    const { maxAttempts, retryBackoffMs, retryBackoffMaxMs } = this.deps.ctx.config.liveness;
    if (this.failures >= maxAttempts) return this.fail(`gave up after ${this.failures} failed attempts; last error: ${this.lastError}`);
    const previous = this.job;
    const delayMs = retryDelayMs(this.failures, retryBackoffMs, retryBackoffMaxMs);
    // No backoff: dispatch now, in the same tick as the failure, not after a timer.
    if (delayMs === 0) void this.retry(previous, lastWorkerId);
    else this.later(() => void this.retry(previous, lastWorkerId), delayMs);
  }

  private async retry(previous: ActiveJob | null, lastWorkerId: string | null): Promise<void> {
    if (this.stopped) return;
    this.attempt += 1;
    // Splice right after what the clients got: the new attempt starts from the source GOP
    // holding that point, with a keyframe asked for just after it (streams/splice-point.ts).
    const spliceKeyframePts = this.delivered.spliceKeyframePts();
    const splice = spliceKeyframePts > 0 ? { spliceKeyframePts } : {};
    const request = { runId: this.runId, sourceId: this.source.id, profile: this.profile, attempt: this.attempt, ...splice };
    // Where the attempt's input starts (below): a ladder job this retry starts begins there too.
    const from: FeedFrom = this.switchesAtAnyFrame || spliceKeyframePts > 0 ? { fromLatestKeyframe: true, atOrBeforePts: spliceKeyframePts } : {};
    try {
      // The source may have gone idle and closed while no job read it: reconnect first.
      const upstream = this.deps.upstreamFor(this.source);
      await upstream.ensureStarted();
      let job: ActiveJob;
      try {
        // Prefer any other worker for the retry; fall back to the one that failed.
        job = await this.dispatch({ ...request, excludeWorkerIds: lastWorkerId ? [lastWorkerId] : [] }, from);
      } catch (err) {
        if (!lastWorkerId || !(err instanceof AppError) || err.code !== 'no_capacity') {
          upstream.releaseIfUnused();
          throw err;
        }
        job = await this.dispatch(request, from).catch((e: unknown) => {
          upstream.releaseIfUnused();
          throw e;
        });
      }
      if (this.stopped) {
        this.cancel(job, 'variant stopped');
        return;
      }
      if (this.switchesAtAnyFrame) {
        // Its keyframes are the source's, like the failed attempt's: it joins at the frame
        // after the last one delivered, with no keyframe needed there.
        this.adopt(job, { fromLatestKeyframe: true, atOrBeforePts: spliceKeyframePts }, this.beginFrameSplice());
      } else if (spliceKeyframePts > 0) {
        this.buffer.beginSegment();
        this.adopt(job, { fromLatestKeyframe: true, atOrBeforePts: spliceKeyframePts }, new SpliceGate(new Map(this.delivered.lastPts)));
      } else {
        this.buffer.beginSegment();
        this.adopt(job);
      }
      this.watchdog.attemptStarted();
      this.deps.ctx.events.emit('job:reassigned', { runId: this.runId!, fromJobId: previous?.jobId ?? '', attempt: this.attempt });
      this.deps.ctx.log.info('variant resumed on a new worker', { variant: this.key, jobId: job.jobId, workerId: job.info.workerId, attempt: this.attempt });
    } catch (err) {
      this.dispatchFailed(err);
    }
  }

  /** A retry or restart could not start an attempt: retry later, or fail for a spec no worker runs. */
  private dispatchFailed(err: unknown): void {
    this.failures += 1;
    this.lastError = err instanceof Error ? err.message : String(err);
    // No worker would run this profile: retrying cannot help, and no worker is to blame.
    if (err instanceof AppError && err.code === 'invalid_spec') return this.fail(this.lastError);
    this.scheduleRetry(null);
  }

  /** The variant ends visibly: logged, counted (run:failed), clients closed with the reason. */
  private fail(reason: string): void {
    this.deps.ctx.log.error('variant failed', { variant: this.key, runId: this.runId, reason });
    this.deps.ctx.events.emit('run:failed', { runId: this.runId ?? this.key, reason });
    this.stop(reason);
  }
}

/** Where an attempt's source input starts (source-upstream.ts subscribe). */
type FeedFrom = { fromLatestKeyframe?: boolean; atOrBeforePts?: number };

export function variantKey(sourceId: string, profileId: string): string {
  return `${sourceId}/${profileId}`;
}
