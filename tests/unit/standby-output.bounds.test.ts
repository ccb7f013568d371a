// The standby's held output is bounded by time and bytes (a worker controls how much it
// sends), and what it hands over starts with the program tables a gate needs.
import { expect, test } from 'bun:test';
import { join } from 'node:path';
import { PacketKind, ProgramTracker } from '../../common/mpegts';
import { STANDBY_HOLD_BYTES, STANDBY_HOLD_MS, StandbyOutput } from '../../coordinator/streams/standby-output';
import { makeTempDir, makeTestClip } from '../helpers/media';

function packets(n: number, pid = 0x100): Uint8Array {
  const out = new Uint8Array(188 * n);
  for (let i = 0; i < n; i++) {
    out[i * 188] = 0x47;
    out[i * 188 + 1] = (pid >> 8) & 0x1f;
    out[i * 188 + 2] = pid & 0xff;
    out[i * 188 + 3] = 0x10 | (i & 0x0f);
  }
  return out;
}

test('holds at most STANDBY_HOLD_MS of output', () => {
  let now = 0;
  const held = new StandbyOutput(() => now);
  for (; now <= 10_000; now += 100) held.push(packets(10));
  // 100 ms per chunk: what is older than the hold time is gone.
  const kept = held.bytes / (188 * 10);
  expect(kept).toBeLessThanOrEqual(STANDBY_HOLD_MS / 100 + 1);
  expect(kept).toBeGreaterThanOrEqual(STANDBY_HOLD_MS / 100);
});

test('holds at most STANDBY_HOLD_BYTES whatever the rate', () => {
  const held = new StandbyOutput(() => 0);
  const chunk = packets(5000); // ~0.9 MiB
  for (let i = 0; i < 40; i++) held.push(chunk);
  expect(held.bytes).toBeLessThanOrEqual(STANDBY_HOLD_BYTES);
  expect(held.bytes).toBeGreaterThan(STANDBY_HOLD_BYTES - chunk.length);
});

test('take() starts with the latest PAT and PMT, then the held bytes, and empties the holder', async () => {
  const temp = makeTempDir('standby-output');
  try {
    const path = join(temp.dir, 'clip.ts');
    await makeTestClip(path, 1);
    const clip = new Uint8Array(await Bun.file(path).arrayBuffer());
    const held = new StandbyOutput(() => 0);
    for (let off = 0; off < clip.length; off += 1000) held.push(clip.subarray(off, off + 1000)); // odd-sized pieces
    const out = held.take();
    const tracker = new ProgramTracker();
    expect(tracker.inspect(out[0]!, 0)).toBe(PacketKind.Pat);
    expect(tracker.inspect(out[1]!, 0)).toBe(PacketKind.Pmt);
    expect(out.slice(2).reduce((n, b) => n + b.length, 0)).toBe(clip.length);
    expect(held.bytes).toBe(0);
    expect(held.take()).toHaveLength(2); // the tables stay for the next take
  } finally {
    temp.cleanup();
  }
});
