// One stall watchdog per variant run, beside it: a channel that freezes silently is worse
// than one that fails. The run tells it when an attempt starts and when new media comes
// out (a PES later than any delivered before, so output that flows but whose timestamps
// stop advancing is a stall too); the watchdog asks the source whether input is arriving.
// No new media for `stallTimeoutMs` while the source sends is a stall: the run logs it,
// counts it as the variant's fault (not the worker's) and restarts the attempt.
//
// The clock only runs while input arrives: an outage (no input) pauses it, and the
// attempt started after a source change or reconnect starts it afresh. Nor does it run
// while the coordinator's own event loop is late (coordinatorLateMs): output that sits
// unread in our sockets because this process is starved of CPU is not the attempt's stall,
// and restarting it would only add work (and spend the variant's retry budget) to a
// coordinator that already cannot keep up.

export interface WatchdogOptions {
  stallTimeoutMs: number;
  /** How often the watchdog looks (a fraction of the timeout; 1 s at most). */
  checkEveryMs?: number;
  now: () => number;
  /** The source is delivering bytes now (not in an outage). */
  inputArriving: () => boolean;
  onStall: (stalledForMs: number) => void;
  /** Total time the coordinator's event loop has been late (EventLoopLag.lateMs); left out of a stall. */
  coordinatorLateMs?: () => number;
}

export class VariantWatchdog {
  /** The latest of: attempt start, new media out, input resuming after a pause. */
  private since = 0;
  /** coordinatorLateMs() at `since`. */
  private lateAtSince = 0;
  private watching = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  stalls = 0;

  constructor(private readonly opts: WatchdogOptions) {}

  /** A new attempt is producing (or about to): its start-up counts from now. */
  attemptStarted(): void {
    this.restartClock(this.opts.now());
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
    this.restartClock(this.opts.now());
  }

  private restartClock(now: number): void {
    this.since = now;
    this.lateAtSince = this.opts.coordinatorLateMs?.() ?? 0;
  }

  /** One look; the run's timer calls it, tests call it with their own clock. Returns true on a stall. */
  check(): boolean {
    if (!this.watching) return false;
    const now = this.opts.now();
    if (!this.opts.inputArriving()) {
      // Nothing to make media from: not the attempt's fault, and the wait starts again later.
      this.restartClock(now);
      return false;
    }
    const ownLate = this.opts.coordinatorLateMs ? Math.max(0, this.opts.coordinatorLateMs() - this.lateAtSince) : 0;
    const stalledFor = now - this.since - ownLate;
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
