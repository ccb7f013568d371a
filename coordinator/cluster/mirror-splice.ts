// Where a mirror's next producer joins what its viewers already have, and on which
// timeline (mirror-run.ts).
//
// A mirror's producers are not one encoder's failover attempts: after a takeover the new
// owner runs its own upstream connection and its own job, so its output may be on another
// clock altogether (the built-in test pattern, or any FFmpeg input, starts again at ~1.4 s
// on every coordinator). Written into the buffer as it came, the viewers' decode times
// jumped back by however long the source had run (found by the rolling-restart test,
// tests/e2e/cluster.rolling-restart.test.ts): players that order frames by time stall or
// drop the new producer's frames until its clock catches up. And a reconnect to the same
// owner joins that owner's buffer at its latest keyframe, repeating up to a GOP the
// viewers had.
//
// So each new producer is held back until its first keyframe (after its PAT and PMT), and
// then compared with the last video frame delivered:
//   - the same clock (its keyframe within a timeline break of the last frame, the
//     thresholds of common/mpegts/timeline-restamp.ts): it joins at its first keyframe
//     later than what was delivered, timestamps as they are (a shared live source's clock,
//     or the same owner again);
//   - another clock: it is restamped (PCR, PTS, DTS, one offset for every PID) so that its
//     keyframe comes right after the end of every stream delivered so far.
// After the splice each other stream passes from its first PES that starts after the end
// of its last delivered one, so audio never overlaps. The buffer's own gate then opens on
// the PAT, PMT and keyframe passed here, and rewrites continuity counters as for any splice.
import { mod33, PacketAligner, PacketKind, PID_NULL, ProgramTracker, readPcrBase, readPesTimestamp, signedDelta, TS_PACKET_SIZE, writePcrBase, writePesTimestamp } from '../../common/mpegts';
import { pesDts, pesPts } from '../streams/splice-point';

/** A keyframe this far behind the last frame delivered, or further, is on another clock (1 s, as timeline-restamp.ts). */
const SAME_CLOCK_BACK_TICKS = 90_000;
/** ... or this far ahead (5 s). */
const SAME_CLOCK_AHEAD_TICKS = 5 * 90_000;
/** Frame step assumed when none was seen: 40 ms. */
const DEFAULT_STEP_TICKS = 3600;
/** Longest PES duration taken into account (a bundle of audio frames): 1 s. */
const MAX_SPAN_TICKS = 90_000;

/** The packet at `o` starts a PES (payload_unit_start and the 00 00 01 start code). */
function startsPes(buf: Uint8Array, o: number): boolean {
  if ((buf[o + 1]! & 0x40) === 0) return false;
  const b3 = buf[o + 3]!;
  if ((b3 & 0x10) === 0) return false;
  const p = o + 4 + ((b3 & 0x20) !== 0 ? 1 + buf[o + 4]! : 0);
  return p + 3 <= o + TS_PACKET_SIZE && buf[p] === 0 && buf[p + 1] === 0 && buf[p + 2] === 1;
}

export type MirrorSpliceKind = 'first' | 'same-clock' | 'restamped';

export class MirrorSplice {
  private aligner = new PacketAligner();
  private tracker = new ProgramTracker();
  private open = false;
  private pat: Uint8Array | null = null;
  private pmt: Uint8Array | null = null;
  /** PIDs passing since the splice (their next PES is not checked again). */
  private readonly passing = new Set<number>();
  /** Output minus producer timestamp (90 kHz, mod 2^33) for the current producer. */
  private offset = 0;
  /** Delivered, in output time, per PID: the latest PTS and DTS, and how long its last PES lasts. */
  private readonly lastPts = new Map<number, number>();
  private readonly lastDts = new Map<number, number>();
  private readonly span = new Map<number, number>();
  private deliveredVideoPid = -1;
  /** How the last producer joined (null before the first joined). */
  lastSplice: MirrorSpliceKind | null = null;
  /** Producers joined so far (the first included). */
  joined = 0;
  /** Producers restamped onto the delivered timeline so far. */
  restamped = 0;
  /** Producer bytes held back: before the splice keyframe, or repeating what was delivered. */
  droppedBytes = 0;

  /** A new producer: its bytes are held back until its splice keyframe. */
  beginProducer(): void {
    this.aligner = new PacketAligner();
    this.tracker = new ProgramTracker();
    this.open = false;
    this.pat = null;
    this.pmt = null;
    this.passing.clear();
  }

  /**
   * What of a producer's `chunk` goes to the viewers, as whole packets, in order. Packets
   * to restamp are copied first: a local producer's chunks are its own buffer's, shared
   * with its other readers.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const span of this.aligner.push(chunk)) {
      // Copied while the offset may be (or become, at the splice) not 0. new Uint8Array(),
      // not slice(): a local producer's chunks may be Buffers (the gRPC messages its buffer
      // keeps as they are), whose slice() is a view.
      const own = this.offset !== 0 || !this.open ? new Uint8Array(span) : span;
      let runStart = -1;
      for (let o = 0; o + TS_PACKET_SIZE <= own.length; o += TS_PACKET_SIZE) {
        const wasOpen = this.open;
        if (this.decide(own, o)) {
          if (!wasOpen) out.push(this.pat!, this.pmt!);
          if (this.offset !== 0) this.restampPacket(own, o);
          this.noteDelivered(own, o);
          if (runStart < 0) runStart = o;
          continue;
        }
        if (runStart >= 0) out.push(own.subarray(runStart, o));
        runStart = -1;
        this.droppedBytes += TS_PACKET_SIZE;
      }
      if (runStart >= 0) out.push(own.subarray(runStart));
    }
    return out;
  }

  private decide(buf: Uint8Array, o: number): boolean {
    const kind = this.tracker.inspect(buf, o);
    const pid = ((buf[o + 1]! & 0x1f) << 8) | buf[o + 2]!;
    if (!this.open) {
      if (kind === PacketKind.Pat) this.pat = new Uint8Array(buf.subarray(o, o + TS_PACKET_SIZE));
      else if (kind === PacketKind.Pmt) this.pmt = new Uint8Array(buf.subarray(o, o + TS_PACKET_SIZE));
      if (kind !== PacketKind.Keyframe || !this.pat || !this.pmt) return false;
      const pts = pesPts(buf, o);
      if (pts < 0) return false;
      const splice = this.placeKeyframe(pts, pesDts(buf, o));
      if (splice === null) return false;
      // The offset applies from this packet on (push() copies every span until the splice).
      this.lastSplice = splice;
      this.joined++;
      this.open = true;
      this.passing.add(pid);
      return true;
    }
    if (kind === PacketKind.Pat || kind === PacketKind.Pmt || pid === this.tracker.pmtPid || pid === PID_NULL || this.passing.has(pid)) return true;
    if ((buf[o + 1]! & 0x40) === 0) return false; // the rest of a unit that was dropped
    if (!startsPes(buf, o)) {
      this.passing.add(pid); // a table (SDT, ...) passes from its next section
      return true;
    }
    const pts = pesPts(buf, o);
    if (pts < 0) return false; // a PES without a timestamp waits for one that has
    const last = this.lastPts.get(pid);
    if (last !== undefined && signedDelta(mod33(last + (this.span.get(pid) ?? 0)), mod33(pts + this.offset)) < 0) return false;
    this.passing.add(pid);
    return true;
  }

  /**
   * The new producer's first keyframe (producer time): how it joins, with this.offset set
   * for it; null to wait for a later keyframe (the same clock, not past what was delivered).
   */
  private placeKeyframe(pts: number, dts: number): MirrorSpliceKind | null {
    const video = this.deliveredVideoPid;
    const lastVideoPts = video >= 0 ? this.lastPts.get(video) : undefined;
    if (lastVideoPts === undefined) {
      this.offset = 0;
      return 'first';
    }
    const d = signedDelta(mod33(lastVideoPts - this.offset), pts);
    if (d >= -SAME_CLOCK_BACK_TICKS && d <= SAME_CLOCK_AHEAD_TICKS) return d > 0 ? 'same-clock' : null;
    // Another clock: the keyframe's decode time goes right after the end of every stream delivered.
    let frontier = mod33(this.lastDts.get(video)! + (this.span.get(video) || DEFAULT_STEP_TICKS));
    for (const [pid, last] of this.lastPts) {
      if (pid === video) continue;
      const end = mod33(last + (this.span.get(pid) || DEFAULT_STEP_TICKS));
      const rel = signedDelta(frontier, end);
      if (rel > 0 && rel <= SAME_CLOCK_AHEAD_TICKS) frontier = end;
    }
    this.offset = mod33(frontier - (dts >= 0 ? dts : pts));
    this.restamped++;
    return 'restamped';
  }

  /** Records a passed packet's output timestamps (after restamping). */
  private noteDelivered(buf: Uint8Array, o: number): void {
    const pts = pesPts(buf, o);
    if (pts < 0) return;
    const pid = ((buf[o + 1]! & 0x1f) << 8) | buf[o + 2]!;
    if (pid === this.tracker.videoPid) this.deliveredVideoPid = pid;
    this.lastDts.set(pid, pesDts(buf, o));
    const prev = this.lastPts.get(pid);
    if (prev !== undefined) {
      const step = signedDelta(prev, pts);
      if (step <= 0) return; // B-frames: keep the latest
      this.span.set(pid, Math.min(step, MAX_SPAN_TICKS));
    }
    this.lastPts.set(pid, pts);
  }

  /** Shifts the packet's PCR/OPCR and PES PTS/DTS by the current offset, in place. */
  private restampPacket(buf: Uint8Array, o: number): void {
    const b3 = buf[o + 3]!;
    let payload = o + 4;
    if ((b3 & 0x20) !== 0) {
      const afLength = buf[o + 4]!;
      if (5 + afLength > TS_PACKET_SIZE) return;
      payload = o + 5 + afLength;
      if (afLength > 0) {
        const flags = buf[o + 5]!;
        let q = o + 6;
        const afEnd = o + 5 + afLength;
        if ((flags & 0x10) !== 0 && q + 6 <= afEnd) {
          writePcrBase(buf, q, mod33(readPcrBase(buf, q) + this.offset));
          q += 6;
        }
        if ((flags & 0x08) !== 0 && q + 6 <= afEnd) writePcrBase(buf, q, mod33(readPcrBase(buf, q) + this.offset));
      }
    }
    if ((b3 & 0x10) === 0 || (buf[o + 1]! & 0x40) === 0) return;
    const p = payload;
    const end = o + TS_PACKET_SIZE;
    if (p + 14 > end || buf[p] !== 0 || buf[p + 1] !== 0 || buf[p + 2] !== 1 || (buf[p + 6]! & 0xc0) !== 0x80) return;
    const flags = buf[p + 7]! >> 6;
    const headerLength = buf[p + 8]!;
    if (flags === 2 && headerLength >= 5) {
      writePesTimestamp(buf, p + 9, 0x2, mod33(readPesTimestamp(buf, p + 9) + this.offset));
    } else if (flags === 3 && headerLength >= 10 && p + 19 <= end) {
      writePesTimestamp(buf, p + 9, 0x3, mod33(readPesTimestamp(buf, p + 9) + this.offset));
      writePesTimestamp(buf, p + 14, 0x1, mod33(readPesTimestamp(buf, p + 14) + this.offset));
    }
  }
}
