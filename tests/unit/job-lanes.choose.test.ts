// Lanes from the link (chooseLanes) and the reorder buffer's bound in entries
// (common/job-lanes.ts).
import { describe, expect, test } from 'bun:test';
import {
  chooseLanes,
  DEFAULT_REORDER_LIMIT_CHUNKS,
  laneCapacityKbps,
  linkCapacityKbps,
  MAX_JOB_STREAM_LANES,
  ReorderError,
  SequenceReassembler,
} from '../../common/job-lanes';

describe('chooseLanes', () => {
  test('one lane on a LAN or when the RTT is unknown', () => {
    expect(chooseLanes(0.3)).toBe(1);
    expect(chooseLanes(5)).toBe(1);
    expect(chooseLanes(null)).toBe(1);
    expect(chooseLanes(Number.NaN)).toBe(1);
  });

  test('enough lanes for 25 Mbit/s at 50 and 100 ms, capped far away', () => {
    for (const rtt of [50, 100]) {
      const n = chooseLanes(rtt);
      expect(n * laneCapacityKbps(rtt)).toBeGreaterThanOrEqual(25_000);
      expect((n - 1) * laneCapacityKbps(rtt)).toBeLessThan(25_000);
    }
    expect(chooseLanes(100)).toBe(10);
    expect(chooseLanes(250)).toBe(MAX_JOB_STREAM_LANES);
    // The cap still carries 10 Mbit/s at 250 ms by the measured per-lane figure.
    expect(linkCapacityKbps(250)).toBeGreaterThan(10_000 * 1.25);
  });

  test('a source above half the floor gets twice its bitrate', () => {
    expect(chooseLanes(50, 20_000)).toBeGreaterThan(chooseLanes(50));
    expect(chooseLanes(50, 20_000) * laneCapacityKbps(50)).toBeGreaterThanOrEqual(40_000);
    expect(chooseLanes(50, 5_000)).toBe(chooseLanes(50));
  });
});

describe('SequenceReassembler bound in entries', () => {
  test('zero-length chunks with future sequence numbers are refused past the entry limit', () => {
    const r = new SequenceReassembler(1024, 100);
    // Zero bytes each: the byte bound alone would never trip.
    for (let i = 1; i <= 100; i++) r.push(1_000_000 + i, new Uint8Array(0));
    expect(r.pendingChunks).toBe(100);
    expect(r.pendingBytes).toBe(0);
    expect(() => r.push(2_000_000, new Uint8Array(0))).toThrow(ReorderError);
    expect(() => r.push(2_000_001, new Uint8Array(0))).toThrow(/over 100 chunks: chunk 0 never arrived/);
    expect(r.pendingChunks).toBe(100);
  });

  test('the default bound applies to a reassembler built without limits', () => {
    const r = new SequenceReassembler();
    for (let i = 1; i <= DEFAULT_REORDER_LIMIT_CHUNKS; i++) r.push(i, new Uint8Array(0));
    expect(() => r.push(DEFAULT_REORDER_LIMIT_CHUNKS + 1, new Uint8Array(0))).toThrow(ReorderError);
    // Filling the gap still delivers everything held, in order.
    const fresh = new SequenceReassembler(1024, 3);
    fresh.push(2, new Uint8Array(0));
    fresh.push(1, Uint8Array.of(1));
    expect(fresh.push(0, Uint8Array.of(0)).map((c) => c.byteLength)).toEqual([1, 1, 0]);
  });
});
