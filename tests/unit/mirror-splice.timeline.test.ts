// A mirror's next producer (coordinator/cluster/mirror-splice.ts): on another clock it is
// restamped to follow what was delivered, on the same clock it joins after it without a
// repeat, and the producer's own chunks (a local run's Buffers, shared with its other
// readers) are never written to.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ContinuityChecker } from '../../common/mpegts/continuity.ts';
import { MirrorSplice } from '../../coordinator/cluster/mirror-splice.ts';
import { SharedBuffer } from '../../coordinator/streams/shared-buffer.ts';
import { checkDtsSteps, videoDecodeTimes } from '../helpers/source-change-checks.ts';
import { concat, decodeWithFfmpeg, makeClip, makeTempDir, randomChunks, readAll } from './mpegts-fixtures.ts';

const temp = makeTempDir('mirror-splice-');
let early: Uint8Array; // 0-2 s on its clock (FFmpeg's 1.4 s start)
let late: Uint8Array; // the same, 30 s on
let next: Uint8Array; // 2-4 s: the same clock as `early`, right after it

beforeAll(async () => {
  [early, late, next] = await Promise.all([
    makeClip(temp.dir, 'early.ts', { seconds: 2 }),
    makeClip(temp.dir, 'late.ts', { seconds: 2, tsOffset: 30 }),
    makeClip(temp.dir, 'next.ts', { seconds: 2, tsOffset: 2 }),
  ]);
});
afterAll(() => temp.remove());

/** Two producers through a MirrorSplice into a SharedBuffer, as MirrorRun writes them. */
async function splice(a: Uint8Array, b: Uint8Array, asBuffers = false) {
  const ms = new MirrorSplice();
  const buffer = new SharedBuffer({ maxBufferedBytes: 8 * 1024 * 1024 });
  const reading = readAll(buffer.createReader());
  const chunksOf = (bytes: Uint8Array, seed: number) => randomChunks(bytes, 20_000, seed).map((c) => (asBuffers ? Buffer.from(c) : c));
  const fed: Uint8Array[] = [];
  ms.beginProducer();
  for (const c of chunksOf(a, 1)) {
    fed.push(c);
    for (const piece of ms.push(c)) buffer.write(piece);
  }
  ms.beginProducer();
  buffer.beginSegment();
  for (const c of chunksOf(b, 2)) {
    fed.push(c);
    for (const piece of ms.push(c)) buffer.write(piece);
  }
  buffer.end();
  return { ms, out: await reading, fed };
}

describe('MirrorSplice', () => {
  test('a producer on another clock (back 28 s) is restamped to follow what was delivered: decode times forward, clean decode', async () => {
    const { ms, out } = await splice(late, early);
    expect(ms.lastSplice).toBe('restamped');
    const dts = checkDtsSteps(videoDecodeTimes(out), 0.5);
    expect(dts.problems).toEqual([]);
    expect(dts.frames).toBe(100);
    expect(new ContinuityChecker().check(out)).toEqual([]);
    expect((await decodeWithFfmpeg(out)).errors).toBe('');
  });

  test('a producer ahead on another clock is restamped too (no 28 s jump forward)', async () => {
    const { ms, out } = await splice(early, late);
    expect(ms.lastSplice).toBe('restamped');
    expect(checkDtsSteps(videoDecodeTimes(out), 0.5).problems).toEqual([]);
  });

  test('the same clock: joins at its first keyframe after what was delivered, timestamps as they were', async () => {
    const { ms, out } = await splice(early, next);
    expect(ms.lastSplice).toBe('same-clock');
    expect(ms.restamped).toBe(0);
    const dts = checkDtsSteps(videoDecodeTimes(out), 0.5);
    expect(dts.problems).toEqual([]);
    expect(dts.frames).toBe(100);
  });

  test('the same producer again (a reconnect joining at its latest keyframe): what was delivered is not repeated', async () => {
    // The second producer repeats the last second of the first, then goes on.
    const { ms, out } = await splice(early, concat([early.subarray(Math.floor(early.length / 2 / 188) * 188), next]));
    expect(ms.droppedBytes).toBeGreaterThan(0);
    expect(checkDtsSteps(videoDecodeTimes(out), 0.5).problems).toEqual([]);
  });

  test("a producer's chunks are left as they were, Buffers included (their slice() is a view)", async () => {
    const copy = late.slice();
    const { fed } = await splice(copy, early.slice(), true);
    expect(Buffer.compare(Buffer.from(concat(fed)), Buffer.from(concat([late, early])))).toBe(0);
  });
});
