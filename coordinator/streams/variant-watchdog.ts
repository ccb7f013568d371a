// One stall watchdog per variant run, beside it: a channel that freezes silently is worse
// than one that fails. The run tells it when an attempt starts and when new media comes
// out (a PES later than any delivered before, so output that flows but whose timestamps
// stop advancing is a stall too); the watchdog asks the source whether input is arriving.
// No new media for `stallTimeoutMs` while the source sends is a stall: the run logs it,
// counts it as the variant's fault (not the worker's) and restarts the attempt.
//
// The clock only runs while input arrives: an outage (no input) pauses it, and the
// attempt started after a source change or reconnect starts it afresh.

export interface WatchdogOptions {
  stallTimeoutMs: number;
  /** How often the watchdog looks (a fraction of the timeout; 1 s at most). */
  checkEveryMs?: number;
  now: () => number;
  /** The source is delivering bytes now (not in an outage). */
  inputArriving: () => boolean;
  onStall: (stalledForMs: number) => void;
}

export class VariantWatchdog {
  /** The latest of: attempt start, new media out, input resuming after a pause. */
  private since = 0;
  private watching = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  stalls = 0;

  constructor(private readonly opts: WatchdogOptions) {}

  /** A new attempt is producing (or about to): its start-up counts from now. */
  attemptStarted(): void {
    this.since = this.opts.now();
    this.watching = true;
    if (!this.timer) {
      this.timer = setInterval(() => this.check(), this.opts.checkEveryMs ?? Math.min(1000, Math.max(100, this.opts.stallTimeoutMs / 4)));
      this.timer.unref?.();
    }
  }

  /** No attempt to watch (between attempts, while a restart is dispatched). */
  pause(): void {
    this.watching = false;
  }

  /** New media came out of the current attempt. */
  progressed(): void {
    this.since = this.opts.now();
  }

  /** One look; the run's timer calls it, tests call it with their own clock. Returns true on a stall. */
  check(): boolean {
    if (!this.watching) return false;
    const now = this.opts.now();
    if (!this.opts.inputArriving()) {
      // Nothing to make media from: not the attempt's fault, and the wait starts again later.
      this.since = now;
      return false;
    }
    const stalledFor = now - this.since;
    if (stalledFor < this.opts.stallTimeoutMs) return false;
    this.stalls++;
    this.watching = false;
    this.opts.onStall(stalledFor);
    return true;
  }

  stop(): void {
    this.watching = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
