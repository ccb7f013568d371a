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
//
// Renditions of a ladder (`grid` set, coordinator/streams/segment-grid.ts): their
// keyframes follow the source's, and the source's upstream has registered where segments
// are cut (the first source keyframe in each new cell of the source's timeline) and how
// they are numbered. The segmenter then cuts exactly at the keyframes the grid names and
// gives each segment the grid's number, so segment n of every rendition starts at the
// same source frame whenever its job started; before the first such keyframe nothing is
// kept (a rendition joining mid-cell must not publish a shorter segment n). A segment
// forced open between grid cuts (a timeline break, new parameter sets, a new program)
// takes the next number and lasts to the grid cut after that one, so numbers stay
// consecutive and the renditions agree again from there. A grid that names no keyframe
// for 3 target durations (keyframes that do not follow the source) falls back to cutting
// at the next keyframe, numbered on.
import { TS_PACKET_SIZE } from '../../../common/mpegts/constants.ts';
import { PacketAligner } from '../../../common/mpegts/packet-aligner.ts';
import { readPayloadOffset } from '../../../common/mpegts/packet-header.ts';
import { PacketKind, ProgramTracker } from '../../../common/mpegts/program-tracker.ts';
import { keyframeParameterSets } from './fmp4/parameter-sets.ts';
import type { CutLookup } from '../segment-grid.ts';
import { PTS_HZ, readPesDecodeTime, readPesPresentationTime, timestampDelta } from './pes-timestamp.ts';

export interface TsSegment {
  /** Media sequence number: 0-based position in this segmenter's output, or the grid's number. */
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
  /** Cut where the source's grid says, with its numbers (ladder renditions); absent: the first keyframe past the target. */
  grid?: CutLookup | null;
  /** The first segment's index without a grid (sequence-base.ts); 0 when unset. */
  firstIndex?: number;
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
  /** Grid mode: the number this segment will carry. */
  number: number | null;
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
/** Grid mode: a segment the grid has not closed after this many target durations is cut at the next keyframe. */
const GRID_FALLBACK_TARGETS = 3;

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
  /** Index of the last segment handed out (null before the first). */
  private lastIndex: number | null = null;
  /** The next segment starts a new timeline (set after a dropped oversized segment too). */
  private breakPending = false;
  /** Parameter sets of the latest keyframe whose sets were read. */
  private parameterSets: Uint8Array | null = null;
  private scan: KeyframeScan | null = null;
  droppedSegments = 0;
  /** Grid mode: cuts numbered otherwise than the grid said (a grid keyframe missing from this output), and cuts the grid did not name. */
  misalignedCuts = 0;
  ungriddedCuts = 0;

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
    const keyframe = kind === PacketKind.Keyframe && time !== null;
    const pts = keyframe ? (readPesPresentationTime(packet, 0) ?? time) : 0;
    if (video && this.scan) this.scanMore(packet);
    if (time !== null) this.frame(time, keyframe, pts);
    this.flushPsi();
    this.append(packet);
    if (keyframe) this.startScan(packet, time);
  }

  /** Every video frame: timeline breaks, then (on a keyframe) the cut decision. */
  private frame(time: number, keyframe: boolean, pts: number): void {
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
    if (keyframe) this.keyframe(time, pts);
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

  private keyframe(time: number, pts: number): void {
    const signature = this.pmtSignature();
    let broken = this.breakPending;
    const open = this.open;
    if (open && open.pmtSignature !== signature) broken = true;
    const grid = this.options.grid;
    const cut = grid ? grid.cutAt(pts, this.frameTicks / 2) : null;
    if (open && !broken && !this.cutsHere(open, time, cut)) return;
    if (open) {
      this.open = null;
      this.close(open, broken ? this.endOfTimeline(open) : timestampDelta(open.startTime, time) / PTS_HZ);
    }
    if (!this.latestPat || !this.latestPmt) return;
    let number: number | null = null;
    if (grid) {
      // Consecutive after the last segment; the very first one waits for a grid keyframe.
      if (this.lastIndex === null && cut === null) return;
      number = this.lastIndex === null ? cut! : this.lastIndex + 1;
      if (cut !== null && cut > number) this.misalignedCuts++;
    }
    // PAT and PMT directly before the keyframe open the segment as they are; otherwise
    // the latest copies are repeated so the segment stands alone.
    const psi = this.pendingPsi.length >= 2 ? this.pendingPsi : [this.latestPat, this.latestPmt];
    this.pendingPsi = [];
    this.open = this.openSegment([...psi], time, number, broken && this.lastIndex !== null);
    this.breakPending = false;
  }

  /** Whether a keyframe (decode time `time`, grid number `cut`) ends the open segment on the same timeline. */
  private cutsHere(open: OpenSegment, time: number, cut: number | null): boolean {
    const elapsed = timestampDelta(open.startTime, time);
    if (open.number === null) return elapsed >= this.options.targetSeconds * PTS_HZ - CUT_TOLERANCE;
    // A grid cut whose number this segment already carries (it was forced open before it) is absorbed.
    if (cut !== null) return cut > open.number;
    if (elapsed < GRID_FALLBACK_TARGETS * this.options.targetSeconds * PTS_HZ) return false;
    this.ungriddedCuts++;
    return true;
  }

  private openSegment(parts: Uint8Array[], startTime: number, number: number | null, discontinuity: boolean): OpenSegment {
    const pmt = this.tracker.pmt;
    return {
      parts,
      bytes: parts.length * TS_PACKET_SIZE,
      startTime,
      number,
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
      open.discontinuity ||= this.lastIndex !== null;
      return;
    }
    // Same timeline, so the head ends where the keyframe starts.
    const head = { ...open, parts: open.parts.slice(0, scan.partIndex), bytes: scan.partIndex * TS_PACKET_SIZE };
    this.close(head, timestampDelta(open.startTime, scan.time) / PTS_HZ);
    const tail = open.parts.slice(scan.partIndex);
    // Grid mode: the rest takes the next number and absorbs the grid cut that carries it.
    const next = this.openSegment([this.latestPat!, this.latestPmt!], scan.time, open.number === null ? null : this.lastIndex! + 1, true);
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
    const index = open.number ?? (this.lastIndex === null ? (this.options.firstIndex ?? 0) : this.lastIndex + 1);
    this.lastIndex = index;
    this.onSegment({
      index,
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
