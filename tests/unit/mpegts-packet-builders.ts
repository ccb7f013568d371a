// Hand-built MPEG-TS for the timeline-restamp and program-watch tests: packets with PCR
// and PES timestamps, PAT/PMT sections with real CRCs, H.264/HEVC SPS written bit by
// bit, and audio frame headers. Built by hand (not with FFmpeg) because the cases are
// what FFmpeg will not write on request: clocks that jump, wrap at 2^33, programs that
// change codec mid-stream. Readers here are independent of the code under test.
import { TS_PACKET_SIZE } from '../../common/mpegts/constants.ts';
import { crc32Mpeg } from '../../common/mpegts/psi.ts';

export const WRAP = 2 ** 33;

export interface PacketSpec {
  pid: number;
  cc?: number;
  /** payload_unit_start_indicator; default: true when a payload is given. */
  pusi?: boolean;
  /** PCR base (90 kHz) and extension (0..299). */
  pcr?: number;
  pcrExt?: number;
  opcr?: number;
  discontinuity?: boolean;
  randomAccess?: boolean;
  /** Bytes after the header (and adaptation field); padded with adaptation stuffing, cut at the packet end. */
  payload?: ArrayLike<number>;
}

/** One 188-byte packet; the adaptation field carries PCR/OPCR/flags and the stuffing. */
export function tsPacket(spec: PacketSpec): Uint8Array {
  const p = new Uint8Array(TS_PACKET_SIZE).fill(0xff);
  const payload = spec.payload ? Array.from(spec.payload) : null;
  const af: number[] = [];
  const flagsNeeded = spec.pcr !== undefined || spec.opcr !== undefined || spec.discontinuity || spec.randomAccess;
  if (flagsNeeded) {
    af.push((spec.discontinuity ? 0x80 : 0) | (spec.randomAccess ? 0x40 : 0) | (spec.pcr !== undefined ? 0x10 : 0) | (spec.opcr !== undefined ? 0x08 : 0));
    if (spec.pcr !== undefined) af.push(...pcrBytes(spec.pcr, spec.pcrExt ?? 0));
    if (spec.opcr !== undefined) af.push(...pcrBytes(spec.opcr, 0));
  }
  const room = TS_PACKET_SIZE - 4;
  const body = payload ? payload.slice(0, room - (flagsNeeded ? af.length + 1 : 0)) : [];
  const needAf = flagsNeeded || body.length < room;
  p[0] = 0x47;
  p[1] = ((spec.pusi ?? payload !== null) ? 0x40 : 0) | ((spec.pid >> 8) & 0x1f);
  p[2] = spec.pid & 0xff;
  p[3] = (needAf ? 0x20 : 0) | (payload ? 0x10 : 0) | ((spec.cc ?? 0) & 0x0f);
  let at = 4;
  if (needAf) {
    const afLength = room - 1 - body.length;
    p[at++] = afLength;
    if (afLength > 0) {
      const flags = af.length > 0 ? af : [0x00];
      p.set(flags, at);
      at += afLength; // the rest of the field stays 0xff stuffing
    }
  }
  p.set(body, at);
  return p;
}

function pcrBytes(base: number, ext: number): number[] {
  const hi = Math.floor(base / 2 ** 25);
  const low = base % 2 ** 25;
  return [hi, (low >>> 17) & 0xff, (low >>> 9) & 0xff, (low >>> 1) & 0xff, ((low & 1) << 7) | 0x7e | (ext >> 8), ext & 0xff];
}

/** The 5-byte PES timestamp with its prefix nibble and marker bits. */
export function pesTimestampBytes(prefix: number, ts: number): number[] {
  const hi = Math.floor(ts / 2 ** 30);
  const low = ts % 2 ** 30;
  return [(prefix << 4) | (hi << 1) | 1, (low >>> 22) & 0xff, ((low >>> 14) & 0xfe) | 1, (low >>> 7) & 0xff, ((low << 1) & 0xfe) | 1];
}

/** A PES header (stream id, PTS and optionally DTS) followed by `data`. */
export function pes(streamId: number, pts: number, dts?: number, data: ArrayLike<number> = []): number[] {
  const ts = dts === undefined ? pesTimestampBytes(0x2, pts) : [...pesTimestampBytes(0x3, pts), ...pesTimestampBytes(0x1, dts)];
  return [0, 0, 1, streamId, 0, 0, 0x80, dts === undefined ? 0x80 : 0xc0, ts.length, ...ts, ...Array.from(data)];
}

export interface Timestamps {
  pcr: number | null;
  pcrExt: number | null;
  pts: number | null;
  dts: number | null;
}

/** Independent reader: PCR and PES PTS/DTS of the packet at `o`. */
export function readTimestamps(buf: Uint8Array, o: number): Timestamps {
  const out: Timestamps = { pcr: null, pcrExt: null, pts: null, dts: null };
  let payload = 4;
  if (buf[o + 3]! & 0x20) {
    const len = buf[o + 4]!;
    payload = 5 + len;
    if (len > 0 && buf[o + 5]! & 0x10) {
      const q = o + 6;
      out.pcr = buf[q]! * 2 ** 25 + buf[q + 1]! * 2 ** 17 + buf[q + 2]! * 2 ** 9 + buf[q + 3]! * 2 + (buf[q + 4]! >> 7);
      out.pcrExt = ((buf[q + 4]! & 1) << 8) | buf[q + 5]!;
    }
  }
  const p = o + payload;
  if (buf[o + 1]! & 0x40 && buf[p] === 0 && buf[p + 1] === 0 && buf[p + 2] === 1) {
    const flags = buf[p + 7]! >> 6;
    const read = (at: number) => ((buf[at]! >> 1) & 7) * 2 ** 30 + buf[at + 1]! * 2 ** 22 + (buf[at + 2]! >> 1) * 2 ** 15 + buf[at + 3]! * 2 ** 7 + (buf[at + 4]! >> 1);
    if (flags >= 2) out.pts = read(p + 9);
    if (flags === 3) out.dts = read(p + 14);
  }
  return out;
}

/** Marker bits and prefix nibbles of the PES timestamps in the packet at `o` are as the standard says. */
export function pesTimestampBitsValid(buf: Uint8Array, o: number): boolean {
  let p = o + 4;
  if (buf[o + 3]! & 0x20) p += 1 + buf[o + 4]!;
  const flags = buf[p + 7]! >> 6;
  const ok = (at: number, prefix: number) => buf[at]! >> 4 === prefix && (buf[at]! & 1) === 1 && (buf[at + 2]! & 1) === 1 && (buf[at + 4]! & 1) === 1;
  if (flags === 2) return ok(p + 9, 0x2);
  if (flags === 3) return ok(p + 9, 0x3) && ok(p + 14, 0x1);
  return true;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Continuity counters per PID, carried from one piece of stream to the next. */
export class Counters {
  private readonly next = new Map<number, number>();
  constructor(private readonly start = 0) {}
  take(pid: number): number {
    const cc = this.next.get(pid) ?? this.start;
    this.next.set(pid, (cc + 1) & 0x0f);
    return cc;
  }
}

export const VIDEO_PID = 0x100;
export const AUDIO_PID = 0x101;
export const FRAME_TICKS = 3600; // 25 fps
export const AUDIO_TICKS = 1920; // AAC at 48 kHz: 1024 samples
/** PCR runs this far behind the video DTS (the mux delay). */
export const PCR_LEAD = 27_000;

/** Presentation delay (frames) in decode order I0 P3 B1 B2 P6 B4 B5 ...: PTS = DTS + this. */
function reorderDelay(i: number): number {
  return i === 0 ? 1 : i % 3 === 1 ? 3 : 0;
}

/**
 * `frames` video frames from DTS `start` (PCR on every video packet, PTS reordered as
 * with B-frames, up to 2 frames back) and the audio frames of the same span (PTS from `start`, every 1920 ticks),
 * interleaved in timestamp order (audio first at a tie). A piece of 8k frames has whole
 * audio frames, so pieces joined end to end are continuous on every track.
 */
export function avPiece(start: number, frames: number, counters: Counters, opts: { audioFirst?: boolean; noPcr?: boolean } = {}): Uint8Array {
  const packets: { t: number; order: number; bytes: Uint8Array }[] = [];
  for (let i = 0; i < frames; i++) {
    const dts = (start + i * FRAME_TICKS) % WRAP;
    const pcr = (start + i * FRAME_TICKS - PCR_LEAD + WRAP) % WRAP;
    const payload = pes(0xe0, (dts + reorderDelay(i) * FRAME_TICKS) % WRAP, dts, [0, 0, 0, 1, 0x09, 0xf0]);
    packets.push({ t: i * FRAME_TICKS, order: opts.audioFirst ? 1 : 0, bytes: tsPacket({ pid: VIDEO_PID, cc: counters.take(VIDEO_PID), pcr: opts.noPcr ? undefined : pcr, pcrExt: i % 300, payload }) });
  }
  const audioFrames = Math.ceil((frames * FRAME_TICKS) / AUDIO_TICKS);
  for (let j = 0; j < audioFrames; j++) {
    const pts = (start + j * AUDIO_TICKS) % WRAP;
    packets.push({ t: j * AUDIO_TICKS, order: opts.audioFirst ? 0 : 1, bytes: tsPacket({ pid: AUDIO_PID, cc: counters.take(AUDIO_PID), payload: pes(0xc0, pts, undefined, [0xff, 0xf1]) }) });
  }
  packets.sort((a, b) => a.t - b.t || a.order - b.order);
  return concat(packets.map((p) => p.bytes));
}

/** Wraps a PSI section body (from table_id to before the CRC) with its section_length and CRC. */
export function section(tableId: number, body: number[]): number[] {
  const sectionLength = body.length + 4;
  const s = [tableId, 0xb0 | (sectionLength >> 8), sectionLength & 0xff, ...body];
  const crc = crc32Mpeg(new Uint8Array(s), 0, s.length);
  return [...s, crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff];
}

/** Packets carrying `sec` on `pid` (pointer_field 0; several packets for a long section). */
export function psiPackets(pid: number, sec: number[], counters?: Counters): Uint8Array[] {
  const out: Uint8Array[] = [];
  let rest = [0, ...sec];
  for (let first = true; rest.length > 0 || first; first = false) {
    const p = new Uint8Array(TS_PACKET_SIZE).fill(0xff);
    p[0] = 0x47;
    p[1] = (first ? 0x40 : 0) | (pid >> 8);
    p[2] = pid & 0xff;
    p[3] = 0x10 | ((counters?.take(pid) ?? 0) & 0x0f);
    p.set(rest.slice(0, 184), 4);
    rest = rest.slice(184);
    out.push(p);
  }
  return out;
}

export function patSection(pmtPid: number, version = 0): number[] {
  return section(0x00, [0x00, 0x01, 0xc1 | (version << 1), 0x00, 0x00, 0x00, 0x01, 0xe0 | (pmtPid >> 8), pmtPid & 0xff]);
}

export interface PmtStreamSpec {
  type: number;
  pid: number;
  descriptors?: number[];
}

export function pmtSection(streams: PmtStreamSpec[], opts: { version?: number; pcrPid?: number } = {}): number[] {
  const pcrPid = opts.pcrPid ?? streams[0]?.pid ?? 0x1fff;
  const body = [0x00, 0x01, 0xc1 | ((opts.version ?? 0) << 1), 0x00, 0x00, 0xe0 | (pcrPid >> 8), pcrPid & 0xff, 0xf0, 0x00];
  for (const s of streams) {
    const d = s.descriptors ?? [];
    body.push(s.type, 0xe0 | (s.pid >> 8), s.pid & 0xff, 0xf0 | (d.length >> 8), d.length & 0xff, ...d);
  }
  return section(0x02, body);
}

/** Writes RBSP bits; nal() adds the stop bit and emulation prevention bytes. */
export class BitWriter {
  private readonly bits: number[] = [];
  u(n: number, v: number): this {
    for (let i = n - 1; i >= 0; i--) this.bits.push(Math.floor(v / 2 ** i) % 2);
    return this;
  }
  ue(v: number): this {
    const len = Math.floor(Math.log2(v + 1));
    return this.u(len, 0).u(len + 1, v + 1);
  }
  se(v: number): this {
    return this.ue(v > 0 ? 2 * v - 1 : -2 * v);
  }
  /** The bits as bytes, zero-padded (no stop bit, no emulation prevention). */
  bytes(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.bits.length; i += 8) {
      const byte = this.bits.slice(i, i + 8);
      while (byte.length < 8) byte.push(0);
      out.push(byte.reduce((v, b) => v * 2 + b, 0));
    }
    return out;
  }
  nal(header: number[]): number[] {
    const bits = [...this.bits, 1];
    while (bits.length % 8) bits.push(0);
    const raw: number[] = [];
    for (let i = 0; i < bits.length; i += 8) raw.push(bits.slice(i, i + 8).reduce((v, b) => v * 2 + b, 0));
    const out = [...header];
    let zeros = 0;
    for (const b of raw) {
      if (zeros >= 2 && b <= 3) {
        out.push(3);
        zeros = 0;
      }
      out.push(b);
      zeros = b === 0 ? zeros + 1 : 0;
    }
    return out;
  }
}

/** An H.264 SPS NAL (header 0x67) for a size; cropping when the size is not whole macroblocks. */
export function h264Sps(width: number, height: number, opts: { profile?: number; interlaced?: boolean; scalingList?: boolean } = {}): number[] {
  const profile = opts.profile ?? 100;
  const frameMbsOnly = opts.interlaced ? 0 : 1;
  const mbsW = Math.ceil(width / 16);
  const unitH = 16 * (2 - frameMbsOnly);
  const mapUnitsH = Math.ceil(height / unitH);
  const w = new BitWriter().u(8, profile).u(8, 0).u(8, 40).ue(0);
  if (profile === 100) {
    w.ue(1).ue(0).ue(0).u(1, 0).u(1, opts.scalingList ? 1 : 0);
    if (opts.scalingList) {
      // One list present (the first 4x4) with a few deltas, the rest absent.
      w.u(1, 1);
      for (let j = 0; j < 16; j++) w.se(j === 0 ? 8 : j === 15 ? -16 : 1);
      for (let i = 1; i < 8; i++) w.u(1, 0);
    }
  }
  w.ue(0).ue(0).ue(0).ue(2).u(1, 0).ue(mbsW - 1).ue(mapUnitsH - 1).u(1, frameMbsOnly);
  if (!frameMbsOnly) w.u(1, 0);
  w.u(1, 1);
  const cropRight = mbsW * 16 - width;
  const cropBottom = mapUnitsH * unitH - height;
  if (cropRight || cropBottom) w.u(1, 1).ue(0).ue(cropRight / 2).ue(0).ue(cropBottom / (2 * (2 - frameMbsOnly)));
  else w.u(1, 0);
  w.u(1, 0); // no VUI
  return w.nal([0x67]);
}

/** An HEVC SPS NAL (header 0x42 0x01), Main profile, 4:2:0; conformance window when needed. */
export function hevcSps(width: number, height: number, opts: { subLayers?: number } = {}): number[] {
  const sub = opts.subLayers ?? 0;
  const w = new BitWriter().u(4, 0).u(3, sub).u(1, 1);
  w.u(2, 0).u(1, 0).u(5, 1).u(32, 0x60000000).u(4, 0b1001).u(44, 0).u(8, 93);
  for (let i = 0; i < sub; i++) w.u(1, 0).u(1, 1); // level present on each sub-layer
  if (sub > 0) for (let i = sub; i < 8; i++) w.u(2, 0);
  for (let i = 0; i < sub; i++) w.u(8, 90);
  const cw = Math.ceil(width / 8) * 8;
  const ch = Math.ceil(height / 8) * 8;
  w.ue(0).ue(1).ue(cw).ue(ch);
  if (cw !== width || ch !== height) w.u(1, 1).ue(0).ue((cw - width) / 2).ue(0).ue((ch - height) / 2);
  else w.u(1, 0);
  w.ue(0).ue(0).ue(4); // bit depths, log2_max_poc_lsb_minus4 (the parser stops before these)
  return w.nal([0x42, 0x01]);
}

/** An ADTS header (AAC LC) for sampling_frequency_index and channel_configuration. */
export function adtsHeader(sampleRateIndex: number, channelConfig: number): number[] {
  return [0xff, 0xf1, (1 << 6) | (sampleRateIndex << 2) | (channelConfig >> 2), ((channelConfig & 3) << 6) | 0x01, 0x00, 0x1f, 0xfc];
}

/** An AC-3 sync frame header (bsid 8); mix levels as acmod asks for, then lfeon. */
export function ac3Header(fscod: number, acmod: number, lfe: boolean): number[] {
  const w = new BitWriter().u(3, acmod);
  if ((acmod & 1) && acmod !== 1) w.u(2, 0);
  if (acmod & 4) w.u(2, 0);
  if (acmod === 2) w.u(2, 0);
  w.u(1, lfe ? 1 : 0).u(16 - 3 - 6 - 1, 0);
  return [0x0b, 0x77, 0x12, 0x34, (fscod << 6) | 0x0e, (8 << 3) | 0, ...w.bytes().slice(0, 2)];
}

/** An E-AC-3 header (bsid 16). */
export function eac3Header(fscod: number, acmod: number, lfe: boolean): number[] {
  return [0x0b, 0x77, 0x00, 0x7f, (fscod << 6) | (3 << 4) | (acmod << 1) | (lfe ? 1 : 0), (16 << 3) | 0, 0x00];
}
