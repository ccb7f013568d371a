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
// the old timeline and nothing needs flagging. When time goes backwards, jumps ahead by
// more than `maxGapSeconds`, or the program layout changes (PIDs, codec), the segment is
// closed at that keyframe and the next one is flagged as a discontinuity.
import { TS_PACKET_SIZE } from '../../../common/mpegts/constants.ts';
import { PacketAligner } from '../../../common/mpegts/packet-aligner.ts';
import { PacketKind, ProgramTracker } from '../../../common/mpegts/program-tracker.ts';
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
  parts: Uint8Array[];
  bytes: number;
  startTime: number;
  discontinuity: boolean;
  pmtSignature: string;
}

// Keyframes that arrive up to this much (in 90 kHz ticks, ~1/3 frame at 30 fps) before
// the target still cut: 25 fps x 50 frames is 1.99999 s after rounding.
const CUT_TOLERANCE = PTS_HZ / 100;

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
      this.pendingPsi.push(copy);
      if (this.pendingPsi.length > 4) this.append(this.pendingPsi.shift()!);
      return;
    }
    const pid = ((packet[1]! & 0x1f) << 8) | packet[2]!;
    const time = pid === this.tracker.videoPid ? readPesDecodeTime(packet, 0) : null;
    if (kind === PacketKind.Keyframe && time !== null) this.keyframe(time);
    this.flushPsi();
    this.append(packet);
    if (time !== null) {
      if (this.lastVideoTime !== null) {
        const d = timestampDelta(this.lastVideoTime, time);
        if (d > 0 && d < PTS_HZ) this.frameTicks = d;
      }
      this.lastVideoTime = time;
    }
  }

  private keyframe(time: number): void {
    const signature = this.pmtSignature();
    let broken = this.breakPending;
    if (this.lastVideoTime !== null) {
      const step = timestampDelta(this.lastVideoTime, time);
      if (step <= 0 || step > this.options.maxGapSeconds * PTS_HZ) broken = true;
    }
    const open = this.open;
    if (open && open.pmtSignature !== signature) broken = true;
    if (open && !broken && timestampDelta(open.startTime, time) < this.options.targetSeconds * PTS_HZ - CUT_TOLERANCE) return;
    if (open) {
      // At a break the old timeline ends one frame after its last frame.
      const end = broken ? timestampDelta(open.startTime, this.lastVideoTime ?? open.startTime) + this.frameTicks : timestampDelta(open.startTime, time);
      this.close(open, end / PTS_HZ);
    }
    if (!this.latestPat || !this.latestPmt) return;
    // PAT and PMT directly before the keyframe open the segment as they are; otherwise
    // the latest copies are repeated so the segment stands alone.
    const psi = this.pendingPsi.length >= 2 ? this.pendingPsi : [this.latestPat, this.latestPmt];
    this.pendingPsi = [];
    this.open = { parts: [...psi], bytes: psi.length * TS_PACKET_SIZE, startTime: time, discontinuity: broken && this.nextIndex > 0, pmtSignature: signature };
    this.breakPending = false;
  }

  private close(open: OpenSegment, duration: number): void {
    this.open = null;
    const data = new Uint8Array(open.bytes);
    let at = 0;
    for (const part of open.parts) {
      data.set(part, at);
      at += part.length;
    }
    const pmt = this.tracker.pmt;
    const audioStreamTypes = pmt ? pmt.streams.filter((s) => s.videoCodec === null).map((s) => s.streamType) : [];
    const video = pmt?.streams.find((s) => s.pid === pmt.videoPid);
    this.onSegment({
      index: this.nextIndex++,
      duration,
      data,
      discontinuity: open.discontinuity,
      videoCodec: video?.videoCodec ?? null,
      audioStreamTypes,
    });
  }

  private flushPsi(): void {
    if (this.pendingPsi.length === 0) return;
    for (const psi of this.pendingPsi) this.append(psi);
    this.pendingPsi = [];
  }

  private append(packet: Uint8Array): void {
    const open = this.open;
    if (!open) return; // before the first keyframe: nothing a player could start from
    open.parts.push(packet);
    open.bytes += packet.length;
    if (open.bytes > this.options.maxSegmentBytes) {
      this.open = null;
      this.droppedSegments++;
      this.breakPending = true;
    }
  }

  private pmtSignature(): string {
    const pmt = this.tracker.pmt;
    return pmt ? pmt.streams.map((s) => `${s.pid}:${s.streamType}`).join(',') : '';
  }
}
