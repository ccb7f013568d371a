// One job attempt that a worker is running (or about to run): its job stream, its
// input pump and its single end. Whatever ends it first (JobEnded, stream error,
// worker loss, cancel) wins; later signals are ignored.
//
// With job stream lanes (proto JobStreamOpen) the attempt has N calls: input is striped
// over them by sequence number and output is put back in order before onOutput.
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { DEFAULT_REORDER_LIMIT_BYTES, LaneStriper, SequenceReassembler } from '../../common/job-lanes';
import { downlinkInput, downlinkInputChunk, type PreframedMessage } from '../../common/job-stream-wire';
import { AppError } from '../errors';
import type { JobDownlink } from '../../proto/gen/tvarr/transcode/v1/JobDownlink';
import type { JobUplink__Output } from '../../proto/gen/tvarr/transcode/v1/JobUplink';
import type { JobProgress } from '../domain';
import { ThroughputMeter } from './throughput-meter';

/**
 * Why an attempt ended, for the quarantine rules (coordinator/workers/quarantine.ts):
 * worker_lost (counted once per loss event, not per job), ffmpeg (the worker's FFmpeg
 * failed), invalid_spec (refused by the shared rules: the profile's fault), rejected
 * (another refusal), stream (the job stream broke).
 */
export type JobEndCause = 'worker_lost' | 'ffmpeg' | 'invalid_spec' | 'rejected' | 'stream';
export type JobEnd = { state: 'failed' | 'completed' | 'cancelled'; reason: string | null; cause?: JobEndCause };

type JobCall = ServerDuplexStream<JobUplink__Output, JobDownlink>;

/**
 * Source bytes go out pre-encoded: the server's JobStream serializer passes them to
 * grpc-js, which copies them once into its frame (common/job-stream-wire.ts).
 */
function writeBytes(call: JobCall, message: PreframedMessage): boolean {
  return call.write(message as unknown as JobDownlink);
}

/** How long output chunks may wait for a missing one before the attempt fails. */
export const LANE_GAP_TIMEOUT_MS = 15_000;

export interface ActiveJobInfo {
  jobId: string;
  runId: string;
  attempt: number;
  workerId: string;
  encoder: string;
  kind: string;
}

export class ActiveJob {
  readonly startedAt = Date.now();
  progress: JobProgress | null = null;
  bytesIn = 0;
  bytesOut = 0;
  private readonly meter = new ThroughputMeter();
  private call: JobCall | null = null;
  /** Lanes mode (lanes > 1): one call per lane, by lane index; `call` stays null. */
  private laneCalls: (JobCall | undefined)[] = [];
  private laneCount = 1;
  private lanesAttached = false;
  private striper: LaneStriper | null = null;
  private reassembler: SequenceReassembler | null = null;
  private drainCall: JobCall | null = null;
  private readonly endedLanes = new Set<number>();
  private gapTimer: ReturnType<typeof setTimeout> | undefined;
  private endResult: JobEnd | null = null;
  private readonly attachWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private readonly endListeners: ((end: JobEnd) => void)[] = [];
  onOutput: (chunk: Uint8Array) => void = () => {};
  /** A job stream's open is being recorded (pending -> running): a second open is refused. */
  attaching = false;
  /**
   * One rendition's share of a ladder job (jobs/ladder-jobs.ts): the ladder job is fed the
   * source once, so its users do not feed this one, and letting go of it is `release`,
   * not a CancelJob (the ladder job goes on for its other renditions).
   */
  inputFedElsewhere = false;
  release: ((reason: string) => void) | null = null;

  constructor(readonly info: ActiveJobInfo) {}

  get jobId(): string {
    return this.info.jobId;
  }

  get attached(): boolean {
    return this.call !== null || this.lanesAttached;
  }

  /** 1 for the single-call format, else the lanes this attempt was opened with. */
  get lanes(): number {
    return this.laneCount;
  }

  /** Lanes opened so far (lanes mode). */
  get openLanes(): number {
    return this.laneCalls.filter(Boolean).length;
  }

  get ended(): JobEnd | null {
    return this.endResult;
  }

  /** The worker opened the job stream for this attempt (fence already checked). */
  attach(call: JobCall): void {
    this.call = call;
    for (const w of this.attachWaiters.splice(0)) w.resolve();
  }

  /**
   * Lanes mode: lane `lane` of `lanes` opened (fence already checked). Returns true when
   * this was the last lane, i.e. the attempt is now attached and input may flow.
   */
  openLane(lane: number, lanes: number, call: JobCall): boolean {
    if (this.attached) throw new AppError('permission_denied', `job ${this.jobId} attempt ${this.info.attempt} is already attached`);
    if (this.laneCalls.length === 0) {
      this.laneCount = lanes;
      this.laneCalls = new Array<JobCall | undefined>(lanes);
      // From the first lane on: a lane that opened early may carry output before the
      // last one's open arrives (each lane is its own connection, set up in parallel).
      this.reassembler = new SequenceReassembler();
    } else if (this.laneCount !== lanes) {
      throw new AppError('invalid_request', `lanes ${lanes} disagrees with ${this.laneCount} given by an earlier lane`);
    }
    if (this.laneCalls[lane]) throw new AppError('permission_denied', `lane ${lane} of job ${this.jobId} is already open`);
    this.laneCalls[lane] = call;
    if (this.openLanes < lanes) return false;
    this.striper = new LaneStriper(lanes);
    this.lanesAttached = true;
    for (const w of this.attachWaiters.splice(0)) w.resolve();
    // Output held while lanes were opening goes out once the attach waiters have wired onOutput.
    if (this.early.length) setImmediate(() => this.flushEarly());
    return true;
  }

  waitAttached(): Promise<void> {
    if (this.attached) return Promise.resolve();
    if (this.endResult) return Promise.reject(new Error(this.endResult.reason ?? 'job ended'));
    return new Promise((resolve, reject) => this.attachWaiters.push({ resolve, reject }));
  }

  lateBytes = 0;
  /** Lanes mode: in-order output that arrived before every lane was open (bounded with the reorder buffer). */
  private early: Uint8Array[] = [];
  private earlyBytes = 0;

  private flushEarly(): void {
    const early = this.early;
    this.early = [];
    this.earlyBytes = 0;
    for (const c of early) this.handleOutput(c);
  }

  handleOutput(chunk: Uint8Array): void {
    // Output after the attempt ended (a worker back from a partition) is fenced off here.
    if (this.endResult) {
      this.lateBytes += chunk.byteLength;
      return;
    }
    this.bytesOut += chunk.byteLength;
    this.meter.tick(this.bytesIn, this.bytesOut);
    this.onOutput(chunk);
  }

  /** Lanes mode: one output chunk from any lane; delivered to onOutput in seq order. */
  handleOutputChunk(seq: number, data: Uint8Array): void {
    if (this.endResult) {
      this.lateBytes += data.byteLength;
      return;
    }
    if (!this.reassembler) throw new AppError('invalid_request', 'output_chunk before any lane is open');
    let ready: Uint8Array[];
    try {
      ready = this.reassembler.push(seq, data);
    } catch (err) {
      this.finish({ state: 'failed', reason: `job stream lanes: ${(err as Error).message}` });
      return;
    }
    if (!this.lanesAttached) {
      for (const c of ready) this.early.push(c), (this.earlyBytes += c.byteLength);
      if (this.earlyBytes + this.reassembler.pendingBytes > DEFAULT_REORDER_LIMIT_BYTES) {
        this.finish({ state: 'failed', reason: `job stream lanes: over ${DEFAULT_REORDER_LIMIT_BYTES} bytes of output before all ${this.laneCount} lanes opened` });
      }
      return;
    }
    if (this.early.length) this.flushEarly();
    for (const c of ready) this.handleOutput(c);
    this.armGapTimer();
  }

  /** Lanes mode: a lane's call ended (worker half-closed it). */
  laneEnded(lane: number): void {
    this.endedLanes.add(lane);
    if (this.endResult || this.endedLanes.size < this.laneCount || !this.reassembler?.hasGap) return;
    this.finish({ state: 'failed', reason: `job stream lanes ended with a gap in the output: ${this.reassembler.describeGap()}` });
  }

  // A gap that does not fill within LANE_GAP_TIMEOUT_MS fails the attempt (a lane is stuck).
  private armGapTimer(): void {
    if (!this.reassembler?.hasGap) {
      clearTimeout(this.gapTimer);
      this.gapTimer = undefined;
      return;
    }
    if (this.gapTimer) return;
    const gapSeq = this.reassembler.nextSeq;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      const r = this.reassembler;
      if (!r?.hasGap || this.endResult) return;
      if (r.nextSeq !== gapSeq) return this.armGapTimer();
      this.finish({ state: 'failed', reason: `job stream lanes: output ${r.describeGap()} within ${LANE_GAP_TIMEOUT_MS} ms` });
    }, LANE_GAP_TIMEOUT_MS);
    this.gapTimer.unref?.();
  }

  /** Achieved throughput each way over the last ~5 s, kbit/s. */
  throughput(): { inKbps: number; outKbps: number } {
    return this.meter.rates(this.bytesIn, this.bytesOut);
  }

  /** Sends source bytes; false means the stream is backpressured: wait for drain. */
  writeInput(chunk: Uint8Array): boolean {
    if (this.endResult) return true;
    this.meter.tick(this.bytesIn, this.bytesOut);
    if (this.striper) {
      const { seq, lane } = this.striper.next();
      const call = this.laneCalls[lane]!;
      this.bytesIn += chunk.byteLength;
      const ok = writeBytes(call, downlinkInputChunk(seq, chunk));
      if (!ok) this.drainCall = call;
      return ok;
    }
    if (!this.call) return true;
    this.bytesIn += chunk.byteLength;
    return writeBytes(this.call, downlinkInput(chunk));
  }

  /** Waits for 'drain' on the call (the lane) whose write returned false. */
  waitDrain(): Promise<void> {
    const call = this.striper ? this.drainCall : this.call;
    this.drainCall = null;
    if (!call || this.endResult) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        call.off('drain', done);
        this.offEnd(done);
        resolve();
      };
      call.once('drain', done);
      this.onEnd(done);
    });
  }

  endInput(reason: string): void {
    if (this.endResult) return;
    // Lanes mode: on every lane, so the worker knows every lane has delivered its last chunk.
    if (this.lanesAttached) for (const c of this.laneCalls) c?.write({ input_ended: { reason } });
    else this.call?.write({ input_ended: { reason } });
  }

  onEnd(listener: (end: JobEnd) => void): void {
    if (this.endResult) listener(this.endResult);
    else this.endListeners.push(listener);
  }

  private offEnd(listener: (end: JobEnd) => void): void {
    const i = this.endListeners.indexOf(listener);
    if (i >= 0) this.endListeners.splice(i, 1);
  }

  /** Ends this attempt once. Returns false if it had already ended. */
  finish(end: JobEnd): boolean {
    if (this.endResult) return false;
    this.endResult = end;
    for (const w of this.attachWaiters.splice(0)) w.reject(new Error(end.reason ?? end.state));
    clearTimeout(this.gapTimer);
    for (const call of [this.call, ...this.laneCalls]) {
      if (!call) continue;
      try {
        call.end();
      } catch {
        // the stream may already be gone with its worker
      }
    }
    for (const l of this.endListeners.splice(0)) l(end);
    return true;
  }
}
