// A worker's link as the coordinator measures it: round-trip time from Ping/Pong on the
// control stream, timed with the coordinator's own clock (a worker cannot report a
// better link than it has, only a worse one by answering late).
//
// The RTT is the minimum of the last few samples: a sample can only be inflated (by a
// retransmission at 0.1% loss, or queueing behind job bytes on the same connection),
// never deflated, so the minimum is the path's RTT. Everything here is bounded: at
// most MAX_OUTSTANDING pings awaited, SAMPLES kept.

// RTT samples kept (the minimum over them is the link's RTT).
const SAMPLES = 8;
const MAX_OUTSTANDING = 4;
const WARMUP_PINGS = 4;
const WARMUP_MS = 250;
// Once SAMPLES samples are in, a path's RTT changes slowly: ping this seldom. At 1,000
// workers a 2 s ping is 1,000 messages a second (ping out, pong in); 10 s is 200, and a
// large fleet's 30 s (LARGE_FLEET_STEADY_PING_MS, the caller's choice) is 67.
export const STEADY_INTERVAL_MS = 10_000;
export const LARGE_FLEET_STEADY_PING_MS = 30_000;
/**
 * Sample pings after the warm-up (every 2 s at most as often as heartbeats). A large
 * fleet takes none: the warm-up's 5 samples give the minimum RTT already, and 8 more per
 * worker after a mass registration (a coordinator restart) are 1,000 messages a second at
 * 1,000 workers for 16 s.
 */
export const SAMPLES_AFTER_WARMUP = 8;

export interface LinkView {
  /** min RTT over the last samples, ms; null until the first Pong (or an older worker) */
  rttMs: number | null;
  /** the latest sample, ms */
  lastRttMs: number | null;
  samples: number;
}

export class LinkStats {
  private readonly outstanding = new Map<number, number>();
  private readonly rtts: number[] = [];
  // min of rtts, kept on record(): the loss sweep reads it for every worker, every sweep.
  private minRtt: number | null = null;
  private nonce = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly clock: () => number = () => performance.now()) {}

  /**
   * Pings now, then WARMUP_PINGS more every WARMUP_MS (a first sample taken while the
   * worker is still starting up reads high, and the first job's lanes come from this),
   * then every `intervalMs` until `samples` more were sent (SAMPLES_AFTER_WARMUP unless the
   * caller says otherwise), then every `steadyMs()` (asked at each ping: STEADY_INTERVAL_MS unless the
   * caller says otherwise; `intervalMs` if longer) until stop(). `send` false = the stream
   * is gone.
   */
  start(send: (nonce: number) => boolean, intervalMs: number, steadyMs: () => number = () => STEADY_INTERVAL_MS, samples = SAMPLES_AFTER_WARMUP): void {
    this.stop();
    let sent = 0;
    const ping = () => {
      const nonce = ++this.nonce;
      this.outstanding.set(nonce, this.clock());
      // Oldest first in a Map: forget pings that were never answered.
      while (this.outstanding.size > MAX_OUTSTANDING) this.outstanding.delete(this.outstanding.keys().next().value!);
      if (!send(nonce)) return this.stop();
      sent++;
      const next = sent <= WARMUP_PINGS ? WARMUP_MS : sent <= WARMUP_PINGS + samples ? Math.max(100, intervalMs) : Math.max(steadyMs(), intervalMs);
      this.timer = setTimeout(ping, next);
      this.timer.unref?.();
    };
    ping();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** A Pong arrived; unknown or stale nonces are ignored. */
  pong(nonce: number): void {
    const sentAt = this.outstanding.get(nonce);
    if (sentAt === undefined) return;
    this.outstanding.delete(nonce);
    this.record(this.clock() - sentAt);
  }

  record(rttMs: number): void {
    this.rtts.push(Math.max(0, rttMs));
    if (this.rtts.length > SAMPLES) this.rtts.shift();
    this.minRtt = Math.min(...this.rtts);
  }

  get rttMs(): number | null {
    return this.minRtt;
  }

  view(): LinkView {
    const round = (n: number | null) => (n === null ? null : Math.round(n * 10) / 10);
    return { rttMs: round(this.rttMs), lastRttMs: round(this.rtts.at(-1) ?? null), samples: this.rtts.length };
  }
}
