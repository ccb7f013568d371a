// The write side of a shared buffer: aligns producer bytes to packets, holds back a new
// producer until it offers a clean entry point, rewrites continuity counters so the
// splice is invisible to players, and records PAT/PMT/keyframe positions.
//
// Gating matters after failover: a replacement worker's first bytes may start
// mid-GOP or before its PAT/PMT, and readers already attached would otherwise see
// undecodable video. Everything before (PAT, PMT, keyframe) is dropped; the PAT and
// PMT seen while gating are re-emitted just before the keyframe.
import { ContinuityRewriter } from '../../common/mpegts/continuity.ts';
import { TS_PACKET_SIZE } from '../../common/mpegts/constants.ts';
import { PacketAligner } from '../../common/mpegts/packet-aligner.ts';
import { PacketKind, ProgramTracker } from '../../common/mpegts/program-tracker.ts';
import type { BufferHistory } from './shared-buffer-history.ts';

/**
 * A handed-over chunk at least this long is kept without a copy. Smaller ones are copied:
 * they may be views of a shared allocation pool (Buffer.allocUnsafe pools small sizes),
 * which keeping would pin, and copying them costs little.
 */
const KEEP_AS_IS_FROM = 4096;

export class SegmentIngest {
  private readonly aligner = new PacketAligner();
  private readonly rewriter = new ContinuityRewriter();
  private tracker = new ProgramTracker();
  private gating = true;
  private gatePat: Uint8Array | null = null;
  private gatePmt: Uint8Array | null = null;
  private latestPat: Uint8Array | null = null;
  private latestPmt: Uint8Array | null = null;
  /** Current producer: 0 for the first, +1 per beginSegment(). */
  segment = 0;
  keyframes = 0;
  /** Bytes discarded while waiting for an entry point, plus garbage the aligner skipped. */
  private gatedBytes = 0;

  constructor(private readonly history: BufferHistory) {}

  get droppedBytes(): number {
    return this.gatedBytes + this.aligner.droppedBytes;
  }

  /** True until the current producer has delivered PAT, PMT and a keyframe. */
  get waitingForEntry(): boolean {
    return this.gating;
  }

  /** A new producer; `anyFrame`: no entry point awaited (SharedBuffer.beginSegment). */
  begin(anyFrame = false): void {
    this.segment++;
    this.aligner.reset();
    this.tracker = new ProgramTracker();
    this.gating = !anyFrame;
    this.gatePat = null;
    this.gatePmt = null;
    this.rewriter.splice();
  }

  /**
   * Takes one producer chunk; returns how many bytes were appended to the history.
   * `handedOver`: the caller gives the chunk up (it never reads or reuses those bytes again),
   * so the history may keep it as it is and rewrite counters in place.
   */
  write(chunk: Uint8Array, handedOver = false): number {
    return this.accept(this.aligner.push(chunk), handedOver);
  }

  /** End of stream: appends a packet the aligner still held for confirmation, if any. */
  flush(): number {
    return this.accept(this.aligner.flush());
  }

  private accept(spans: Uint8Array[], handedOver = false): number {
    if (spans.length === 0) return 0;
    const pieces = this.gating ? this.passGate(spans) : spans;
    if (pieces.length === 0) return 0;
    if (handedOver && pieces.length === 1 && pieces[0]!.length >= KEEP_AS_IS_FROM) {
      // A handed-over chunk (a gRPC message the coordinator alone holds): kept as it is.
      // On the relay path this copy was 12-14% of the coordinator's CPU (issue 15).
      const piece = pieces[0]!;
      this.index(piece, this.history.append(piece));
      return piece.length;
    }
    // Otherwise one copy per write: the history must own its bytes (the producer may reuse
    // its buffer, and counters are rewritten in place); all readers then share this copy.
    let total = 0;
    for (const piece of pieces) total += piece.length;
    const owned = new Uint8Array(total);
    let at = 0;
    for (const piece of pieces) {
      owned.set(piece, at);
      at += piece.length;
    }
    this.index(owned, this.history.append(owned));
    return total;
  }

  /** Scans packets while gating; returns what may be appended (empty until the keyframe). */
  private passGate(spans: Uint8Array[]): Uint8Array[] {
    for (let s = 0; s < spans.length; s++) {
      const span = spans[s]!;
      for (let o = 0; o < span.length; o += TS_PACKET_SIZE) {
        const kind = this.tracker.inspect(span, o);
        if (kind === PacketKind.Pat) this.gatePat = span.slice(o, o + TS_PACKET_SIZE);
        else if (kind === PacketKind.Pmt) this.gatePmt = span.slice(o, o + TS_PACKET_SIZE);
        else if (kind === PacketKind.Keyframe && this.gatePat && this.gatePmt) {
          this.gating = false;
          this.gatedBytes += o;
          return [this.gatePat, this.gatePmt, span.subarray(o), ...spans.slice(s + 1)];
        }
      }
      this.gatedBytes += span.length;
    }
    return [];
  }

  /** Rewrites counters and records PSI and keyframes of a freshly appended chunk. */
  private index(owned: Uint8Array, start: number): void {
    for (let o = 0; o < owned.length; o += TS_PACKET_SIZE) {
      this.rewriter.rewritePacket(owned, o);
      const kind = this.tracker.inspect(owned, o);
      if (kind === PacketKind.Other) continue;
      // PSI copies are taken after rewriting, so a joining reader's replayed PAT/PMT
      // carry the counter that the next in-stream PAT/PMT continues from.
      if (kind === PacketKind.Pat) this.latestPat = owned.slice(o, o + TS_PACKET_SIZE);
      else if (kind === PacketKind.Pmt) this.latestPmt = owned.slice(o, o + TS_PACKET_SIZE);
      else if (this.latestPat && this.latestPmt) {
        this.keyframes++;
        const prefix = new Uint8Array(2 * TS_PACKET_SIZE);
        prefix.set(this.latestPat, 0);
        prefix.set(this.latestPmt, TS_PACKET_SIZE);
        this.history.addEntryPoint({ offset: start + o, prefix, segment: this.segment });
      }
    }
  }
}
