// Continuity counters across a splice, and a checker for them.
//
// Each PID has a 4-bit counter that advances on packets with payload and repeats on
// packets without. When a new producer (another worker after failover) takes over,
// its counters start wherever its muxer started, which players report as lost data.
// The rewriter keeps, per PID, a fixed offset between input and output counters: at a
// splice the offset is chosen so the first packet continues the previous count, and
// within a segment the offset stays, so the producer's own counter pattern (including
// any real loss it had) is passed through unchanged rather than papered over.
import { PID_COUNT, PID_NULL, TS_PACKET_SIZE } from './constants.ts';
import { isDiscontinuity } from './packet-header.ts';

export class ContinuityRewriter {
  /** Last counter written per PID, or -1 before the PID has been seen. */
  private readonly last = new Int8Array(PID_COUNT).fill(-1);
  /** Output minus input counter (mod 16) for the current segment. */
  private readonly offset = new Uint8Array(PID_COUNT);
  /** Segment in which each PID's offset was chosen; differs => choose again. */
  private readonly anchoredIn = new Uint32Array(PID_COUNT);
  private segment = 1;

  /** A new producer starts: each PID's next packet continues the previous count. */
  splice(): void {
    this.segment++;
  }

  /** Rewrites counters in place for `packets` (whole packets, 188-aligned). */
  rewrite(packets: Uint8Array): void {
    for (let o = 0; o + TS_PACKET_SIZE <= packets.length; o += TS_PACKET_SIZE) this.rewritePacket(packets, o);
  }

  rewritePacket(buf: Uint8Array, o: number): void {
    const pid = ((buf[o + 1]! & 0x1f) << 8) | buf[o + 2]!;
    if (pid === PID_NULL) return;
    const b3 = buf[o + 3]!;
    const cc = b3 & 0x0f;
    if (this.anchoredIn[pid] !== this.segment) {
      this.anchoredIn[pid] = this.segment;
      const prev = this.last[pid]!;
      // First sight of this PID ever: keep the producer's counter (offset 0).
      const expected = prev < 0 ? cc : (b3 & 0x10) !== 0 ? (prev + 1) & 0x0f : prev;
      this.offset[pid] = (expected - cc) & 0x0f;
    }
    const out = (cc + this.offset[pid]!) & 0x0f;
    if (out !== cc) buf[o + 3] = (b3 & 0xf0) | out;
    this.last[pid] = out;
  }
}

export interface ContinuityError {
  /** Index of the offending packet in the checked sequence. */
  packetIndex: number;
  pid: number;
  expected: number;
  got: number;
}

/**
 * Checks counters the strict way (no duplicate packets allowed): +1 mod 16 on payload
 * packets, unchanged on others, except where discontinuity_indicator is set. Stateful
 * so a stream can be checked chunk by chunk.
 */
export class ContinuityChecker {
  private readonly last = new Int8Array(PID_COUNT).fill(-1);
  private packets = 0;
  readonly errors: ContinuityError[] = [];

  check(packets: Uint8Array): ContinuityError[] {
    const before = this.errors.length;
    for (let o = 0; o + TS_PACKET_SIZE <= packets.length; o += TS_PACKET_SIZE, this.packets++) {
      const pid = ((packets[o + 1]! & 0x1f) << 8) | packets[o + 2]!;
      if (pid === PID_NULL) continue;
      const b3 = packets[o + 3]!;
      const cc = b3 & 0x0f;
      const prev = this.last[pid]!;
      this.last[pid] = cc;
      if (prev < 0 || isDiscontinuity(packets, o)) continue;
      const expected = (b3 & 0x10) !== 0 ? (prev + 1) & 0x0f : prev;
      if (cc !== expected) this.errors.push({ packetIndex: this.packets, pid, expected, got: cc });
    }
    return this.errors.slice(before);
  }

  /** Forget history (e.g. a reader was deliberately skipped forward). */
  reset(): void {
    this.last.fill(-1);
  }
}
