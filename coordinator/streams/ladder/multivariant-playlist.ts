// The HLS multivariant playlist of a ladder (RFC 8216bis 4.4.6): one EXT-X-STREAM-INF per
// rendition, top first, each pointing at the rendition's own media playlist. Pure: the
// caller passes what it measured on the running renditions (rendition-facts.ts) and the
// profiles; what was not measured yet is estimated from the profile.
//
// Estimates, until a segment of the rendition exists:
// - BANDWIDTH and AVERAGE-BANDWIDTH: the profile's video + audio bitrate plus ~10% for the
//   MPEG-TS mux (PES and TS headers, PAT/PMT, null packets); a profile without a video
//   bitrate (the encoder's own rate control) is guessed at 0.1 bit per pixel per frame.
// - CODECS: H.264 High (what libx264 and nvenc write for 8-bit 4:2:0) or HEVC Main, at the
//   lowest level whose frame size and macroblock rate the size fits, at 30 fps.
// - RESOLUTION only when the profile sets both width and height; FRAME-RATE not at all.
// A player uses these to choose a rendition before it loads it, so an estimate that errs
// high only makes it start lower.
import type { ProfileFields } from '../../../common/transcode-rules';

export interface RenditionFacts {
  /** Peak and mean bits per second over the retained segments. */
  peakBps: number;
  averageBps: number;
  /** RFC 6381 string from the stream's own parameter sets (e.g. "avc1.64001f,mp4a.40.2"). */
  codecs: string | null;
  width: number | null;
  height: number | null;
  frameRate: number | null;
  /** From the AAC config; absent or null when not read. */
  audioChannels?: number | null;
}

/**
 * The audio of an fMP4 ladder as its own rendition group (EXT-X-MEDIA TYPE=AUDIO), as
 * Apple's HLS authoring spec has it for fMP4/CMAF: one audio-only media playlist every
 * video rendition refers to (AUDIO=), instead of the audio muxed into each of them.
 */
export interface AudioGroup {
  groupId: string;
  name: string;
  uri: string;
  channels: number | null;
}

export interface VariantStream {
  uri: string;
  bandwidth: number;
  averageBandwidth: number;
  codecs: string;
  resolution: { width: number; height: number } | null;
  frameRate: number | null;
}

export type RenditionProfile = Pick<ProfileFields, 'videoCodec' | 'width' | 'height' | 'videoBitrateKbps' | 'audioCodec' | 'audioBitrateKbps'> & { id: string };

const MUX_OVERHEAD = 1.1;
const GUESS_FPS = 30;
const GUESS_BITS_PER_PIXEL = 0.1;
const GUESS_UNKNOWN_SIZE_KBPS = 5000;

/** Bits per second of the profile's streams with the mux overhead: the estimate before any segment. */
export function estimateBandwidth(p: RenditionProfile): number {
  const pixels = p.width > 0 && p.height > 0 ? p.width * p.height : 0;
  const videoKbps = p.videoBitrateKbps > 0 ? p.videoBitrateKbps : pixels > 0 ? (pixels * GUESS_FPS * GUESS_BITS_PER_PIXEL) / 1000 : GUESS_UNKNOWN_SIZE_KBPS;
  const audioKbps = p.audioCodec === 'none' ? 0 : p.audioBitrateKbps;
  return Math.round((videoKbps + audioKbps) * 1000 * MUX_OVERHEAD);
}

// H.264 Table A-1: level_idc, MaxMBPS (macroblocks/s), MaxFS (macroblocks).
const H264_LEVELS: readonly [number, number, number][] = [
  [10, 1485, 99], [11, 3000, 396], [12, 6000, 396], [13, 11880, 396], [20, 11880, 396], [21, 19800, 792], [22, 20250, 1620],
  [30, 40500, 1620], [31, 108000, 3600], [32, 216000, 5120], [40, 245760, 8192], [42, 522240, 8704], [50, 589824, 22080],
  [51, 983040, 36864], [52, 2073600, 36864], [60, 4177920, 139264], [61, 8355840, 139264], [62, 16711680, 139264],
];
// HEVC Table A.8: general_level_idc (30 x level), MaxLumaPs, MaxLumaSr.
const HEVC_LEVELS: readonly [number, number, number][] = [
  [30, 36864, 552960], [60, 122880, 3686400], [63, 245760, 7372800], [90, 552960, 16588800], [93, 983040, 33177600],
  [120, 2228224, 66846720], [123, 2228224, 133693440], [150, 8912896, 267386880], [153, 8912896, 534773760],
  [156, 8912896, 1069547520], [180, 35651584, 1069547520], [183, 35651584, 2139095040], [186, 35651584, 4278190080],
];
const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/** The video codec string a profile's encoder most likely writes (see the header). */
export function estimateVideoCodec(p: Pick<RenditionProfile, 'videoCodec' | 'width' | 'height'>, fps = GUESS_FPS): string {
  const sized = p.width > 0 && p.height > 0;
  if (p.videoCodec === 'hevc') {
    const samples = p.width * p.height;
    const level = sized ? (HEVC_LEVELS.find(([, ps, sr]) => samples <= ps && samples * fps <= sr)?.[0] ?? 186) : 123;
    return `hvc1.1.6.L${level}.B0`;
  }
  const mbs = Math.ceil(p.width / 16) * Math.ceil(p.height / 16);
  const level = sized ? (H264_LEVELS.find(([, mbps, fs]) => mbs <= fs && mbs * fps <= mbps)?.[0] ?? 62) : 40;
  return `avc1.6400${hex2(level)}`;
}

/** RFC 6381 / HLS authoring names of the audio codecs a profile encodes. */
export function audioCodecString(audioCodec: string): string | null {
  switch (audioCodec) {
    case 'aac':
      return 'mp4a.40.2';
    case 'ac3':
      return 'ac-3';
    case 'mp2':
      return 'mp4a.40.33'; // as FFmpeg's HLS muxer writes MPEG-1 Layer II
    default:
      return null;
  }
}

/**
 * One variant stream: measured facts where the rendition runs, the profile's estimate
 * where not. Measured audio comes from a segment's AAC config; audio not read there
 * (AC-3 and MP2, carried in MPEG-TS only) is named from the profile.
 */
export function describeVariant(uri: string, p: RenditionProfile, facts: RenditionFacts | null): VariantStream {
  const estimate = estimateBandwidth(p);
  const bandwidth = facts && facts.peakBps > 0 ? Math.round(facts.peakBps) : estimate;
  const averageBandwidth = facts && facts.averageBps > 0 ? Math.min(bandwidth, Math.round(facts.averageBps)) : estimate;
  let codecs = facts?.codecs ?? null;
  const audio = audioCodecString(p.audioCodec);
  if (codecs && audio && !codecs.includes(',')) codecs = `${codecs},${audio}`;
  codecs ??= [estimateVideoCodec(p, facts?.frameRate ?? GUESS_FPS), audio].filter(Boolean).join(',');
  const width = facts?.width ?? (p.width > 0 && p.height > 0 ? p.width : null);
  const height = facts?.height ?? (p.width > 0 && p.height > 0 ? p.height : null);
  return {
    uri,
    bandwidth,
    averageBandwidth,
    codecs,
    resolution: width && height ? { width, height } : null,
    frameRate: facts?.frameRate ?? null,
  };
}

/**
 * The playlist text. `container` picks the version: 7 for fMP4 media playlists (EXT-X-MAP),
 * 3 for TS. With `audio`, its EXT-X-MEDIA comes first and every variant names its group;
 * CODECS still lists the audio codec beside the video one (RFC 8216bis 4.4.6.2: every
 * format in the variant, the group's included).
 */
export function renderMultivariantPlaylist(variants: readonly VariantStream[], container: 'ts' | 'fmp4', audio: AudioGroup | null = null): string {
  if (variants.length === 0) throw new Error('a multivariant playlist needs at least one variant');
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${container === 'fmp4' ? 7 : 3}`, '#EXT-X-INDEPENDENT-SEGMENTS'];
  if (audio) {
    const channels = audio.channels ? `,CHANNELS="${audio.channels}"` : '';
    lines.push(`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="${audio.groupId}",NAME="${audio.name}",DEFAULT=YES,AUTOSELECT=YES${channels},URI="${audio.uri}"`);
  }
  for (const v of variants) {
    const attrs = [`BANDWIDTH=${v.bandwidth}`, `AVERAGE-BANDWIDTH=${v.averageBandwidth}`];
    if (v.resolution) attrs.push(`RESOLUTION=${v.resolution.width}x${v.resolution.height}`);
    if (v.frameRate) attrs.push(`FRAME-RATE=${v.frameRate.toFixed(3)}`);
    attrs.push(`CODECS="${v.codecs}"`);
    if (audio) attrs.push(`AUDIO="${audio.groupId}"`);
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, v.uri);
  }
  return lines.join('\n') + '\n';
}
