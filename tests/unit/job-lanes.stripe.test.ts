// Job stream lanes: striping by seq and in-order reassembly (common/job-lanes.ts).
import { describe, expect, test } from 'bun:test';
import { checkLaneOpen, LaneStriper, ReorderError, SequenceReassembler } from '../../common/job-lanes';

const bytes = (...v: number[]) => Uint8Array.from(v);

describe('LaneStriper', () => {
  test('hands out increasing seq round-robin over the lanes', () => {
    const s = new LaneStriper(3);
    expect(Array.from({ length: 7 }, () => s.next())).toEqual([
      { seq: 0, lane: 0 },
      { seq: 1, lane: 1 },
      { seq: 2, lane: 2 },
      { seq: 3, lane: 0 },
      { seq: 4, lane: 1 },
      { seq: 5, lane: 2 },
      { seq: 6, lane: 0 },
    ]);
    expect(s.sent).toBe(7);
  });

  test('one lane is a plain sequence', () => {
    const s = new LaneStriper(1);
    expect([s.next(), s.next()]).toEqual([{ seq: 0, lane: 0 }, { seq: 1, lane: 0 }]);
    expect(() => new LaneStriper(0)).toThrow(RangeError);
  });
});

describe('SequenceReassembler', () => {
  test('in-order chunks pass straight through', () => {
    const r = new SequenceReassembler();
    expect(r.push(0, bytes(1))).toEqual([bytes(1)]);
    expect(r.push(1, bytes(2))).toEqual([bytes(2)]);
    expect(r.hasGap).toBe(false);
    expect(r.nextSeq).toBe(2);
  });

  test('holds chunks after a gap and releases them in order when it fills', () => {
    const r = new SequenceReassembler();
    expect(r.push(2, bytes(3))).toEqual([]);
    expect(r.push(1, bytes(2))).toEqual([]);
    expect(r.hasGap).toBe(true);
    expect(r.pendingBytes).toBe(2);
    expect(r.describeGap()).toContain('chunk 0 never arrived');
    expect(r.push(0, bytes(1))).toEqual([bytes(1), bytes(2), bytes(3)]);
    expect(r.hasGap).toBe(false);
    expect(r.pendingBytes).toBe(0);
    expect(r.push(4, bytes(5))).toEqual([]);
    expect(r.push(3, bytes(4))).toEqual([bytes(4), bytes(5)]);
  });

  test('striped over 3 lanes with lanes arriving in any interleaving, the stream comes back whole', () => {
    const total = 300;
    const striper = new LaneStriper(3);
    const lanes: { seq: number; data: Uint8Array }[][] = [[], [], []];
    for (let i = 0; i < total; i++) {
      const { seq, lane } = striper.next();
      lanes[lane]!.push({ seq, data: bytes(i % 251) });
    }
    // Deterministic pseudo-random interleaving; each lane stays in order (as a gRPC call does).
    let x = 12345;
    const rand = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) % 3);
    const r = new SequenceReassembler(1 << 20);
    const out: number[] = [];
    while (lanes.some((l) => l.length)) {
      const l = lanes[rand()]!;
      const next = l.shift();
      if (next) for (const c of r.push(next.seq, next.data)) out.push(c[0]!);
    }
    expect(out).toEqual(Array.from({ length: total }, (_, i) => i % 251));
    expect(r.hasGap).toBe(false);
  });

  test('a gap that never fills hits the bound with a clear reason', () => {
    const r = new SequenceReassembler(10);
    r.push(1, new Uint8Array(6));
    expect(() => r.push(2, new Uint8Array(6))).toThrow(/reorder buffer over 10 bytes: chunk 0 never arrived/);
  });

  test('duplicates and bad numbers are refused', () => {
    const r = new SequenceReassembler();
    r.push(0, bytes(1));
    expect(() => r.push(0, bytes(1))).toThrow(ReorderError);
    r.push(2, bytes(3));
    expect(() => r.push(2, bytes(3))).toThrow(/received twice/);
    expect(() => r.push(-1, bytes(3))).toThrow(/invalid/);
  });
});

describe('checkLaneOpen', () => {
  test('lane must be below lanes, lanes at most 16; 0 lanes means one', () => {
    expect(checkLaneOpen(0, 0)).toBeNull();
    expect(checkLaneOpen(0, 1)).toBeNull();
    expect(checkLaneOpen(2, 3)).toBeNull();
    expect(checkLaneOpen(3, 3)).toContain('out of range');
    expect(checkLaneOpen(1, 0)).toContain('out of range');
    expect(checkLaneOpen(0, 17)).toContain('maximum');
  });
});
