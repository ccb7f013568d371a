// The link RTT the coordinator measures with Ping/Pong (coordinator/workers/link-stats.ts).
import { expect, test } from 'bun:test';
import { LinkStats } from '../../coordinator/workers/link-stats';

test('RTT is the minimum of recent samples; unknown, repeated and forgotten nonces are ignored', () => {
  let now = 1000;
  const link = new LinkStats(() => now);
  const sent: number[] = [];
  link.start((nonce) => (sent.push(nonce), true), 60_000);
  expect(link.rttMs).toBeNull();
  expect(sent).toEqual([1]);
  // A first answer taken while the worker was busy starting reads high...
  now += 190;
  link.pong(1);
  expect(link.rttMs).toBe(190);
  link.pong(1); // a repeated Pong is not a second sample
  link.pong(999); // nor is one we never sent
  expect(link.view().samples).toBe(1);
  // ...later samples bring it down to the path's RTT; inflated ones never raise it.
  for (const rtt of [101, 140, 102]) link.record(rtt);
  expect(link.rttMs).toBe(101);
  expect(link.view()).toEqual({ rttMs: 101, lastRttMs: 102, samples: 4 });
  // Only the last 8 samples count.
  for (let i = 0; i < 8; i++) link.record(150);
  expect(link.rttMs).toBe(150);
  link.stop();
});

test('a few quick pings after registration, then the slow interval; unanswered pings are bounded', async () => {
  const link = new LinkStats();
  const sent: number[] = [];
  link.start((nonce) => (sent.push(nonce), true), 60_000);
  // Warm-up pings come 250 ms apart; wait for them as events, not for a fixed time.
  while (sent.length < 5) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 600));
  expect(sent.length).toBe(5); // then nothing until the 60 s interval
  // None answered: only the newest 4 are remembered, so answering the first does nothing.
  link.pong(1);
  expect(link.rttMs).toBeNull();
  link.pong(5);
  expect(link.rttMs).not.toBeNull();
  link.stop();
});

test('after the samples, pings follow the steady interval the caller gives, asked again at each ping', async () => {
  const link = new LinkStats();
  const at: number[] = [];
  let steady = 150;
  // 1 + 4 warm-up pings (250 ms apart) and 8 sample pings (100 ms apart: the least), then the steady ones.
  link.start(() => (at.push(performance.now()), true), 10, () => steady);
  while (at.length < 15) await new Promise((r) => setTimeout(r, 20));
  steady = 5_000;
  const n = at.length;
  const gap = at[14]! - at[13]!;
  await new Promise((r) => setTimeout(r, 400));
  link.stop();
  expect(gap).toBeGreaterThanOrEqual(140); // the steady interval, not the 10 ms one
  expect(at.length - n).toBeLessThanOrEqual(1); // at most the ping already scheduled at 150 ms
});

test('no sample pings (a large fleet): straight from the warm-up to the steady interval', async () => {
  const link = new LinkStats();
  const at: number[] = [];
  link.start(() => (at.push(performance.now()), true), 10, () => 5_000, 0);
  while (at.length < 5) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 400));
  link.stop();
  expect(at.length).toBe(5); // the 5 warm-up pings, then nothing for 5 s
});

test('a stream that can no longer send stops the pings', () => {
  const link = new LinkStats();
  let calls = 0;
  link.start(() => (calls++, false), 10);
  expect(calls).toBe(1);
});
