// One job attempt that a worker is running (or about to run): its job stream, its
// input pump and its single end. Whatever ends it first (JobEnded, stream error,
// worker loss, cancel) wins; later signals are ignored.
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { JobDownlink } from '../../proto/gen/tvarr/transcode/v1/JobDownlink';
import type { JobUplink__Output } from '../../proto/gen/tvarr/transcode/v1/JobUplink';
import type { JobProgress } from '../domain';

export type JobEnd = { state: 'failed' | 'completed' | 'cancelled'; reason: string | null };

type JobCall = ServerDuplexStream<JobUplink__Output, JobDownlink>;

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
  private call: JobCall | null = null;
  private endResult: JobEnd | null = null;
  private readonly attachWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private readonly endListeners: ((end: JobEnd) => void)[] = [];
  onOutput: (chunk: Uint8Array) => void = () => {};

  constructor(readonly info: ActiveJobInfo) {}

  get jobId(): string {
    return this.info.jobId;
  }

  get attached(): boolean {
    return this.call !== null;
  }

  get ended(): JobEnd | null {
    return this.endResult;
  }

  /** The worker opened the job stream for this attempt (fence already checked). */
  attach(call: JobCall): void {
    this.call = call;
    for (const w of this.attachWaiters.splice(0)) w.resolve();
  }

  waitAttached(): Promise<void> {
    if (this.call) return Promise.resolve();
    if (this.endResult) return Promise.reject(new Error(this.endResult.reason ?? 'job ended'));
    return new Promise((resolve, reject) => this.attachWaiters.push({ resolve, reject }));
  }

  lateBytes = 0;

  handleOutput(chunk: Uint8Array): void {
    // Output after the attempt ended (a worker back from a partition) is fenced off here.
    if (this.endResult) {
      this.lateBytes += chunk.byteLength;
      return;
    }
    this.bytesOut += chunk.byteLength;
    this.onOutput(chunk);
  }

  /** Sends source bytes; false means the stream is backpressured: wait for drain. */
  writeInput(chunk: Uint8Array): boolean {
    if (!this.call || this.endResult) return true;
    this.bytesIn += chunk.byteLength;
    return this.call.write({ input: chunk });
  }

  waitDrain(): Promise<void> {
    const call = this.call;
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
    if (!this.call || this.endResult) return;
    this.call.write({ input_ended: { reason } });
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
    if (this.call) {
      try {
        this.call.end();
      } catch {
        // the stream may already be gone with its worker
      }
    }
    for (const l of this.endListeners.splice(0)) l(end);
    return true;
  }
}
