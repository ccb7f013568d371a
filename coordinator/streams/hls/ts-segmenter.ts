// Cuts a live MPEG-TS byte stream (a shared-buffer reader) into HLS media segments.
//
// Each segment starts with PAT, PMT and the first packet of a video keyframe, so any
// segment can be the first a player loads. A cut happens at the first keyframe at least
// `targetSeconds` after the segment's start (so the segment length follows the
// profile's GOP: GOP 2 s -> 2 s segments, GOP 1 s -> two GOPs), measured on the video
// decode timestamps, never on arrival time.
//
// Timeline breaks: after a failover the shared buffer splices a new producer in at a
// keyframe. With timestamps kept (-copyts on both attempts) the new keyframe continues
// the old timeline and nothing needs flagging. A break is looked for on every video
// frame, not only on keyframes: an encoder need not put a keyframe where its source's
// time jumped (back an hour, ahead five), and the frames after the jump move to the new
// timeline before any keyframe comes. At a break (time going back, jumping ahead more
// than `maxGapSeconds`, a keyframe before the open segment's start, or a PMT with another
// program layout) the open segment is closed where the old timeline ends, one frame
// after its last frame; packets are dropped until the next keyframe, and the segment
// that opens there is flagged as a discontinuity. Without that, a segment opened on the
// old timeline would wait for a decode time an hour away and HLS would stop for good.
//
// Parameter sets: a keyframe whose SPS/PPS (VPS) differ from the previous keyframe's (a
// new resolution, or another encoder, after a splice) starts a new segment flagged as a
// discontinuity too, because fMP4 carries them in the init segment (EXT-X-MAP, written at
// each discontinuity) and a player keeping the old avcC could not decode the new frames.
// They are read from the keyframe's first packets, so the decision comes a few packets
// after the keyframe: the open segment is then split at that keyframe.
import { TS_PACKET_SIZE } from '../../../common/mpegts/constants.ts';
import { PacketAligner } from '../../../common/mpegts/packet-aligner.ts';
import { readPayloadOffset } from '../../../common/mpegts/packet-header.ts';
import { PacketKind, ProgramTracker } from '../../../common/mpegts/program-tracker.ts';
import { keyframeParameterSets } from './fmp4/parameter-sets.ts';
import { PTS_HZ, readPesDecodeTime, timestampDelta } from './pes-timestamp.ts';

export interface TsSegment {
  /** 0-based position in this segmenter's output. */
  index: number;
  /** Seconds, from video decode times. */
  duration: number;
  /** Starts with PAT, PMT, then the keyframe. */
  data: Uint8Array<ArrayBuffer>;
  /** The timeline breaks before this segment (EXT-X-DISCONTINUITY). */
  discontinuity: boolean;
  /** Video codec named by the PMT (h264, hevc, ...), or null. */
  videoCodec: string | null;
  /** Audio stream types in the PMT (0x0f AAC, 0x03/0x04 MPEG audio, ...). */
  audioStreamTypes: number[];
}

export interface TsSegmenterOptions {
  targetSeconds: number;
  /** A forward jump larger than this between frames is a timeline break. */
  maxGapSeconds: number;
  /** A segment growing past this (a keyframe never came) is dropped, bounding memory. */
  maxSegmentBytes: number;
}

export const DEFAULT_SEGMENTER_OPTIONS: TsSegmenterOptions = {
  targetSeconds: 2,
  maxGapSeconds: 5,
  maxSegmentBytes: 64 * 1024 * 1024,
};

interface OpenSegment {
  /** Whole packets (PSI copies and relayed packets), 188 bytes each. */
  parts: Uint8Array[];
  bytes: number;
  startTime: number;
  discontinuity: boolean;
  pmtSignature: string;
  /** Index in `parts` of the keyframe that opened the segment. */
  openedAt: number;
  /** From the PMT in force when the segment opened (a later PMT may describe the next one). */
  videoCodec: string | null;
  audioStreamTypes: number[];
}

/** The first ES bytes of a keyframe, gathered until its parameter sets are known. */
interface KeyframeScan {
  segment: OpenSegment;
  /** Index of the keyframe's first packet in `segment.parts`. */
  partIndex: number;
  time: number;
  codec: 'h264' | 'hevc';
  es: Uint8Array[];
  bytes: number;
}

// Keyframes that arrive up to this much (in 90 kHz ticks, ~1/3 frame at 30 fps) before
// the target still cut: 25 fps x 50 frames is 1.99999 s after rounding.
const CUT_TOLERANCE = PTS_HZ / 100;
/** Parameter sets sit at the start of a keyframe; past this many ES bytes they are not looked for. */
const SCAN_LIMIT = 4096;

export class TsSegmenter {
  private readonly aligner = new PacketAligner();
  private readonly tracker = new ProgramTracker();
  private latestPat: Uint8Array | null = null;
  private latestPmt: Uint8Array | null = null;
  /** PAT/PMT seen since the last other packet: they go with a keyframe that may follow. */
  private pendingPsi: Uint8Array[] = [];
  private open: OpenSegment | null = null;
  private lastVideoTime: number | null = null;
  private frameTicks = PTS_HZ / 25;
  private nextIndex = 0;
  /** The next segment starts a new timeline (set after a dropped oversized segment too). */
  private breakPending = false;
  /** Parameter sets of the latest keyframe whose sets were read. */
  private parameterSets: Uint8Array | null = null;
  private scan: KeyframeScan | null = null;
  droppedSegments = 0;

  constructor(
    private readonly onSegment: (segment: TsSegment) => void,
    private readonly options: TsSegmenterOptions = DEFAULT_SEGMENTER_OPTIONS,
  ) {}

  push(chunk: Uint8Array): void {
    for (const span of this.aligner.push(chunk)) {
      for (let o = 0; o < span.length; o += TS_PACKET_SIZE) this.packet(span.subarray(o, o + TS_PACKET_SIZE));
    }
  }

  private packet(packet: Uint8Array): void {
    const kind = this.tracker.inspect(packet, 0);
    if (kind === PacketKind.Pat || kind === PacketKind.Pmt) {
      const copy = packet.slice();
      if (kind === PacketKind.Pat) this.latestPat = copy;
      else this.latestPmt = copy;
      // Another program from here on: nothing of it goes into a segment of the old one.
      if (kind === PacketKind.Pmt && this.open && this.open.pmtSignature !== this.pmtSignature()) this.breakTimeline();
      this.pendingPsi.push(copy);
      if (this.pendingPsi.length > 4) this.append(this.pendingPsi.shift()!);
      return;
    }
    const pid = ((packet[1]! & 0x1f) << 8) | packet[2]!;
    const video = pid === this.tracker.videoPid;
    const time = video ? readPesDecodeTime(packet, 0) : null;
    if (video && this.scan) this.scanMore(packet);
    if (time !== null) this.frame(time, kind === PacketKind.Keyframe);
    this.flushPsi();
    this.append(packet);
    if (kind === PacketKind.Keyframe && time !== null) this.startScan(packet, time);
  }

  /** Every video frame: timeline breaks, then (on a keyframe) the cut decision. */
  private frame(time: number, keyframe: boolean): void {
    const last = this.lastVideoTime;
    let broken = false;
    if (last !== null) {
      const step = timestampDelta(last, time);
      if (step <= 0 || step > this.options.maxGapSeconds * PTS_HZ) broken = true;
      else if (step < PTS_HZ) this.frameTicks = step;
    }
    // A keyframe before the open segment's start can never close it.
    if (keyframe && this.open && timestampDelta(this.open.startTime, time) < 0) broken = true;
    if (broken) this.breakTimeline();
    if (keyframe) this.keyframe(time);
    this.lastVideoTime = time;
  }

  /** Closes the open segment where the old timeline ends; the next keyframe opens a flagged one. */
  private breakTimeline(): void {
    const open = this.open;
    this.open = null;
    this.scan = null;
    this.breakPending = true;
    if (open) this.close(open, this.endOfTimeline(open));
  }

  /** One frame after the open segment's last frame. */
  private endOfTimeline(open: OpenSegment): number {
    return (timestampDelta(open.startTime, this.lastVideoTime ?? open.startTime) + this.frameTicks) / PTS_HZ;
  }

  private keyframe(time: number): void {
    const signature = this.pmtSignature();
    let broken = this.breakPending;
    const open = this.open;
    if (open && open.pmtSignature !== signature) broken = true;
    if (open && !broken && timestampDelta(open.startTime, time) < this.options.targetSeconds * PTS_HZ - CUT_TOLERANCE) return;
    if (open) {
      this.open = null;
      this.close(open, broken ? this.endOfTimeline(open) : timestampDelta(open.startTime, time) / PTS_HZ);
    }
    if (!this.latestPat || !this.latestPmt) return;
    // PAT and PMT directly before the keyframe open the segment as they are; otherwise
    // the latest copies are repeated so the segment stands alone.
    const psi = this.pendingPsi.length >= 2 ? this.pendingPsi : [this.latestPat, this.latestPmt];
    this.pendingPsi = [];
    this.open = this.openSegment([...psi], time, broken && this.nextIndex > 0);
    this.breakPending = false;
  }

  private openSegment(parts: Uint8Array[], startTime: number, discontinuity: boolean): OpenSegment {
    const pmt = this.tracker.pmt;
    return {
      parts,
      bytes: parts.length * TS_PACKET_SIZE,
      startTime,
      discontinuity,
      pmtSignature: this.pmtSignature(),
      openedAt: parts.length,
      videoCodec: pmt?.streams.find((s) => s.pid === pmt.videoPid)?.videoCodec ?? null,
      audioStreamTypes: pmt ? pmt.streams.filter((s) => s.videoCodec === null).map((s) => s.streamType) : [],
    };
  }

  /** Starts reading a keyframe's parameter sets (its packet was just appended to the open segment). */
  private startScan(packet: Uint8Array, time: number): void {
    this.scan = null;
    const open = this.open;
    const codec = open?.videoCodec;
    if (!open || (codec !== 'h264' && codec !== 'hevc')) return;
    const payload = readPayloadOffset(packet, 0);
    if (payload < 0 || payload + 9 > TS_PACKET_SIZE) return;
    const es = payload + 9 + packet[payload + 8]!; // past the PES header
    if (es > TS_PACKET_SIZE) return;
    this.scan = { segment: open, partIndex: open.parts.length - 1, time, codec, es: [], bytes: 0 };
    this.scanBytes(packet.subarray(es));
  }

  /** A video packet while a keyframe is being read: the next frame ends it. */
  private scanMore(packet: Uint8Array): void {
    if ((packet[1]! & 0x40) !== 0) {
      this.finishScan(null);
      return;
    }
    const payload = readPayloadOffset(packet, 0);
    if (payload >= 0) this.scanBytes(packet.subarray(payload));
  }

  private scanBytes(bytes: Uint8Array): void {
    const scan = this.scan!;
    scan.es.push(bytes);
    scan.bytes += bytes.length;
    const joined = new Uint8Array(scan.bytes);
    let at = 0;
    for (const part of scan.es) {
      joined.set(part, at);
      at += part.length;
    }
    const sets = keyframeParameterSets(joined, scan.codec);
    if (sets || scan.bytes >= SCAN_LIMIT) this.finishScan(sets);
  }

  /**
   * The keyframe's parameter sets are known (null: none found). When they differ from the
   * previous keyframe's, the keyframe starts a segment flagged as a discontinuity: the
   * one it opened, or, when it fell inside the open segment, a split there.
   */
  private finishScan(sets: Uint8Array | null): void {
    const scan = this.scan;
    this.scan = null;
    if (!scan || !sets) return;
    const previous = this.parameterSets;
    this.parameterSets = sets;
    if (!previous || sameBytes(previous, sets) || scan.segment !== this.open) return;
    const open = scan.segment;
    if (scan.partIndex === open.openedAt) {
      open.discontinuity ||= this.nextIndex > 0;
      return;
    }
    // Same timeline, so the head ends where the keyframe starts.
    const head = { ...open, parts: open.parts.slice(0, scan.partIndex), bytes: scan.partIndex * TS_PACKET_SIZE };
    this.close(head, timestampDelta(open.startTime, scan.time) / PTS_HZ);
    const tail = open.parts.slice(scan.partIndex);
    const next = this.openSegment([this.latestPat!, this.latestPmt!], scan.time, true);
    next.parts.push(...tail);
    next.bytes += tail.length * TS_PACKET_SIZE;
    this.open = next;
  }

  private close(open: OpenSegment, duration: number): void {
    const data = new Uint8Array(open.bytes);
    let at = 0;
    for (const part of open.parts) {
      data.set(part, at);
      at += part.length;
    }
    this.onSegment({
      index: this.nextIndex++,
      duration,
      data,
      discontinuity: open.discontinuity,
      videoCodec: open.videoCodec,
      audioStreamTypes: open.audioStreamTypes,
    });
  }

  private flushPsi(): void {
    if (this.pendingPsi.length === 0) return;
    for (const psi of this.pendingPsi) this.append(psi);
    this.pendingPsi = [];
  }

  private append(packet: Uint8Array): void {
    const open = this.open;
    if (!open) return; // before the first keyframe or after a break: nothing a player could start from
    open.parts.push(packet);
    open.bytes += packet.length;
    if (open.bytes > this.options.maxSegmentBytes) {
      this.open = null;
      this.scan = null;
      this.droppedSegments++;
      this.breakPending = true;
    }
  }

  /** Program layout as far as segments care: PMT PID, PCR PID, each stream's PID and type. */
  private pmtSignature(): string {
    const pmt = this.tracker.pmt;
    if (!pmt) return '';
    return `${this.tracker.pmtPid}/${pmt.pcrPid}/${pmt.streams.map((s) => `${s.pid}:${s.streamType}`).join(',')}`;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
