// Achieved throughput of a job's streams and a source (coordinator/jobs/throughput-meter.ts).
import { expect, test } from 'bun:test';
import { ThroughputMeter } from '../../coordinator/jobs/throughput-meter';

test('rates over the last ~5 s; nothing until 2 s are covered; bounded samples', () => {
  let now = 0;
  const m = new ThroughputMeter(5000, () => now);
  let bytesIn = 0;
  let bytesOut = 0;
  // A burst at connect: 1 MB at once is not a rate yet.
  bytesIn += 1_000_000;
  m.tick(0, 0);
  now = 500;
  expect(m.rates(bytesIn, bytesOut)).toEqual({ inKbps: 0, outKbps: 0 });
  // Then 1.25 MB/s in (10 Mbit/s) and 0.5 MB/s out, per 100 ms chunk, for 20 s.
  for (let i = 0; i < 200; i++) {
    now += 100;
    bytesIn += 125_000;
    bytesOut += 50_000;
    m.tick(bytesIn, bytesOut);
  }
  const r = m.rates(bytesIn, bytesOut);
  expect(r.inKbps).toBeGreaterThan(9_500);
  expect(r.inKbps).toBeLessThan(10_500);
  expect(r.outKbps).toBeGreaterThan(3_800);
  expect(r.outKbps).toBeLessThan(4_200);
  // Stalled for 10 s: the rate falls to about 0 (the window moved past the last bytes).
  now += 10_000;
  expect(m.rates(bytesIn, bytesOut).inKbps).toBeLessThan(1_000);
});
