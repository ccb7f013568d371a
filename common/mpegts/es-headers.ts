// Elementary-stream headers that say what a program's streams are: the video sequence
// parameters (H.264/HEVC SPS, MPEG-2 sequence header) and the first audio frame header
// of a PES (ADTS AAC, AC-3/E-AC-3, MPEG audio). ProgramWatch compares these to notice a
// source changing format under an unchanged PMT, and uses the parsed fields to say how.
//
// Audio headers are read into a caller-owned object (once per audio PES, so no
// allocation); video parameter sets are parsed only when their bytes changed (rare),
// so that parser may allocate.

export interface AudioFormat {
  codec: string;
  /** Hz; 0 = unknown. */
  sampleRate: number;
  /** 0 = unknown (AAC channel_configuration 0: defined in-band). */
  channels: number;
}

export interface VideoFormat {
  /** Luma size after cropping; 0 when the parameter set could not be parsed that far. */
  width: number;
  height: number;
  /** profile_idc (H.264) / general_profile_idc (HEVC); 0 = unknown. */
  profile: number;
}

/** The audio codec a PMT stream announces, or null when it is not audio we can read. */
export type AudioCodec = 'aac' | 'mpeg-audio' | 'ac3' | 'eac3';

const DESCRIPTOR_AC3 = 0x6a;
const DESCRIPTOR_EAC3 = 0x7a;

export function audioCodecOf(streamType: number, descriptorTags?: readonly number[]): AudioCodec | null {
  switch (streamType) {
    case 0x0f: return 'aac';
    case 0x03:
    case 0x04: return 'mpeg-audio';
    case 0x81: return 'ac3';
    case 0x87: return 'eac3';
    case 0x06:
      if (descriptorTags?.includes(DESCRIPTOR_EAC3)) return 'eac3';
      if (descriptorTags?.includes(DESCRIPTOR_AC3)) return 'ac3';
      return null;
    default: return null;
  }
}

const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
const AC3_RATES = [48000, 44100, 32000];
const EAC3_REDUCED_RATES = [24000, 22050, 16000];
/** Full-bandwidth channels per AC-3 acmod (1+1 dual mono counts as 2). */
const ACMOD_CHANNELS = [2, 1, 2, 3, 3, 4, 4, 5];
const MPEG_AUDIO_RATES = [44100, 48000, 32000];

/**
 * Reads the audio frame header at buf[at, end) for the PMT's codec into `out`; false
 * (and `out` untouched) when no such header starts there.
 */
export function readAudioFormat(codec: AudioCodec, buf: Uint8Array, at: number, end: number, out: AudioFormat): boolean {
  if (codec === 'aac') return readAdts(buf, at, end, out);
  if (codec === 'mpeg-audio') return readMpegAudio(buf, at, end, out);
  return readAc3(buf, at, end, out);
}

function readAdts(buf: Uint8Array, at: number, end: number, out: AudioFormat): boolean {
  // 12-bit sync 0xFFF and layer 00 (a set layer would be MPEG audio).
  if (at + 7 > end || buf[at] !== 0xff || (buf[at + 1]! & 0xf6) !== 0xf0) return false;
  const rate = AAC_RATES[(buf[at + 2]! >> 2) & 0x0f];
  if (rate === undefined) return false;
  const config = ((buf[at + 2]! & 0x01) << 2) | (buf[at + 3]! >> 6);
  out.codec = 'aac';
  out.sampleRate = rate;
  out.channels = config === 7 ? 8 : config;
  return true;
}

/** AC-3 (bsid <= 10) and E-AC-3 (bsid 11..16) share the 0x0B77 sync and the bsid position. */
function readAc3(buf: Uint8Array, at: number, end: number, out: AudioFormat): boolean {
  if (at + 7 > end || buf[at] !== 0x0b || buf[at + 1] !== 0x77) return false;
  const bsid = buf[at + 5]! >> 3;
  const fscod = buf[at + 4]! >> 6;
  if (bsid <= 10) {
    const rate = AC3_RATES[fscod];
    if (rate === undefined) return false;
    // lfeon follows acmod and the 2-bit mix levels that acmod calls for.
    const acmod = buf[at + 6]! >> 5;
    let bit = 3;
    if ((acmod & 1) !== 0 && acmod !== 1) bit += 2; // cmixlev
    if ((acmod & 4) !== 0) bit += 2; // surmixlev
    if (acmod === 2) bit += 2; // dsurmod
    const lfe = (buf[at + 6]! >> (7 - bit)) & 1;
    out.codec = 'ac3';
    out.sampleRate = rate;
    out.channels = ACMOD_CHANNELS[acmod]! + lfe;
    return true;
  }
  if (bsid > 16) return false;
  const rate = fscod === 3 ? EAC3_REDUCED_RATES[(buf[at + 4]! >> 4) & 3] : AC3_RATES[fscod];
  if (rate === undefined) return false;
  out.codec = 'eac3';
  out.sampleRate = rate;
  out.channels = ACMOD_CHANNELS[(buf[at + 4]! >> 1) & 7]! + (buf[at + 4]! & 1);
  return true;
}

function readMpegAudio(buf: Uint8Array, at: number, end: number, out: AudioFormat): boolean {
  if (at + 4 > end || buf[at] !== 0xff || (buf[at + 1]! & 0xe0) !== 0xe0) return false;
  const version = (buf[at + 1]! >> 3) & 3; // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5, 1: reserved
  const layer = (buf[at + 1]! >> 1) & 3; // 3: I, 2: II, 1: III, 0: reserved
  const base = MPEG_AUDIO_RATES[(buf[at + 2]! >> 2) & 3];
  if (version === 1 || layer === 0 || base === undefined || buf[at + 2]! >> 4 === 0x0f) return false;
  out.codec = layer === 3 ? 'mp1' : layer === 2 ? 'mp2' : 'mp3';
  out.sampleRate = version === 3 ? base : version === 2 ? base / 2 : base / 4;
  out.channels = buf[at + 3]! >> 6 === 3 ? 1 : 2;
  return true;
}

/** Reads exp-Golomb coded RBSP bits; past the end it yields zeros and sets `overrun`. */
class BitReader {
  private pos = 0;
  overrun = false;

  constructor(private readonly data: Uint8Array) {}

  bit(): number {
    if (this.pos >= this.data.length * 8) {
      this.overrun = true;
      return 0;
    }
    const b = (this.data[this.pos >> 3]! >> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return b;
  }

  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }

  skip(n: number): void {
    this.pos += n;
    if (this.pos > this.data.length * 8) this.overrun = true;
  }

  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      if (this.overrun || ++zeros > 31) {
        this.overrun = true;
        return 0;
      }
    }
    return 2 ** zeros - 1 + this.bits(zeros);
  }

  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -k / 2;
  }
}

/** NAL payload with emulation prevention bytes (00 00 03) removed. */
function unescapeRbsp(nal: Uint8Array, from: number, to: number): Uint8Array {
  const out = new Uint8Array(Math.max(0, to - from));
  let n = 0;
  let zeros = 0;
  for (let i = from; i < to; i++) {
    const b = nal[i]!;
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    zeros = b === 0 ? zeros + 1 : 0;
    out[n++] = b;
  }
  return out.subarray(0, n);
}

/** H.264 profiles whose SPS carries chroma format, bit depths and scaling lists. */
const H264_HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/** Parses an H.264 SPS NAL (header byte included) up to frame cropping. */
export function parseH264Sps(nal: Uint8Array, length = nal.length): VideoFormat {
  const r = new BitReader(unescapeRbsp(nal, 1, length));
  const profile = r.bits(8);
  r.skip(16); // constraint flags, level_idc
  r.ue(); // seq_parameter_set_id
  let chroma = 1;
  let separatePlanes = 0;
  if (H264_HIGH_PROFILES.has(profile)) {
    chroma = r.ue();
    if (chroma === 3) separatePlanes = r.bit();
    r.ue(); // bit_depth_luma_minus8
    r.ue(); // bit_depth_chroma_minus8
    r.bit(); // qpprime_y_zero_transform_bypass_flag
    if (r.bit() === 1) {
      for (let i = 0; i < (chroma !== 3 ? 8 : 12) && !r.overrun; i++) if (r.bit() === 1) skipScalingList(r, i < 6 ? 16 : 64);
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.bit();
    r.se();
    r.se();
    const cycle = r.ue();
    for (let i = 0; i < cycle && !r.overrun; i++) r.se();
  }
  r.ue(); // max_num_ref_frames
  r.bit(); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = r.ue() + 1;
  const heightMapUnits = r.ue() + 1;
  const frameMbsOnly = r.bit();
  if (frameMbsOnly === 0) r.bit(); // mb_adaptive_frame_field_flag
  r.bit(); // direct_8x8_inference_flag
  let left = 0, right = 0, top = 0, bottom = 0;
  if (r.bit() === 1) {
    left = r.ue();
    right = r.ue();
    top = r.ue();
    bottom = r.ue();
  }
  if (r.overrun) return { width: 0, height: 0, profile };
  // Crop units follow the chroma subsampling (ChromaArrayType 0: luma samples).
  const arrayType = separatePlanes === 1 ? 0 : chroma;
  const cropX = arrayType === 1 || arrayType === 2 ? 2 : 1;
  const cropY = (arrayType === 1 ? 2 : 1) * (2 - frameMbsOnly);
  const width = widthMbs * 16 - cropX * (left + right);
  const height = (2 - frameMbsOnly) * heightMapUnits * 16 - cropY * (top + bottom);
  return plausible(width, height) ? { width, height, profile } : { width: 0, height: 0, profile };
}

function skipScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size && !r.overrun; j++) {
    if (next !== 0) next = (last + r.se() + 256) % 256;
    if (next !== 0) last = next;
  }
}

/** Parses an HEVC SPS NAL (2-byte header included) up to the conformance window. */
export function parseHevcSps(nal: Uint8Array, length = nal.length): VideoFormat {
  const r = new BitReader(unescapeRbsp(nal, 2, length));
  r.skip(4); // sps_video_parameter_set_id
  const subLayers = r.bits(3); // sps_max_sub_layers_minus1
  r.skip(1 + 3); // temporal_id_nesting, general profile_space + tier
  const profile = r.bits(5);
  r.skip(32 + 48 + 8); // compatibility flags, constraint flags, general_level_idc
  let subProfiles = 0;
  let subLevels = 0;
  for (let i = 0; i < subLayers; i++) {
    subProfiles += r.bit();
    subLevels += r.bit();
  }
  if (subLayers > 0) r.skip(2 * (8 - subLayers));
  r.skip(subProfiles * 88 + subLevels * 8);
  r.ue(); // sps_seq_parameter_set_id
  const chroma = r.ue();
  const separatePlanes = chroma === 3 ? r.bit() : 0;
  let width = r.ue();
  let height = r.ue();
  if (r.bit() === 1) {
    // Conformance window offsets are in chroma sample units.
    const arrayType = separatePlanes === 1 ? 0 : chroma;
    const subW = arrayType === 1 || arrayType === 2 ? 2 : 1;
    const subH = arrayType === 1 ? 2 : 1;
    width -= subW * (r.ue() + r.ue());
    height -= subH * (r.ue() + r.ue());
  }
  if (r.overrun || !plausible(width, height)) return { width: 0, height: 0, profile };
  return { width, height, profile };
}

/** Size from an MPEG-1/2 sequence header's 3 bytes after its 00 00 01 B3 start code. */
export function parseMpeg2SequenceHeader(buf: Uint8Array, at: number): VideoFormat {
  const width = (buf[at]! << 4) | (buf[at + 1]! >> 4);
  const height = ((buf[at + 1]! & 0x0f) << 8) | buf[at + 2]!;
  return plausible(width, height) ? { width, height, profile: 0 } : { width: 0, height: 0, profile: 0 };
}

function plausible(width: number, height: number): boolean {
  return width > 0 && height > 0 && width <= 16384 && height <= 16384;
}
