// What a hot standby made recently, held for the moment it takes over. The standby runs
// alongside the primary on its own worker; its output is not sent to anyone, but the
// frames just after the last one the clients got from the primary are in it, usually
// already made by the time the primary's loss is noticed. Holding the last few seconds
// lets the switch start at exactly the next frame instead of at the standby's live edge.
import { PacketAligner, PacketKind, ProgramTracker, TS_PACKET_SIZE } from '../../common/mpegts';

// Long enough to cover a partition's detection (loss deadline ~1.25 s plus an RTT), and
// the two encoders running apart by a few frames; a cap in bytes bounds a high bitrate.
export const STANDBY_HOLD_MS = 3_000;
export const STANDBY_HOLD_BYTES = 8 << 20;

export class StandbyOutput {
  private readonly aligner = new PacketAligner();
  private readonly tracker = new ProgramTracker();
  private pat: Uint8Array | null = null;
  private pmt: Uint8Array | null = null;
  private held: { at: number; bytes: Uint8Array }[] = [];
  private heldBytes = 0;

  constructor(private readonly now: () => number = () => Date.now()) {}

  /** Takes a chunk of the standby's output (owned copies are kept; the caller may reuse its buffer). */
  push(chunk: Uint8Array): void {
    const at = this.now();
    for (const span of this.aligner.push(chunk)) {
      for (let o = 0; o + TS_PACKET_SIZE <= span.length; o += TS_PACKET_SIZE) {
        const kind = this.tracker.inspect(span, o);
        if (kind === PacketKind.Pat) this.pat = span.slice(o, o + TS_PACKET_SIZE);
        else if (kind === PacketKind.Pmt) this.pmt = span.slice(o, o + TS_PACKET_SIZE);
      }
      this.held.push({ at, bytes: span.slice() });
      this.heldBytes += span.length;
    }
    while (this.held.length > 1 && (this.heldBytes > STANDBY_HOLD_BYTES || at - this.held[0]!.at > STANDBY_HOLD_MS)) {
      this.heldBytes -= this.held.shift()!.bytes.length;
    }
  }

  get bytes(): number {
    return this.heldBytes;
  }

  /**
   * The held output, oldest first, after the latest PAT and PMT (so a gate reading it
   * knows the program before the first frame it may pass); empties the holder.
   */
  take(): Uint8Array[] {
    const out = this.pat && this.pmt ? [this.pat, this.pmt] : [];
    for (const h of this.held) out.push(h.bytes);
    this.held = [];
    this.heldBytes = 0;
    return out;
  }
}
