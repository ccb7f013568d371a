// Splicing a failover attempt into a running stream without repeating media.
//
// The replacement encoder is fed from the source's current GOP, which starts before the
// last frame the clients got, and is asked for a keyframe just after that frame
// (StartJob spec.splice_keyframe_pts -> FFmpeg -force_key_frames). Workers run FFmpeg
// with -copyts and no mux delay, so its output timestamps are the source's: the
// coordinator compares them with what it already delivered and drops everything up to
// the first keyframe after it (and, per elementary stream, every PES not later than
// the last one delivered). The new encoder catches up faster than real time on the GOP
// it was given, so the splice lands on the next frame instead of the source's next GOP.
import { PacketAligner, PacketKind, ProgramTracker, TS_PACKET_SIZE } from '../../common/mpegts';

export const PTS_HZ = 90_000;
const PTS_MOD = 2 ** 33;
// Half a frame at 25 fps: where the keyframe is asked for when no frame step is known yet.
const DEFAULT_HALF_FRAME_TICKS = 1800;

/** PTS (90 kHz) of the PES that starts in the packet at `off`, or -1 if none starts there. */
export function pesPts(buf: Uint8Array, off: number): number {
  if ((buf[off + 1]! & 0x40) === 0) return -1; // no payload_unit_start
  const b3 = buf[off + 3]!;
  if ((b3 & 0x10) === 0) return -1; // no payload
  let p = off + 4;
  if ((b3 & 0x20) !== 0) p += 1 + buf[off + 4]!;
  if (p + 14 > off + TS_PACKET_SIZE) return -1;
  if (buf[p] !== 0 || buf[p + 1] !== 0 || buf[p + 2] !== 1) return -1;
  if ((buf[p + 7]! & 0x80) === 0) return -1; // PTS_DTS_flags: no PTS
  const q = p + 9;
  const high = (buf[q]! >> 1) & 0x07; // PTS[32..30]
  const low = ((buf[q + 1]! << 22) | ((buf[q + 2]! >> 1) << 15) | (buf[q + 3]! << 7) | (buf[q + 4]! >> 1)) >>> 0; // PTS[29..0]
  return high * 2 ** 30 + low;
}

/**
 * Decode timestamp (90 kHz) of the PES that starts in the packet at `off`: its DTS, or its
 * PTS when it carries none (then both are the same); -1 if no PES with a PTS starts there.
 */
export function pesDts(buf: Uint8Array, off: number): number {
  const pts = pesPts(buf, off);
  if (pts < 0) return -1;
  const b3 = buf[off + 3]!;
  let p = off + 4;
  if ((b3 & 0x20) !== 0) p += 1 + buf[off + 4]!;
  if ((buf[p + 7]! & 0xc0) !== 0xc0 || p + 19 > off + TS_PACKET_SIZE) return pts;
  const q = p + 14;
  const high = (buf[q]! >> 1) & 0x07;
  const low = ((buf[q + 1]! << 22) | ((buf[q + 2]! >> 1) << 15) | (buf[q + 3]! << 7) | (buf[q + 4]! >> 1)) >>> 0;
  return high * 2 ** 30 + low;
}

/** The packet at `off` starts a PES (its payload begins with the 00 00 01 start code). */
function startsPes(buf: Uint8Array, off: number): boolean {
  const b3 = buf[off + 3]!;
  let p = off + 4;
  if ((b3 & 0x20) !== 0) p += 1 + buf[off + 4]!;
  return p + 3 <= off + TS_PACKET_SIZE && buf[p] === 0 && buf[p + 1] === 0 && buf[p + 2] === 1;
}

/** `a` is later than `b` on the 33-bit PTS clock (which wraps every ~26.5 h). */
export function ptsAfter(a: number, b: number): boolean {
  const d = (((a - b) % PTS_MOD) + PTS_MOD) % PTS_MOD;
  return d > 0 && d < PTS_MOD / 2;
}

/** Follows what went into the shared buffer: the latest PTS per PID and the video frame step. */
export class DeliveredMedia {
  private aligner = new PacketAligner();
  private tracker = new ProgramTracker();
  /** Latest PTS delivered per PID (elementary streams only). */
  readonly lastPts = new Map<number, number>();
  /** Decode timestamp of the last PES delivered per PID, in stream (decode) order. */
  readonly lastDts = new Map<number, number>();
  private videoPid = -1;
  /** Smallest positive step between successive video PTS seen (0 = not yet). */
  private frameTicks = 0;
  /** +1 for every PES later than any before it on its PID: media moving forward (the stall watchdog). */
  advances = 0;

  /** A new producer: its bytes start a new packet sequence. */
  beginProducer(): void {
    this.aligner = new PacketAligner();
    this.tracker = new ProgramTracker();
  }

  observe(chunk: Uint8Array): void {
    for (const span of this.aligner.push(chunk)) {
      for (let o = 0; o + TS_PACKET_SIZE <= span.length; o += TS_PACKET_SIZE) {
        this.tracker.inspect(span, o);
        const pts = pesPts(span, o);
        if (pts < 0) continue;
        const pid = ((span[o + 1]! & 0x1f) << 8) | span[o + 2]!;
        this.lastDts.set(pid, pesDts(span, o));
        const prev = this.lastPts.get(pid);
        if (prev !== undefined && !ptsAfter(pts, prev)) continue; // B-frames: keep the latest
        if (pid === this.tracker.videoPid) {
          this.videoPid = pid;
          if (prev !== undefined) {
            const step = (((pts - prev) % PTS_MOD) + PTS_MOD) % PTS_MOD;
            if (step > 0 && step < PTS_HZ && (this.frameTicks === 0 || step < this.frameTicks)) this.frameTicks = step;
          }
        }
        this.lastPts.set(pid, pts);
        this.advances++;
      }
    }
  }

  /** The latest video PTS delivered, or -1. */
  get videoPts(): number {
    return this.videoPid >= 0 ? (this.lastPts.get(this.videoPid) ?? -1) : -1;
  }

  /**
   * Where the next producer should put its keyframe: half a frame after the last video
   * frame delivered (FFmpeg rounds the time to its frame grid, so the keyframe falls on
   * the first frame after it), or 0 when nothing was delivered yet.
   */
  spliceKeyframePts(): number {
    const last = this.videoPts;
    if (last < 0) return 0;
    const half = this.frameTicks > 0 ? Math.floor(this.frameTicks / 2) : DEFAULT_HALF_FRAME_TICKS;
    return ((last + half) % PTS_MOD) || 1;
  }
}

/**
 * Where a gate lets a new producer in. `keyframe`: at its first video keyframe later than
 * what was delivered (a failover attempt, whose encoder was asked for a keyframe there).
 * `frame`: on each stream at its first PES whose decode timestamp is later than the last
 * one delivered, keyframe or not: only for a producer whose frames share the delivered
 * one's structure (a hot standby with aligned keyframes, proto keyframe_align_ms), so a
 * frame from it may follow the other's frames and references what the client decoded.
 */
export type SpliceAt = 'keyframe' | 'frame';

/**
 * Holds back a replacement's output until its splice point (see SpliceAt; the PAT and PMT
 * seen so far go out just before it); after that, each other stream passes from its
 * first PES later than its own delivered PTS. With nothing delivered for a stream, that
 * stream is not held back.
 */
export class SpliceGate {
  private readonly aligner = new PacketAligner();
  private readonly tracker = new ProgramTracker();
  private pat: Uint8Array | null = null;
  private pmt: Uint8Array | null = null;
  private open = false;
  private readonly passing = new Set<number>();
  /** Bytes dropped because they repeated what was delivered (or preceded the splice keyframe). */
  droppedBytes = 0;

  /**
   * `delivered`: latest PTS per PID (DeliveredMedia.lastPts); in `frame` mode the decode
   * timestamps of the last PES per PID (DeliveredMedia.lastDts).
   */
  constructor(
    private readonly delivered: ReadonlyMap<number, number>,
    readonly at: SpliceAt = 'keyframe',
  ) {}

  get isOpen(): boolean {
    return this.open;
  }

  /** What of `chunk` may go to the clients (whole packets), in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const span of this.aligner.push(chunk)) {
      let runStart = -1; // a run of passed packets inside this span
      for (let o = 0; o + TS_PACKET_SIZE <= span.length; o += TS_PACKET_SIZE) {
        const wasOpen = this.open;
        if (this.decide(span, o)) {
          // The splice: PAT and PMT, then the keyframe (nothing passed before it).
          if (!wasOpen) out.push(this.pat!, this.pmt!);
          if (runStart < 0) runStart = o;
          continue;
        }
        if (runStart >= 0) out.push(span.subarray(runStart, o));
        runStart = -1;
        this.droppedBytes += TS_PACKET_SIZE;
      }
      if (runStart >= 0) out.push(span.subarray(runStart));
    }
    return out;
  }

  private decide(buf: Uint8Array, o: number): boolean {
    const kind = this.tracker.inspect(buf, o);
    const pid = ((buf[o + 1]! & 0x1f) << 8) | buf[o + 2]!;
    if (!this.open) {
      if (kind === PacketKind.Pat) this.pat = buf.slice(o, o + TS_PACKET_SIZE);
      else if (kind === PacketKind.Pmt) this.pmt = buf.slice(o, o + TS_PACKET_SIZE);
      if (this.at === 'frame') return this.openAtFrame(buf, o, pid);
      if (kind !== PacketKind.Keyframe || !this.pat || !this.pmt) return false;
      const last = this.delivered.get(pid);
      const pts = pesPts(buf, o);
      if (last !== undefined && pts >= 0 && !ptsAfter(pts, last)) return false;
      this.open = true;
      this.passing.add(pid);
      return true;
    }
    if (kind === PacketKind.Pat || kind === PacketKind.Pmt || pid === this.tracker.pmtPid || this.passing.has(pid)) return true;
    if ((buf[o + 1]! & 0x40) === 0) return false; // the rest of a unit that was dropped
    if (this.at === 'frame') return this.laterPes(buf, o, pid);
    // Tables (SDT, ...) pass from their next section; a PES from the first one later than
    // what was delivered on this PID.
    const pts = pesPts(buf, o);
    const last = this.delivered.get(pid);
    if (pts >= 0 && last !== undefined && !ptsAfter(pts, last)) return false;
    this.passing.add(pid);
    return true;
  }

  /** Frame mode, before the splice: opens on the first elementary-stream PES later than delivered. */
  private openAtFrame(buf: Uint8Array, o: number, pid: number): boolean {
    if (!this.pat || !this.pmt || this.tracker.videoPid < 0 || (buf[o + 1]! & 0x40) === 0) return false;
    if (pesDts(buf, o) < 0 || !this.laterPes(buf, o, pid)) return false;
    this.open = true;
    return true;
  }

  /** Frame mode: a PES (starting here) passes from the first one later than what was delivered on its PID. */
  private laterPes(buf: Uint8Array, o: number, pid: number): boolean {
    const dts = pesDts(buf, o);
    if (dts < 0) {
      // A table section (SDT, ...) passes from its next section; a PES without timestamps waits.
      if (startsPes(buf, o)) return false;
      this.passing.add(pid);
      return true;
    }
    const last = this.delivered.get(pid);
    if (last !== undefined && !ptsAfter(dts, last)) return false;
    this.passing.add(pid);
    return true;
  }
}
