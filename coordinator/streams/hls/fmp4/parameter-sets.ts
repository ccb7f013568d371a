// Decoder configuration records for fMP4 sample entries, built from the stream's own
// parameter sets: avcC (H.264 SPS/PPS) and hvcC (HEVC VPS/SPS/PPS), plus the picture
// size read from the SPS (exp-Golomb fields after emulation-prevention removal); and the
// parameter sets of a keyframe, to tell when a new init segment is needed.
import { splitNalUnits } from './es-demux.ts';

class BitReader {
  private bit = 0;
  constructor(private readonly buf: Uint8Array) {}
  u(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.buf[this.bit >> 3];
      if (byte === undefined) throw new RangeError('SPS truncated');
      v = v * 2 + ((byte >> (7 - (this.bit & 7))) & 1);
      this.bit++;
    }
    return v;
  }
  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) if (++zeros > 31) throw new RangeError('bad exp-Golomb code');
    return 2 ** zeros - 1 + this.u(zeros);
  }
  se(): number {
    const v = this.ue();
    return v & 1 ? (v + 1) / 2 : -(v / 2);
  }
}

/** RBSP of a NAL unit: emulation-prevention bytes (00 00 03) removed. */
function rbsp(nal: Uint8Array, headerBytes: number): Uint8Array {
  const out: number[] = [];
  for (let i = headerBytes; i < nal.length; i++) {
    if (i >= headerBytes + 2 && nal[i] === 3 && nal[i - 1] === 0 && nal[i - 2] === 0) continue;
    out.push(nal[i]!);
  }
  return Uint8Array.from(out);
}

export interface VideoConfig {
  codec: 'h264' | 'hevc';
  width: number;
  height: number;
  /** avcC or hvcC box payload. */
  record: Uint8Array;
  /** RFC 6381 codec string for the playlist (avc1.64001f, hvc1.1.6.L93.B0). */
  codecString: string;
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

export function h264Config(sps: Uint8Array, pps: Uint8Array): VideoConfig {
  const r = new BitReader(rbsp(sps, 1));
  const profile = r.u(8);
  const compat = r.u(8);
  const level = r.u(8);
  r.ue();
  let chromaFormat = 1;
  if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) {
    chromaFormat = r.ue();
    if (chromaFormat === 3) r.u(1);
    r.ue();
    r.ue();
    r.u(1);
    if (r.u(1)) {
      for (let i = 0; i < (chromaFormat !== 3 ? 8 : 12); i++) {
        if (!r.u(1)) continue;
        let last = 8;
        let next = 8;
        for (let j = 0; j < (i < 6 ? 16 : 64); j++) {
          if (next !== 0) next = (last + r.se() + 256) % 256;
          last = next === 0 ? last : next;
        }
      }
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.u(1);
    r.se();
    r.se();
    const n = r.ue();
    for (let i = 0; i < n; i++) r.se();
  }
  r.ue();
  r.u(1);
  const widthMbs = r.ue() + 1;
  const heightUnits = r.ue() + 1;
  const frameMbsOnly = r.u(1);
  if (!frameMbsOnly) r.u(1);
  r.u(1);
  let crop = [0, 0, 0, 0];
  if (r.u(1)) crop = [r.ue(), r.ue(), r.ue(), r.ue()];
  const cropX = chromaFormat === 0 || chromaFormat === 3 ? 1 : 2;
  const cropY = (chromaFormat === 1 ? 2 : 1) * (2 - frameMbsOnly);
  const width = widthMbs * 16 - cropX * (crop[0]! + crop[1]!);
  const height = heightUnits * 16 * (2 - frameMbsOnly) - cropY * (crop[2]! + crop[3]!);
  const record = new Uint8Array(11 + sps.length + pps.length);
  record.set([1, profile, compat, level, 0xff, 0xe1, sps.length >> 8, sps.length & 0xff], 0);
  record.set(sps, 8);
  record.set([1, pps.length >> 8, pps.length & 0xff], 8 + sps.length);
  record.set(pps, 11 + sps.length);
  return { codec: 'h264', width, height, record, codecString: `avc1.${hex2(profile)}${hex2(compat)}${hex2(level)}` };
}

export function hevcConfig(vps: Uint8Array, sps: Uint8Array, pps: Uint8Array): VideoConfig {
  const raw = rbsp(sps, 2);
  const r = new BitReader(raw);
  r.u(4);
  const maxSubLayers = r.u(3);
  r.u(1);
  // general profile_tier_level: 12 bytes, copied into hvcC as they are.
  const ptl = raw.subarray(1, 13);
  r.u(96);
  const subProfile: number[] = [];
  for (let i = 0; i < maxSubLayers; i++) subProfile.push(r.u(1) * 2 + r.u(1));
  if (maxSubLayers > 0) for (let i = maxSubLayers; i < 8; i++) r.u(2);
  for (const flags of subProfile) {
    if (flags & 2) r.u(88);
    if (flags & 1) r.u(8);
  }
  r.ue();
  const chromaFormat = r.ue();
  if (chromaFormat === 3) r.u(1);
  let width = r.ue();
  let height = r.ue();
  if (r.u(1)) {
    const sub = chromaFormat === 1 ? 2 : 1;
    const [left, right, top, bottom] = [r.ue(), r.ue(), r.ue(), r.ue()];
    width -= (chromaFormat === 1 || chromaFormat === 2 ? 2 : 1) * (left + right);
    height -= sub * (top + bottom);
  }
  const bitDepthLuma = r.ue();
  const bitDepthChroma = r.ue();
  const arrays = [
    [32, vps],
    [33, sps],
    [34, pps],
  ] as const;
  const size = 23 + arrays.reduce((n, [, nal]) => n + 5 + nal.length, 0);
  const record = new Uint8Array(size);
  record[0] = 1;
  record.set(ptl, 1); // profile space/tier/idc, compatibility flags, constraint flags, level
  record.set([0xf0, 0x00, 0xfc, 0xfc | chromaFormat, 0xf8 | bitDepthLuma, 0xf8 | bitDepthChroma, 0, 0, 0x0f, arrays.length], 13);
  let at = 23;
  for (const [type, nal] of arrays) {
    record.set([0x80 | type, 0, 1, nal.length >> 8, nal.length & 0xff], at);
    record.set(nal, at + 5);
    at += 5 + nal.length;
  }
  const profileIdc = ptl[0]! & 0x1f;
  const tier = (ptl[0]! >> 5) & 1 ? 'H' : 'L';
  return { codec: 'hevc', width, height, record, codecString: `hvc1.${profileIdc}.6.${tier}${ptl[11]!}.B0` };
}

/** NAL unit type of the first header byte, per codec. */
const nalType = (codec: 'h264' | 'hevc', nal: Uint8Array) => (codec === 'h264' ? nal[0]! & 0x1f : (nal[0]! >> 1) & 0x3f);
const isParameterSet = (codec: 'h264' | 'hevc', type: number) => (codec === 'h264' ? type === 7 || type === 8 : type >= 32 && type <= 34);
const isSlice = (codec: 'h264' | 'hevc', type: number) => (codec === 'h264' ? type >= 1 && type <= 5 : type <= 31);

/**
 * The parameter sets (H.264 SPS + PPS, HEVC VPS + SPS + PPS) at the start of a keyframe's
 * Annex B bytes, joined in stream order: what an fMP4 init segment's avcC/hvcC would be
 * built from, so two keyframes with different results need different init segments.
 * Null until a slice NAL shows that every parameter set of the access unit is in `es`
 * (they precede the slices), or when there is none.
 */
export function keyframeParameterSets(es: Uint8Array, codec: 'h264' | 'hevc'): Uint8Array | null {
  const nals = splitNalUnits(es);
  const sliceAt = nals.findIndex((n) => isSlice(codec, nalType(codec, n)));
  if (sliceAt < 0) return null;
  const sets = nals.slice(0, sliceAt).filter((n) => isParameterSet(codec, nalType(codec, n)));
  if (sets.length === 0) return null;
  const out = new Uint8Array(sets.reduce((n, s) => n + 4 + s.length, 0));
  let at = 0;
  for (const set of sets) {
    out.set([0, 0, 0, 1], at); // start codes keep "SPS A + PPS B" apart from "SPS AB"
    out.set(set, at + 4);
    at += 4 + set.length;
  }
  return out;
}
