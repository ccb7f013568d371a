// Elementary streams out of one MPEG-TS segment, for repackaging as fMP4: video access
// units (one PES per frame, as FFmpeg writes them) and AAC frames (ADTS, several per PES),
// each with its 90 kHz timestamps.
import { TS_PACKET_SIZE } from '../../../../common/mpegts/constants.ts';
import { readPayloadOffset } from '../../../../common/mpegts/packet-header.ts';
import { ProgramTracker } from '../../../../common/mpegts/program-tracker.ts';

export interface VideoFrame {
  dts: number;
  pts: number;
  /** Annex B bytes (start codes). */
  data: Uint8Array;
}

export interface AacFrame {
  pts: number;
  /** Raw AAC (ADTS header removed). */
  data: Uint8Array;
}

export interface AdtsConfig {
  objectType: number;
  samplingIndex: number;
  sampleRate: number;
  channels: number;
}

export interface SegmentStreams {
  videoCodec: string | null;
  video: VideoFrame[];
  audio: AacFrame[];
  adts: AdtsConfig | null;
}

const SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
const STREAM_TYPE_AAC = 0x0f;

interface Pes {
  pts: number | null;
  dts: number | null;
  parts: Uint8Array[];
}

export function demuxSegment(bytes: Uint8Array): SegmentStreams {
  const tracker = new ProgramTracker();
  const open = new Map<number, Pes>();
  const done: { pid: number; pes: Pes }[] = [];
  for (let o = 0; o + TS_PACKET_SIZE <= bytes.length; o += TS_PACKET_SIZE) {
    tracker.inspect(bytes, o);
    const pid = ((bytes[o + 1]! & 0x1f) << 8) | bytes[o + 2]!;
    const pmt = tracker.pmt;
    if (!pmt || !pmt.streams.some((s) => s.pid === pid)) continue;
    const payload = readPayloadOffset(bytes, o);
    if (payload < 0) continue;
    const data = bytes.subarray(o + payload, o + TS_PACKET_SIZE);
    if ((bytes[o + 1]! & 0x40) !== 0) {
      const prev = open.get(pid);
      if (prev) done.push({ pid, pes: prev });
      open.set(pid, { pts: null, dts: null, parts: [data] });
    } else open.get(pid)?.parts.push(data);
  }
  for (const [pid, pes] of open) done.push({ pid, pes });
  const pmt = tracker.pmt;
  const videoPid = pmt?.videoPid ?? -1;
  const audioPid = pmt?.streams.find((s) => s.streamType === STREAM_TYPE_AAC)?.pid ?? -1;
  const out: SegmentStreams = { videoCodec: pmt?.streams.find((s) => s.pid === videoPid)?.videoCodec ?? null, video: [], audio: [], adts: null };
  for (const { pid, pes } of done) {
    if (pid !== videoPid && pid !== audioPid) continue;
    const parsed = parsePes(concat(pes.parts));
    if (!parsed) continue;
    if (pid === videoPid) out.video.push({ dts: parsed.dts ?? parsed.pts, pts: parsed.pts, data: parsed.payload });
    else splitAdts(parsed.payload, parsed.pts, out);
  }
  return out;
}

function parsePes(buf: Uint8Array): { pts: number; dts: number | null; payload: Uint8Array } | null {
  if (buf.length < 9 || buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 1) return null;
  const flags = buf[7]! >> 6;
  const headerEnd = 9 + buf[8]!;
  if (flags < 2 || headerEnd > buf.length) return null;
  const pts = timestamp(buf, 9);
  const dts = flags === 3 ? timestamp(buf, 14) : null;
  return { pts, dts, payload: buf.subarray(headerEnd) };
}

function timestamp(buf: Uint8Array, at: number): number {
  return ((buf[at]! >> 1) & 0x07) * 2 ** 30 + (((buf[at + 1]! << 7) | (buf[at + 2]! >> 1)) & 0x7fff) * 2 ** 15 + (((buf[at + 3]! << 7) | (buf[at + 4]! >> 1)) & 0x7fff);
}

/** ADTS frames of one PES; the k-th frame is 1024 samples after the PES timestamp. */
function splitAdts(buf: Uint8Array, pts: number, out: SegmentStreams): void {
  let o = 0;
  let k = 0;
  while (o + 7 <= buf.length && buf[o] === 0xff && (buf[o + 1]! & 0xf0) === 0xf0) {
    const protectionAbsent = buf[o + 1]! & 0x01;
    const objectType = (buf[o + 2]! >> 6) + 1;
    const samplingIndex = (buf[o + 2]! >> 2) & 0x0f;
    const channels = ((buf[o + 2]! & 0x01) << 2) | (buf[o + 3]! >> 6);
    const length = ((buf[o + 3]! & 0x03) << 11) | (buf[o + 4]! << 3) | (buf[o + 5]! >> 5);
    const header = protectionAbsent ? 7 : 9;
    if (length < header || o + length > buf.length) break;
    const sampleRate = SAMPLE_RATES[samplingIndex] ?? 48000;
    out.adts ??= { objectType, samplingIndex, sampleRate, channels };
    out.audio.push({ pts: pts + Math.round((k * 1024 * 90_000) / sampleRate), data: buf.subarray(o + header, o + length) });
    o += length;
    k++;
  }
}

export function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** NAL units of an Annex B buffer (start codes removed). */
export function splitNalUnits(buf: Uint8Array): Uint8Array[] {
  const units: Uint8Array[] = [];
  let start = -1;
  let i = 0;
  while (i + 2 < buf.length) {
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      if (start >= 0) units.push(trimZeros(buf.subarray(start, i)));
      i += 3;
      start = i;
    } else i++;
  }
  if (start >= 0 && start < buf.length) units.push(buf.subarray(start));
  return units.filter((u) => u.length > 0);
}

function trimZeros(u: Uint8Array): Uint8Array {
  let end = u.length;
  while (end > 0 && u[end - 1] === 0) end--;
  return u.subarray(0, end);
}
