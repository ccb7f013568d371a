// MPEG-TS segment -> fMP4 (CMAF): an init segment (ftyp + moov with avcC/hvcC and esds
// from the stream's own parameter sets) and one fragment per HLS segment (moof with a
// tfdt carrying the decode time, so fragments line up on one timeline, + mdat). From the
// same demux, each track on its own as well (DASH: an AdaptationSet per media type).
// Written here rather than taken from mux.js, which handles H.264 + AAC but not HEVC.
import { demuxSegment, splitNalUnits, type AdtsConfig, type SegmentStreams } from './es-demux.ts';
import { h264Config, hevcConfig, type VideoConfig } from './parameter-sets.ts';

const VIDEO_TRACK = 1;
const AUDIO_TRACK = 2;

function box(type: string, ...payload: Uint8Array[]): Uint8Array {
  const size = 8 + payload.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, size);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  let at = 8;
  for (const p of payload) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function bytes(...fields: [number, number][]): Uint8Array {
  const size = fields.reduce((n, [, w]) => n + w, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const [v, w] of fields) {
    if (w === 1) view.setUint8(at, v);
    else if (w === 2) view.setUint16(at, v);
    else if (w === 4) view.setUint32(at, v >>> 0);
    else if (w === 8) view.setBigUint64(at, BigInt(Math.max(0, Math.floor(v))));
    at += w;
  }
  return out;
}

const full = (type: string, version: number, flags: number, ...payload: Uint8Array[]) => box(type, bytes([(version << 24) | flags, 4]), ...payload);
const zeros = (n: number) => new Uint8Array(n);
const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const MATRIX = bytes([0x10000, 4], [0, 4], [0, 4], [0, 4], [0x10000, 4], [0, 4], [0, 4], [0, 4], [0x40000000, 4]);

export interface CmafTracks {
  video: VideoConfig | null;
  audio: AdtsConfig | null;
}

/** Sample-entry configuration from one segment's streams; null when its video is not H.264/HEVC. */
export function tracksOf(streams: SegmentStreams): CmafTracks | null {
  let video: VideoConfig | null = null;
  const first = streams.video[0];
  if (first) {
    const nals = splitNalUnits(first.data);
    if (streams.videoCodec === 'h264') {
      const sps = nals.find((n) => (n[0]! & 0x1f) === 7);
      const pps = nals.find((n) => (n[0]! & 0x1f) === 8);
      if (!sps || !pps || sps.length > 0xffff || pps.length > 0xffff) return null;
      video = h264Config(sps, pps);
    } else if (streams.videoCodec === 'hevc') {
      const type = (n: Uint8Array) => (n[0]! >> 1) & 0x3f;
      const [vps, sps, pps] = [32, 33, 34].map((t) => nals.find((n) => type(n) === t));
      if (!vps || !sps || !pps || vps.length + sps.length + pps.length > 0xffff) return null;
      video = hevcConfig(vps, sps, pps);
    } else return null;
  }
  return { video, audio: streams.adts };
}

export function initSegment(tracks: CmafTracks): Uint8Array {
  const traks: Uint8Array[] = [];
  const trexs: Uint8Array[] = [];
  if (tracks.video) traks.push(videoTrak(tracks.video));
  if (tracks.audio) traks.push(audioTrak(tracks.audio));
  for (const id of [tracks.video && VIDEO_TRACK, tracks.audio && AUDIO_TRACK]) {
    if (id) trexs.push(full('trex', 0, 0, bytes([id, 4], [1, 4], [0, 4], [0, 4], [0, 4])));
  }
  const mvhd = full('mvhd', 0, 0, bytes([0, 4], [0, 4], [1000, 4], [0, 4], [0x10000, 4], [0x0100, 2], [0, 2], [0, 4], [0, 4]), MATRIX, zeros(24), bytes([3, 4]));
  return concatAll([box('ftyp', ascii('iso6'), bytes([0, 4]), ascii('iso6cmfcmp41')), box('moov', mvhd, ...traks, box('mvex', ...trexs))]);
}

function trak(id: number, handler: string, timescale: number, tkhd: Uint8Array, mediaHeader: Uint8Array, sampleEntry: Uint8Array): Uint8Array {
  const mdhd = full('mdhd', 0, 0, bytes([0, 4], [0, 4], [timescale, 4], [0, 4], [0x55c4, 2], [0, 2]));
  const hdlr = full('hdlr', 0, 0, bytes([0, 4]), ascii(handler), zeros(12), ascii('tvarr\0'));
  const dinf = box('dinf', full('dref', 0, 0, bytes([1, 4]), full('url ', 0, 1)));
  const stbl = box(
    'stbl',
    full('stsd', 0, 0, bytes([1, 4]), sampleEntry),
    full('stts', 0, 0, bytes([0, 4])),
    full('stsc', 0, 0, bytes([0, 4])),
    full('stsz', 0, 0, bytes([0, 4], [0, 4])),
    full('stco', 0, 0, bytes([0, 4])),
  );
  void id;
  return box('trak', tkhd, box('mdia', mdhd, hdlr, box('minf', mediaHeader, dinf, stbl)));
}

function videoTrak(v: VideoConfig): Uint8Array {
  const tkhd = full('tkhd', 0, 3, bytes([0, 4], [0, 4], [VIDEO_TRACK, 4], [0, 4], [0, 4], [0, 8], [0, 2], [0, 2], [0, 2], [0, 2]), MATRIX, bytes([v.width * 0x10000, 4], [v.height * 0x10000, 4]));
  const entry = box(
    v.codec === 'h264' ? 'avc1' : 'hvc1',
    zeros(6),
    bytes([1, 2], [0, 2], [0, 2], [0, 4], [0, 4], [0, 4], [v.width, 2], [v.height, 2], [0x480000, 4], [0x480000, 4], [0, 4], [1, 2]),
    zeros(32),
    bytes([0x18, 2], [0xffff, 2]),
    box(v.codec === 'h264' ? 'avcC' : 'hvcC', v.record),
  );
  return trak(VIDEO_TRACK, 'vide', 90_000, tkhd, full('vmhd', 0, 1, zeros(8)), entry);
}

function audioTrak(a: AdtsConfig): Uint8Array {
  const tkhd = full('tkhd', 0, 3, bytes([0, 4], [0, 4], [AUDIO_TRACK, 4], [0, 4], [0, 4], [0, 8], [0, 2], [1, 2], [0x0100, 2], [0, 2]), MATRIX, bytes([0, 4], [0, 4]));
  const asc = bytes([(a.objectType << 11) | (a.samplingIndex << 7) | (a.channels << 3), 2]);
  const descriptor = (tag: number, ...payload: Uint8Array[]) => {
    const body = concatAll(payload);
    return concatAll([bytes([tag, 1], [body.length, 1]), body]);
  };
  const esds = full(
    'esds',
    0,
    0,
    descriptor(3, bytes([AUDIO_TRACK, 2], [0, 1]), descriptor(4, bytes([0x40, 1], [0x15, 1], [0, 1], [0, 2], [0, 4], [0, 4]), descriptor(5, asc)), descriptor(6, bytes([2, 1]))),
  );
  const entry = box('mp4a', zeros(6), bytes([1, 2], [0, 4], [0, 4], [a.channels, 2], [16, 2], [0, 2], [0, 2], [a.sampleRate * 0x10000, 4]), esds);
  return trak(AUDIO_TRACK, 'soun', a.sampleRate, tkhd, full('smhd', 0, 0, zeros(4)), entry);
}

interface Sample {
  duration: number;
  data: Uint8Array;
  flags: number;
  cts: number;
}

const SYNC = 0x02000000;
const NON_SYNC = 0x01010000;

/** One fragment (moof + mdat) for an HLS segment; `sequence` is the moof sequence number. */
export function mediaFragment(streams: SegmentStreams, tracks: CmafTracks, sequence: number): Uint8Array {
  const trafs: { track: number; baseTime: number; samples: Sample[]; withCts: boolean }[] = [];
  if (tracks.video && streams.video.length > 0) {
    const frames = streams.video;
    const samples = frames.map((f, i) => {
      const next = frames[i + 1];
      const duration = next ? next.dts - f.dts : i > 0 ? f.dts - frames[i - 1]!.dts : 3600;
      const nals = splitNalUnits(f.data);
      const isKey = nals.some((n) => (tracks.video!.codec === 'h264' ? (n[0]! & 0x1f) === 5 : ((n[0]! >> 1) & 0x3f) >= 16 && ((n[0]! >> 1) & 0x3f) <= 21));
      // Parameter sets live in the sample entry; access unit delimiters are not needed.
      const kept = nals.filter((n) => (tracks.video!.codec === 'h264' ? ![7, 8, 9].includes(n[0]! & 0x1f) : ![32, 33, 34, 35].includes((n[0]! >> 1) & 0x3f)));
      const data = concatAll(kept.map((n) => concatAll([bytes([n.length, 4]), n])));
      return { duration: Math.max(0, duration), data, flags: isKey ? SYNC : NON_SYNC, cts: f.pts - f.dts };
    });
    trafs.push({ track: VIDEO_TRACK, baseTime: frames[0]!.dts, samples, withCts: true });
  }
  if (tracks.audio && streams.audio.length > 0) {
    const rate = tracks.audio.sampleRate;
    const samples = streams.audio.map((f) => ({ duration: 1024, data: f.data, flags: SYNC, cts: 0 }));
    trafs.push({ track: AUDIO_TRACK, baseTime: audioBaseTime(streams.audio[0]!.pts, rate), samples, withCts: false });
  }
  // Two passes: the trun data offsets depend on the moof's size.
  const build = (offsets: number[]) =>
    box(
      'moof',
      full('mfhd', 0, 0, bytes([sequence, 4])),
      ...trafs.map((t, i) => {
        const flags = 0x000001 | 0x000100 | 0x000200 | 0x000400 | (t.withCts ? 0x000800 : 0);
        const rows = t.samples.map((s) => bytes([s.duration, 4], [s.data.length, 4], [s.flags, 4], ...((t.withCts ? [[s.cts | 0, 4]] : []) as [number, number][])));
        return box(
          'traf',
          full('tfhd', 0, 0x020000, bytes([t.track, 4])),
          full('tfdt', 1, 0, bytes([t.baseTime, 8])),
          full('trun', 1, flags, bytes([t.samples.length, 4], [offsets[i] ?? 0, 4]), ...rows),
        );
      }),
    );
  const moofSize = build([]).length;
  const offsets: number[] = [];
  let at = moofSize + 8;
  for (const t of trafs) {
    offsets.push(at);
    at += t.samples.reduce((n, s) => n + s.data.length, 0);
  }
  const mdat = box('mdat', ...trafs.flatMap((t) => t.samples.map((s) => s.data)));
  return concatAll([build(offsets), mdat]);
}

/** Init segment and fragment for one MPEG-TS segment, or null when it cannot be carried in fMP4. */
export function remuxToCmaf(ts: Uint8Array, sequence: number): { init: Uint8Array; fragment: Uint8Array; codecs: string } | null {
  return remuxToCmafTracks(ts, sequence)?.muxed ?? null;
}

/** One track on its own (DASH: one AdaptationSet per media type), with the timing its fragment carries. */
export interface CmafTrack {
  init: Uint8Array;
  fragment: Uint8Array;
  /** RFC 6381 codec string (avc1.64001f, hvc1..., mp4a.40.2). */
  codec: string;
  /** The track's timescale: 90 kHz video, the sample rate for audio. */
  timescale: number;
  /** Earliest presentation time of the fragment, in the timescale (video: first frame's PTS; audio: tfdt). */
  start: number;
  /** Sum of the fragment's sample durations, in the timescale. */
  duration: number;
  samples: number;
}

export interface CmafVideoTrack extends CmafTrack {
  width: number;
  height: number;
}

export interface CmafAudioTrack extends CmafTrack {
  sampleRate: number;
  channels: number;
}

export interface CmafSegment {
  /** Video and audio in one fragment (HLS fMP4, EXT-X-MAP). */
  muxed: { init: Uint8Array; fragment: Uint8Array; codecs: string };
  /** Each track alone (DASH): dash.js plays no multiplexed Representation. */
  video: CmafVideoTrack | null;
  audio: CmafAudioTrack | null;
}

/**
 * Every fMP4 form of one MPEG-TS segment from one demux: muxed (HLS) and one track per
 * fragment (DASH). Null when it cannot be carried in fMP4.
 */
export function remuxToCmafTracks(ts: Uint8Array, sequence: number): CmafSegment | null {
  // The bytes come from a worker: a malformed SPS (truncated exp-Golomb fields) or an
  // oversized parameter set means "cannot carry this in fMP4", never a crash.
  try {
    const streams = demuxSegment(ts);
    const tracks = tracksOf(streams);
    if (!tracks || (!tracks.video && !tracks.audio)) return null;
    if (tracks.video && tracks.video.record.length > 0xffff) return null;
    const codecs = [tracks.video?.codecString, tracks.audio && `mp4a.40.${tracks.audio.objectType}`].filter(Boolean).join(',');
    const out: CmafSegment = { muxed: { init: initSegment(tracks), fragment: mediaFragment(streams, tracks, sequence), codecs }, video: null, audio: null };
    const v = tracks.video;
    const first = streams.video[0];
    if (v && first) {
      const only = { video: v, audio: null };
      const frames = streams.video;
      const last = frames.at(-1)!;
      const lastDuration = frames.length > 1 ? last.dts - frames[frames.length - 2]!.dts : 3600;
      out.video = {
        init: initSegment(only),
        fragment: mediaFragment(streams, only, sequence),
        codec: v.codecString,
        timescale: 90_000,
        // tfdt is the first frame's decode time; its composition offset puts it at its PTS.
        start: first.pts,
        duration: Math.max(0, last.dts + lastDuration - first.dts),
        samples: frames.length,
        width: v.width,
        height: v.height,
      };
    }
    const a = tracks.audio;
    const firstAudio = streams.audio[0];
    if (a && firstAudio) {
      const only = { video: null, audio: a };
      out.audio = {
        init: initSegment(only),
        fragment: mediaFragment(streams, only, sequence),
        codec: `mp4a.40.${a.objectType}`,
        timescale: a.sampleRate,
        start: audioBaseTime(firstAudio.pts, a.sampleRate),
        duration: streams.audio.length * 1024,
        samples: streams.audio.length,
        sampleRate: a.sampleRate,
        channels: a.channels,
      };
    }
    return out;
  } catch {
    return null;
  }
}

/** An audio fragment's tfdt: its first frame's PTS in samples. */
function audioBaseTime(pts: number, rate: number): number {
  return Math.round((pts * rate) / 90_000);
}

function concatAll(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
