// The stall rule leaves out the coordinator's own event-loop lateness (coordinatorLateMs,
// EventLoopLag.lateMs): a coordinator starved of CPU reads its job's output late, which is
// no stall of the attempt, and restarting it would spend the variant's retry budget
// (TVARR_MAX_ATTEMPTS) on the coordinator's fault. A loop that keeps time changes nothing.
import { describe, expect, test } from 'bun:test';
import { VariantWatchdog } from '../../coordinator/streams/variant-watchdog';

function setup(stallTimeoutMs = 8000) {
  let now = 0;
  let late = 0;
  const stalls: number[] = [];
  const dog = new VariantWatchdog({
    stallTimeoutMs,
    checkEveryMs: 1_000_000,
    now: () => now,
    inputArriving: () => true,
    onStall: (ms) => stalls.push(ms),
    coordinatorLateMs: () => late,
  });
  return { dog, stalls, at: (t: number) => (now = t), lateBy: (ms: number) => (late += ms) };
}

describe('variant watchdog and the coordinator’s own lag', () => {
  test('no new media for 12 s, 6 s of it our own loop stalled: not a stall; the rest of the timeout still counts', () => {
    const w = setup();
    w.dog.attemptStarted();
    // 12 s pass; during them our loop was 6 s late in total (a CPU quota, a long block).
    w.at(12_000);
    w.lateBy(6_000);
    expect(w.dog.check()).toBe(false);
    // Two more seconds of a loop that keeps time: 14 - 6 = 8 s of the attempt's own silence.
    w.at(13_999);
    expect(w.dog.check()).toBe(false);
    w.at(14_000);
    expect(w.dog.check()).toBe(true);
    expect(w.stalls).toEqual([8_000]);
    w.dog.stop();
  });

  test('lateness before the last new media does not count for the silence after it', () => {
    const w = setup();
    w.dog.attemptStarted();
    w.at(5_000);
    w.lateBy(4_000);
    w.dog.progressed();
    // 8 s of silence from here with a loop that keeps time is a stall, as without lag.
    w.at(13_000);
    expect(w.dog.check()).toBe(true);
    expect(w.stalls).toEqual([8_000]);
    w.dog.stop();
  });

  test('a loop that keeps time: the same stall as before, at the timeout', () => {
    const w = setup();
    w.dog.attemptStarted();
    w.at(7_999);
    expect(w.dog.check()).toBe(false);
    w.at(8_000);
    expect(w.dog.check()).toBe(true);
    w.dog.stop();
  });
});
