// The source's latest PAT, PMT and GOPs, kept by the upstream so a job that starts now
// (or a failover, or a restart after the source changed) is fed from a keyframe.
import { PacketKind, ProgramTracker, TS_PACKET_SIZE } from '../../common/mpegts';
import { pesPts, ptsAfter } from './splice-point';

// The current GOP is kept for a job that starts now; a longer GOP is not worth holding.
export const MAX_GOP_BYTES = 8 << 20;
// Older GOPs kept for a failover's splice (a partition is found within ~1.5 s).
const MAX_PREVIOUS_GOPS = 3;

/**
 * The source's latest PAT, PMT and the packets since its latest video keyframe, plus the
 * GOPs before it (as many as fit in a partition's detection time, MAX_PREVIOUS_GOPS). A
 * new job fed from here decodes from its first bytes instead of discarding input until
 * the source's next keyframe (up to a GOP of start-up time). A failover attempt starts
 * from the GOP that holds the first frame its clients have not had yet, which after a
 * partition's loss deadline may be an older one (streams/splice-point.ts).
 */
export class LatestGop {
  private readonly tracker = new ProgramTracker();
  private pat: Uint8Array | null = null;
  private pmt: Uint8Array | null = null;
  private chunks: Uint8Array[] = [];
  private bytes = 0;
  /** PTS of the current GOP's keyframe (-1 unknown), and the GOPs before it, oldest first. */
  private keyPts = -1;
  private previous: { chunks: Uint8Array[]; keyPts: number; bytes: number }[] = [];

  /** `onKeyframe` hears of every video keyframe (its PTS) as it is added. */
  constructor(private readonly onKeyframe?: (pts: number) => void) {}

  /** The source's PMT names a video stream (so a long wait for a keyframe means something is wrong). */
  get hasVideo(): boolean {
    return this.tracker.videoPid >= 0;
  }

  /** Takes a span of whole packets; returns the offset of the last keyframe that began a GOP in it, or -1. */
  add(span: Uint8Array): number {
    let from = 0;
    let keyAt = -1;
    for (let off = 0; off < span.byteLength; off += TS_PACKET_SIZE) {
      const kind = this.tracker.inspect(span, off);
      if (kind === PacketKind.Pat) this.pat = span.slice(off, off + TS_PACKET_SIZE);
      else if (kind === PacketKind.Pmt) this.pmt = span.slice(off, off + TS_PACKET_SIZE);
      else if (kind === PacketKind.Keyframe && this.pat && this.pmt) {
        // The GOP that ends here, up to this keyframe, becomes the latest previous one.
        if (this.chunks.length > 0) {
          if (from < off) this.chunks.push(span.subarray(from, off));
          this.previous.push({ chunks: this.chunks, keyPts: this.keyPts, bytes: this.bytes + off - from });
          let kept = this.previous.reduce((n, g) => n + g.bytes, 0);
          while (this.previous.length > MAX_PREVIOUS_GOPS || kept > MAX_GOP_BYTES) kept -= this.previous.shift()!.bytes;
        }
        this.chunks = [this.pat, this.pmt];
        this.bytes = 2 * TS_PACKET_SIZE;
        this.keyPts = pesPts(span, off);
        if (this.keyPts >= 0) this.onKeyframe?.(this.keyPts);
        from = off;
        keyAt = off;
      }
    }
    if (this.chunks.length === 0) return keyAt;
    const tail = from === 0 ? span : span.subarray(from);
    this.chunks.push(tail);
    this.bytes += tail.byteLength;
    if (this.bytes > MAX_GOP_BYTES) this.reset();
    return keyAt;
  }

  /**
   * The current GOP; with `atOrBeforePts`, starting instead at the latest kept GOP whose
   * keyframe is not after that frame (the current GOP if none is).
   */
  snapshot(atOrBeforePts?: number): Uint8Array[] {
    const out = [...this.chunks];
    if (atOrBeforePts === undefined || this.keyPts < 0 || !ptsAfter(this.keyPts, atOrBeforePts)) return out;
    const older: Uint8Array[][] = [];
    for (let i = this.previous.length - 1; i >= 0; i--) {
      const g = this.previous[i]!;
      if (g.keyPts < 0) break;
      older.unshift(g.chunks);
      // Each GOP starts with its own PAT and PMT, so the bytes stay decodable throughout.
      if (!ptsAfter(g.keyPts, atOrBeforePts)) break;
    }
    // From the GOP holding that frame, or else the oldest kept (the least missing).
    return [...older.flat(), ...out];
  }

  /**
   * The source's content changed at the current GOP (another codec, a new connection):
   * older GOPs must not feed a new attempt, whose FFmpeg would take the old codec from them.
   */
  dropPrevious(): void {
    this.previous = [];
  }

  reset(): void {
    this.chunks = [];
    this.bytes = 0;
    this.keyPts = -1;
    this.previous = [];
  }
}
