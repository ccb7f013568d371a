// The stall rule with a test clock: no new media for the timeout while input arrives is a
// stall; an outage pauses the clock; new media or a new attempt restarts it.
import { describe, expect, test } from 'bun:test';
import { VariantWatchdog } from '../../coordinator/streams/variant-watchdog';

function setup(stallTimeoutMs = 1000) {
  let now = 0;
  let input = true;
  const stalls: number[] = [];
  const dog = new VariantWatchdog({ stallTimeoutMs, checkEveryMs: 1_000_000, now: () => now, inputArriving: () => input, onStall: (ms) => stalls.push(ms) });
  return {
    dog,
    stalls,
    at: (t: number) => (now = t),
    input: (v: boolean) => (input = v),
  };
}

describe('variant watchdog', () => {
  test('no attempt watched: never a stall', () => {
    const w = setup();
    w.at(10_000);
    expect(w.dog.check()).toBe(false);
    w.dog.stop();
  });

  test('new media keeps it quiet; none for the timeout while input flows is one stall', () => {
    const w = setup();
    w.dog.attemptStarted();
    for (let t = 100; t <= 3000; t += 100) {
      w.at(t);
      w.dog.progressed();
      expect(w.dog.check()).toBe(false);
    }
    w.at(3999);
    expect(w.dog.check()).toBe(false);
    w.at(4000);
    expect(w.dog.check()).toBe(true);
    expect(w.stalls).toEqual([1000]);
    // Reported once; the run restarts the attempt, which re-arms it.
    w.at(6000);
    expect(w.dog.check()).toBe(false);
    w.dog.attemptStarted();
    w.at(6999);
    expect(w.dog.check()).toBe(false);
    w.at(7000);
    expect(w.dog.check()).toBe(true);
    expect(w.dog.stalls).toBe(2);
    w.dog.stop();
  });

  test('an outage (no input) is not a stall, and the wait starts again when input returns', () => {
    const w = setup();
    w.dog.attemptStarted();
    w.input(false);
    for (let t = 0; t <= 30_000; t += 500) {
      w.at(t);
      expect(w.dog.check()).toBe(false);
    }
    w.input(true);
    w.at(30_900);
    expect(w.dog.check()).toBe(false);
    w.at(31_000);
    expect(w.dog.check()).toBe(true);
    w.dog.stop();
  });

  test('paused between attempts: no stall until the next attempt starts', () => {
    const w = setup();
    w.dog.attemptStarted();
    w.dog.pause();
    w.at(5000);
    expect(w.dog.check()).toBe(false);
    w.dog.attemptStarted();
    w.at(6000);
    expect(w.dog.check()).toBe(true);
    w.dog.stop();
  });
});
