// One FFmpeg child for one job attempt: MPEG-TS in on stdin, MPEG-TS out on stdout,
// progress and errors on stderr.
//
// Orphans: FFmpeg must not outlive the worker. If the worker is SIGKILLed the kernel
// closes its pipe ends; FFmpeg then reads EOF on stdin (and gets EPIPE on stdout) and
// exits on its own. tests/integration/worker-job-process.orphan.test.ts checks this.
import { ProgressParser, type FfmpegProgress } from './progress-parser';

export interface JobExit {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: string | null;
  /** Last FFmpeg error lines (empty on success). */
  message: string;
  /** cancel() was called before it exited. */
  cancelled: boolean;
}

export interface JobProcessOptions {
  ffmpegPath: string;
  args: string[];
  /** SIGTERM -> SIGKILL grace period for cancel(). */
  killGraceMs?: number;
  onProgress?: (p: FfmpegProgress) => void;
}

export class JobProcess {
  readonly exited: Promise<JobExit>;
  bytesIn = 0;
  bytesOut = 0;
  lastProgress: FfmpegProgress | undefined;

  private readonly proc: ReturnType<typeof Bun.spawn<'pipe', 'pipe', 'pipe'>>;
  private readonly parser: ProgressParser;
  private inputClosed = false;
  private cancelled = false;
  private done = false;
  private readonly killGraceMs: number;

  constructor(options: JobProcessOptions) {
    this.killGraceMs = options.killGraceMs ?? 2000;
    this.parser = new ProgressParser((p) => {
      this.lastProgress = p;
      options.onProgress?.(p);
    });
    this.proc = Bun.spawn([options.ffmpegPath, ...options.args], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' });
    // stderr must always be drained: unread, it is buffered in memory.
    const stderrDone = this.readStderr();
    this.exited = Promise.all([this.proc.exited, stderrDone]).then(([code]) => {
      this.done = true;
      this.inputClosed = true;
      this.parser.end();
      const signal = this.proc.signalCode == null ? null : String(this.proc.signalCode);
      return {
        code: signal ? null : code,
        signal,
        message: this.parser.errorMessage || (code === 0 ? '' : signal ? `ffmpeg killed by ${signal}` : `ffmpeg exited with code ${code}`),
        cancelled: this.cancelled,
      };
    });
  }

  get pid(): number {
    return this.proc.pid;
  }

  get hasExited(): boolean {
    return this.done;
  }

  /**
   * Writes source bytes to FFmpeg's stdin; resolves once the pipe has taken them, so
   * awaiting each write gives end-to-end backpressure. Writes after exit are dropped.
   */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.inputClosed || chunk.length === 0) return;
    try {
      this.proc.stdin.write(chunk);
      this.bytesIn += chunk.length;
      const flushed = this.proc.stdin.flush();
      if (typeof flushed !== 'number') await flushed;
    } catch {
      // EPIPE: FFmpeg has exited or closed stdin; its exit status says why.
      this.inputClosed = true;
    }
  }

  /** Signals end of input; FFmpeg flushes and exits. */
  async endInput(): Promise<void> {
    if (this.inputClosed) return;
    this.inputClosed = true;
    try {
      await this.proc.stdin.end();
    } catch {
      // already gone
    }
  }

  /** FFmpeg's stdout, chunk by chunk; ends when FFmpeg closes it. Pull-based: not reading pauses FFmpeg. */
  async *output(): AsyncGenerator<Uint8Array> {
    const reader = this.proc.stdout.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        this.bytesOut += value.length;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within the grace period. */
  cancel(): Promise<JobExit> {
    if (!this.done) {
      this.cancelled = true;
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!this.done) this.proc.kill('SIGKILL');
      }, this.killGraceMs);
      void this.exited.finally(() => clearTimeout(timer));
    }
    return this.exited;
  }

  private async readStderr(): Promise<void> {
    const decoder = new TextDecoder();
    try {
      const reader = this.proc.stderr.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.parser.push(decoder.decode(value, { stream: true }));
      }
    } catch {
      // pipe closed abruptly; whatever was read is kept
    }
  }
}
