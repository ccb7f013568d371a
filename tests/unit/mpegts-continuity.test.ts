import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { PID_NULL, TS_PACKET_SIZE } from '../../common/mpegts/constants.ts';
import { ContinuityChecker, ContinuityRewriter } from '../../common/mpegts/continuity.ts';
import { readContinuityCounter } from '../../common/mpegts/packet-header.ts';
import { concat, makeClip, makeTempDir } from './mpegts-fixtures.ts';

let first: Uint8Array;
let second: Uint8Array;
const temp = makeTempDir('mpegts-cc-');

beforeAll(async () => {
  [first, second] = await Promise.all([
    makeClip(temp.dir, 'a.ts', { seconds: 1 }),
    makeClip(temp.dir, 'b.ts', { seconds: 1, tsOffset: 1 }),
  ]);
});
afterAll(() => temp.remove());

/** A packet with the given pid/counter; payload or adaptation-only. */
function packet(pid: number, cc: number, payload: boolean): Uint8Array {
  const p = new Uint8Array(TS_PACKET_SIZE).fill(0xff);
  p[0] = 0x47;
  p[1] = pid >> 8;
  p[2] = pid & 0xff;
  p[3] = (payload ? 0x10 : 0x20) | cc;
  if (!payload) p[4] = 183;
  return p;
}

describe('ContinuityRewriter', () => {
  test('two FFmpeg outputs back to back have counter errors; rewritten at the splice, none', () => {
    expect(new ContinuityChecker().check(concat([first, second])).length).toBeGreaterThan(0);
    const a = first.slice();
    const b = second.slice();
    const rewriter = new ContinuityRewriter();
    rewriter.rewrite(a);
    rewriter.splice();
    rewriter.rewrite(b);
    expect(a as Uint8Array).toEqual(first); // the first producer's counters pass through untouched
    const checker = new ContinuityChecker();
    expect(checker.check(a)).toEqual([]);
    expect(checker.check(b)).toEqual([]);
  });

  test('packets without payload repeat the counter across a splice', () => {
    const rewriter = new ContinuityRewriter();
    const run = concat([packet(0x100, 3, true), packet(0x100, 4, true)]);
    rewriter.rewrite(run);
    rewriter.splice();
    const next = concat([packet(0x100, 9, false), packet(0x100, 10, true), packet(0x100, 11, true)]);
    rewriter.rewrite(next);
    expect([0, 1, 2].map((i) => readContinuityCounter(next, i * TS_PACKET_SIZE))).toEqual([4, 5, 6]);
  });

  test('wraps mod 16, leaves null packets alone and keeps a PID first seen after a splice', () => {
    const rewriter = new ContinuityRewriter();
    rewriter.rewrite(packet(0x100, 15, true));
    rewriter.splice();
    const next = concat([packet(0x100, 7, true), packet(PID_NULL, 5, true), packet(0x200, 7, true)]);
    rewriter.rewrite(next);
    expect([0, 1, 2].map((i) => readContinuityCounter(next, i * TS_PACKET_SIZE))).toEqual([0, 5, 7]);
  });
});

describe('ContinuityChecker', () => {
  test('accepts clean FFmpeg output and reports a gap, except where discontinuity is flagged', () => {
    expect(new ContinuityChecker().check(first)).toEqual([]);
    const gap = concat([packet(0x100, 1, true), packet(0x100, 3, true)]);
    expect(new ContinuityChecker().check(gap)).toEqual([{ packetIndex: 1, pid: 0x100, expected: 2, got: 3 }]);
    const flagged = packet(0x100, 3, false);
    flagged[3] = 0x30 | 3; // adaptation + payload
    flagged[4] = 1;
    flagged[5] = 0x80; // discontinuity_indicator
    expect(new ContinuityChecker().check(concat([packet(0x100, 1, true), flagged]))).toEqual([]);
  });
});
