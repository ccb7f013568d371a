// The coordinator's own event-loop lag with a test clock (the timer is never started: each
// sample() is the timer firing at that time): the time-weighted average that admission reads,
// and the running total of lateness the variant watchdog leaves out of a stall. Then
// admission's states: refuse from the threshold, accept again under half of it.
import { describe, expect, test } from 'bun:test';
import { createLogger, setLogLevel } from '../../common/log';
import { CoordinatorEventBus } from '../../coordinator/events';
import { EventLoopLag } from '../../coordinator/load/event-loop-lag';
import { retryAfterSeconds, ViewerAdmission } from '../../coordinator/load/viewer-admission';

setLogLevel('silent');

function clocked(opts: { sampleEveryMs?: number; graceMs?: number } = {}) {
  let now = 1_000;
  const lag = new EventLoopLag({ now: () => now, sampleEveryMs: 100, ...opts });
  // The timer's first arming (start() would arm it; this test fires it by hand).
  lag.sample(now);
  return {
    lag,
    now: () => now,
    /** The timer fires `lateMs` after it was due. */
    fire(lateMs: number) {
      now += 100 + lateMs;
      lag.sample(now);
    },
    /** Time passes without the timer firing (the loop is stalled right now). */
    stall(ms: number) {
      now += ms;
    },
  };
}

describe('event-loop lag', () => {
  test('a loop that keeps time reads 0, and jitter under the grace adds nothing to the lateness', () => {
    const c = clocked();
    for (let i = 0; i < 50; i++) c.fire(0);
    expect(c.lag.lagMs()).toBe(0);
    expect(c.lag.lateMs()).toBe(0);
    // 10 ms late every time (a loaded machine's scheduling): a small average, no lateness.
    for (let i = 0; i < 50; i++) c.fire(10);
    expect(c.lag.lagMs()).toBeGreaterThan(8);
    expect(c.lag.lagMs()).toBeLessThanOrEqual(10);
    expect(c.lag.lateMs()).toBe(0);
  });

  test('one 2 s stall: the average jumps at once, the lateness counts it beyond the grace, and both settle', () => {
    const c = clocked();
    for (let i = 0; i < 10; i++) c.fire(0);
    c.fire(2_000);
    expect(c.lag.lagMs()).toBeGreaterThan(1_900);
    expect(c.lag.lateMs()).toBe(2_000 - 25);
    // Back to normal: the average falls under 100 ms within ~2 s, the total stays.
    for (let i = 0; i < 20; i++) c.fire(0);
    expect(c.lag.lagMs()).toBeLessThan(100);
    expect(c.lag.lateMs()).toBe(1_975);
  });

  test('a stall in progress counts before the timer fires, and is not counted twice when it does', () => {
    const c = clocked();
    c.fire(0);
    c.stall(100 + 800); // due 800 ms ago, not fired yet
    expect(c.lag.lateMs()).toBe(800 - 25);
    const pending = c.lag.lagMs();
    expect(pending).toBeGreaterThan(600);
    c.lag.sample(c.now()); // the timer fires now, at the same time
    expect(c.lag.lateMs()).toBe(775);
    expect(c.lag.lagMs()).toBeCloseTo(pending, 6);
    // Only grows.
    let last = c.lag.lateMs();
    for (const late of [0, 300, 0, 50, 1000, 0]) {
      c.fire(late);
      expect(c.lag.lateMs()).toBeGreaterThanOrEqual(last);
      last = c.lag.lateMs();
    }
  });

  test('one 250 ms pause (a garbage collection) stays under 200 ms; lag held for a second does not', () => {
    const c = clocked();
    for (let i = 0; i < 10; i++) c.fire(0);
    c.fire(250);
    expect(c.lag.lagMs()).toBeLessThan(200);
    for (let i = 0; i < 20; i++) c.fire(0);
    // 300 ms late every time for about a second.
    for (let i = 0; i < 3; i++) c.fire(300);
    expect(c.lag.lagMs()).toBeGreaterThanOrEqual(200);
  });
});

describe('viewer admission', () => {
  function admission(thresholdMs: number) {
    const c = clocked();
    const events = new CoordinatorEventBus();
    const changes: string[] = [];
    events.on('coordinator:load', (e) => changes.push(e.state));
    const a = new ViewerAdmission(c.lag, thresholdMs, createLogger('test'), events);
    return { c, a, changes };
  }

  test('refuses from the threshold with a Retry-After, keeps refusing until under half of it, then accepts', () => {
    const { c, a, changes } = admission(200);
    for (let i = 0; i < 10; i++) c.fire(0);
    expect(a.admitViewer()).toBeNull();
    expect(a.health()).toEqual({ overloaded: false, lagMs: 0 });
    for (let i = 0; i < 5; i++) c.fire(400);
    expect(a.state).toBe('overloaded');
    const refusal = a.admitViewer();
    expect(refusal).not.toBeNull();
    expect(refusal!.lagMs).toBeGreaterThanOrEqual(200);
    expect(refusal!.retryAfterS).toBe(retryAfterSeconds(refusal!.lagMs));
    expect(a.health().overloaded).toBe(true);
    // Between half the threshold and the threshold: still refusing (no flapping).
    let guard = 0;
    while (c.lag.lagMs() >= 150 && guard++ < 100) c.fire(0);
    c.fire(140);
    expect(c.lag.lagMs()).toBeGreaterThanOrEqual(100);
    expect(a.admitViewer()).not.toBeNull();
    // Under half: accepting again.
    for (let i = 0; i < 20; i++) c.fire(0);
    expect(a.admitViewer()).toBeNull();
    expect(a.state).toBe('accepting');
    expect(a.refused).toBe(2);
    expect(changes).toEqual(['overloaded', 'accepting']);
  });

  test('a stall in progress refuses at once, before the timer reports it', () => {
    const { c, a } = admission(200);
    for (let i = 0; i < 10; i++) c.fire(0);
    c.stall(100 + 1_000);
    expect(a.admitViewer()?.lagMs).toBeGreaterThan(200);
  });

  test('threshold 0: never refuses, whatever the lag', () => {
    const { c, a, changes } = admission(0);
    for (let i = 0; i < 10; i++) c.fire(5_000);
    expect(a.admitViewer()).toBeNull();
    expect(a.health().overloaded).toBe(false);
    expect(changes).toEqual([]);
  });

  test('Retry-After: 1-10 s, longer for a longer lag', () => {
    expect(retryAfterSeconds(0)).toBe(1);
    expect(retryAfterSeconds(250)).toBe(2);
    expect(retryAfterSeconds(2_500)).toBe(4);
    expect(retryAfterSeconds(60_000)).toBe(10);
  });
});
