// Achieved throughput of a byte stream (a job's input and output, a source's ingest):
// running totals sampled at most once a second over a short window, so the cost per
// chunk is a clock read and the memory is a handful of samples.

/** Bytes each way over the last few seconds, sampled at most once a second (bounded). */
export class ThroughputMeter {
  private readonly samples: { at: number; in: number; out: number }[] = [];

  constructor(
    private readonly windowMs = 5000,
    private readonly clock: () => number = () => Date.now(),
  ) {}

  /** Records the running totals; cheap when called per chunk (one sample a second). */
  tick(bytesIn: number, bytesOut: number): void {
    const now = this.clock();
    const last = this.samples.at(-1);
    if (last && now - last.at < 1000) return;
    this.samples.push({ at: now, in: bytesIn, out: bytesOut });
    while (this.samples.length > 2 && now - this.samples[1]!.at >= this.windowMs) this.samples.shift();
  }

  /** kbit/s each way between the oldest sample in the window and these totals; 0 until 2 s are covered. */
  rates(bytesIn: number, bytesOut: number): { inKbps: number; outKbps: number } {
    this.tick(bytesIn, bytesOut);
    const now = this.clock();
    const first = this.samples[0];
    const dt = first ? now - first.at : 0;
    // Under 2 s is a burst (a connect, a catch-up), not a rate: report nothing yet.
    if (!first || dt < 2000) return { inKbps: 0, outKbps: 0 };
    const kbps = (bytes: number) => Math.round((bytes * 8) / dt);
    return { inKbps: kbps(bytesIn - first.in), outKbps: kbps(bytesOut - first.out) };
  }
}
