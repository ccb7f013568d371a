// How late the coordinator's own event loop runs: one timer every `sampleEveryMs`, and how
// late it fires. Under a CPU quota (a container's --cpus) or a busy machine, work
// queues up behind the loop: heartbeats sit unread in sockets, job output is not drained,
// every viewer slows down at once. Two readings:
//
//   - lagMs(now): the lag now, an exponentially weighted average over time (time constant
//     `timeConstantMs`), so one garbage-collection pause is not an overload but a few
//     hundred milliseconds of lag for longer than that is. Admission (viewer-admission.ts)
//     and /healthz read it.
//   - lateMs(now): the time the loop has been late in total since it started (each
//     sample's lateness beyond `graceMs`, plus the timer that is due now and has not fired).
//     Silence measured across a window minus the loop's lateness in that window is the
//     silence of the producer, not ours: the variant watchdog subtracts it, so it does not
//     blame an attempt (and spend the variant's retry budget) for the coordinator's own lag.
//     Quarantine does not count a worker loss while lagMs is past a heartbeat interval. (The
//     worker loss sweep needs neither: it leaves out its own timer's lateness, which is how
//     long what the workers sent has been waiting unread; worker-registry.ts.)
//
// monitorEventLoopDelay (node:perf_hooks) is not used: under Bun 1.4 it reports 0.25 ms
// across a 300 ms busy-wait. The timer here measures what every other timer and socket sees.
// Time is a parameter: tests drive sample() with their own clock and never start the timer.

export interface EventLoopLagOptions {
  now: () => number;
  /** How often the timer fires (and so the resolution of a long stall's start). */
  sampleEveryMs?: number;
  /** The average's time constant: a lag held this long moves it ~63% of the way. */
  timeConstantMs?: number;
  /** Lateness per sample below this (timer jitter on a loaded machine) is not counted in lateMs. */
  graceMs?: number;
}

/** What the rest of the coordinator reads (CoreContext.loopLag). */
export interface LoopLagReading {
  lagMs(): number;
  lateMs(): number;
}

export const LAG_SAMPLE_EVERY_MS = 100;
const TIME_CONSTANT_MS = 500;
const GRACE_MS = 25;

export class EventLoopLag implements LoopLagReading {
  private readonly sampleEveryMs: number;
  private readonly timeConstantMs: number;
  private readonly graceMs: number;
  private expectedAt: number;
  private lastSampleAt: number;
  private average = 0;
  private lateTotal = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly listeners: ((lagMs: number, now: number) => void)[] = [];

  constructor(private readonly opts: EventLoopLagOptions) {
    this.sampleEveryMs = opts.sampleEveryMs ?? LAG_SAMPLE_EVERY_MS;
    this.timeConstantMs = opts.timeConstantMs ?? TIME_CONSTANT_MS;
    this.graceMs = opts.graceMs ?? GRACE_MS;
    // Nothing is due until start() (or a test's first sample()): no lateness accrues before.
    this.expectedAt = Infinity;
    this.lastSampleAt = opts.now();
  }

  start(): void {
    if (this.timer) return;
    const now = this.opts.now();
    this.expectedAt = now + this.sampleEveryMs;
    this.lastSampleAt = now;
    // An interval runs again `sampleEveryMs` after it actually ran (no catching up after a
    // stall), which is what sample() expects; one timer object, not a new one per sample.
    this.timer = setInterval(() => this.sample(this.opts.now()), this.sampleEveryMs);
    // Never what keeps the process alive.
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.expectedAt = Infinity;
  }

  /** Called after each sample with the average lag (admission decides on it). */
  onSample(listener: (lagMs: number, now: number) => void): void {
    this.listeners.push(listener);
  }

  /** The timer fired at `now`: how late it was feeds both readings. The next one is due a sample later. */
  sample(now: number): void {
    const late = Number.isFinite(this.expectedAt) ? Math.max(0, now - this.expectedAt) : 0;
    this.average = this.averaged(now, late);
    this.lateTotal += Math.max(0, late - this.graceMs);
    this.lastSampleAt = now;
    this.expectedAt = now + this.sampleEveryMs;
    for (const l of this.listeners) l(this.average, now);
  }

  /** The average lag as it would be if the timer fired now (a stall in progress counts). */
  lagMs(now: number = this.opts.now()): number {
    const pending = now - this.expectedAt;
    return pending > 0 ? this.averaged(now, pending) : this.average;
  }

  /** Total time the loop has been late (beyond the grace per sample), up to `now`. Only grows. */
  lateMs(now: number = this.opts.now()): number {
    return this.lateTotal + Math.max(0, now - this.expectedAt - this.graceMs);
  }

  private averaged(now: number, late: number): number {
    // Weighted by the time the sample covers: a late sample covers a long stretch.
    const weight = 1 - Math.exp(-Math.max(0, now - this.lastSampleAt) / this.timeConstantMs);
    return this.average + weight * (late - this.average);
  }
}
