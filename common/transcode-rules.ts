// What a transcode may ask for: one set of rules that the coordinator's API (profiles),
// the coordinator's dispatch and the worker's admission all apply, so a profile the API
// accepts is a spec every worker runs. Pure functions, no I/O.
//
// Two shapes are checked: a profile (a codec, maybe an encoder preference) before any
// encoder is chosen, and a spec (one concrete FFmpeg encoder) on the worker. Each check
// answers the first violation as { field, message }, with the field named as the API
// spells it, so a 422 can point at it.

export const VIDEO_CODECS = ['h264', 'hevc', 'av1', 'vp9', 'mpeg2video', 'copy'] as const;
export type VideoCodec = (typeof VIDEO_CODECS)[number];
export const AUDIO_CODECS = ['aac', 'mp2', 'ac3', 'copy', 'none'] as const;
export type AudioCodec = (typeof AUDIO_CODECS)[number];

/** Containers a variant's output can be packaged in. */
export type Container = 'mpegts' | 'fmp4';
/** Every job's output (the worker's stdout, the shared buffer) is MPEG-TS. */
export const JOB_OUTPUT_CONTAINER: Container = 'mpegts';

// Codecs each container carries so that common players decode them. FFmpeg's mpegts
// muxer writes VP9 and AV1 as private data streams (ffprobe reads them back as
// "bin_data"), so they are not listed for MPEG-TS. MP2 audio has no HLS fMP4 mapping.
const CONTAINER_CODECS: Record<Container, readonly string[]> = {
  mpegts: ['h264', 'hevc', 'mpeg2video', 'aac', 'mp2', 'ac3'],
  fmp4: ['h264', 'hevc', 'av1', 'vp9', 'aac', 'ac3'],
};

/**
 * Containers that can carry `codec` (a video or audio codec name). "none" fits every
 * container. "copy" keeps the source's codec, which is only known once probed; sources
 * arrive as MPEG-TS, so only MPEG-TS is certain (check the probed codec for fMP4).
 */
export function containersFor(codec: string): Container[] {
  if (codec === 'none') return ['mpegts', 'fmp4'];
  if (codec === 'copy') return ['mpegts'];
  return (Object.keys(CONTAINER_CODECS) as Container[]).filter((c) => CONTAINER_CODECS[c].includes(codec));
}

export function codecFitsContainer(codec: string, container: Container): boolean {
  return containersFor(codec).includes(container);
}

// ---- encoders and presets ----------------------------------------------------------

// Encoders the rules know by name, with the codec they make. Worker probes find others
// too (the probe reports each encoder's codec); unknown ones take no preset.
const KNOWN_ENCODERS: Record<string, string> = {
  libx264: 'h264', libopenh264: 'h264', libx265: 'hevc', mpeg2video: 'mpeg2video',
  libsvtav1: 'av1', 'libaom-av1': 'av1', librav1e: 'av1', 'libvpx-vp9': 'vp9',
};
const HW_PREFIXES: Record<string, string> = { h264: 'h264', hevc: 'hevc', av1: 'av1', vp9: 'vp9', mpeg2: 'mpeg2video' };

/** The codec an encoder name makes, when the name says so (h264_nvenc, libx265, ...). */
export function codecOfEncoder(encoder: string): string | undefined {
  if (encoder === 'copy') return 'copy';
  if (KNOWN_ENCODERS[encoder]) return KNOWN_ENCODERS[encoder];
  const prefix = encoder.includes('_') ? encoder.slice(0, encoder.indexOf('_')) : '';
  return HW_PREFIXES[prefix];
}

function familyOfEncoder(encoder: string): string {
  return encoder.includes('_') ? encoder.slice(encoder.lastIndexOf('_') + 1) : 'software';
}

const X26X_PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow', 'placebo'];
const NVENC_PRESETS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'default', 'slow', 'medium', 'fast', 'hp', 'hq', 'bd', 'll', 'llhq', 'llhp', 'lossless', 'losslesshp'];
const QSV_PRESETS = ['veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'];
const SVTAV1_PRESETS = Array.from({ length: 14 }, (_, i) => String(i));

/** The -preset values an encoder takes; empty when it has no -preset option (vaapi, mpeg2video, ...). */
export function presetsFor(encoder: string): readonly string[] {
  if (encoder === 'libx264' || encoder === 'libx265') return X26X_PRESETS;
  if (encoder === 'libsvtav1') return SVTAV1_PRESETS;
  const family = familyOfEncoder(encoder);
  if (family === 'nvenc') return NVENC_PRESETS;
  if (family === 'qsv') return QSV_PRESETS;
  return [];
}

// Fast presets by default: live transcoding must keep up with real time first.
function defaultPresetFor(encoder: string): string {
  if (encoder === 'libx264' || encoder === 'libx265') return 'veryfast';
  if (familyOfEncoder(encoder) === 'nvenc') return 'p4';
  return '';
}

/**
 * The preset to send with a job on `encoder`: the profile's, when this encoder takes it,
 * else the encoder's default. A profile's preset is checked against the encoders its
 * codec may get (checkProfile); the scheduler may still pick one that names its presets
 * differently (nvenc's p1-p7 vs x264's names), and that must not make the job fail.
 */
export function fitPreset(encoder: string, preset: string | null | undefined): string {
  if (preset && presetsFor(encoder).includes(preset)) return preset;
  return defaultPresetFor(encoder);
}

// Encoders the rules know for each codec, to check a preset against before one is chosen.
const ENCODERS_BY_CODEC: Record<string, readonly string[]> = {
  h264: ['libx264', 'h264_nvenc', 'h264_qsv', 'h264_vaapi', 'h264_amf', 'h264_videotoolbox'],
  hevc: ['libx265', 'hevc_nvenc', 'hevc_qsv', 'hevc_vaapi', 'hevc_amf', 'hevc_videotoolbox'],
  mpeg2video: ['mpeg2video', 'mpeg2_qsv', 'mpeg2_vaapi'],
  av1: ['libsvtav1', 'libaom-av1', 'av1_nvenc', 'av1_qsv', 'av1_vaapi'],
  vp9: ['libvpx-vp9', 'vp9_qsv', 'vp9_vaapi'],
};

/** Known encoders of `codec` that a preference (encoder, family or kind) lets the scheduler pick. */
function encodersFor(codec: string, preference: string | null | undefined): string[] {
  const all = [...(ENCODERS_BY_CODEC[codec] ?? [])];
  if (!preference) return all;
  return all.filter((e) => {
    const family = familyOfEncoder(e);
    const kind = family === 'software' ? 'cpu' : 'gpu';
    return e === preference || family === preference || kind === preference;
  });
}

// ---- per-codec defaults ------------------------------------------------------------

/** The fields a profile can set; the API's body and the stored row share these names. */
export interface ProfileFields {
  videoCodec: string;
  encoderPreference: string | null;
  width: number;
  height: number;
  videoBitrateKbps: number;
  audioCodec: string;
  audioBitrateKbps: number;
  gopFrames: number;
  preset: string | null;
}

/** Fields that only mean something when video is encoded; a copy profile leaves them unset. */
export const ENCODE_ONLY_FIELDS = ['encoderPreference', 'width', 'height', 'videoBitrateKbps', 'gopFrames', 'preset'] as const;

const AUDIO_DEFAULT_KBPS: Record<AudioCodec, number> = { aac: 128, mp2: 192, ac3: 192, copy: 0, none: 0 };

/** The bitrate an audio encoder gets when a spec leaves it at 0. */
export function audioDefaultKbps(codec: string): number {
  return AUDIO_DEFAULT_KBPS[codec as AudioCodec] ?? 0;
}

/** Defaults chosen by codec: a copy profile gets no GOP, bitrate or size; a remux keeps the audio too. */
export function profileDefaults(videoCodec: string, audioCodec?: string): Omit<ProfileFields, 'videoCodec'> {
  const copy = videoCodec === 'copy';
  const audio = audioCodec ?? (copy ? 'copy' : 'aac');
  return {
    encoderPreference: null,
    width: 0,
    height: 0,
    videoBitrateKbps: 0,
    audioCodec: audio,
    audioBitrateKbps: audioDefaultKbps(audio),
    // 2 s at 25 fps: a late joiner or a failover splice waits at most that for a keyframe.
    gopFrames: copy ? 0 : 50,
    preset: null,
  };
}

/**
 * A full profile from what the client sent (create), or from the stored row plus a patch
 * (update). Fields the client did not send take the defaults of the resulting codecs: a
 * patch that turns an H.264 profile into a copy one drops its GOP and size with it, while
 * a field the client did send is kept and checked.
 */
export function completeProfile<T extends Partial<ProfileFields> & { videoCodec: string }>(sent: T, stored?: ProfileFields): T & ProfileFields {
  const videoCodec = sent.videoCodec;
  const audioCodec = sent.audioCodec ?? stored?.audioCodec;
  const defaults = profileDefaults(videoCodec, audioCodec);
  const out: Record<string, unknown> = { ...defaults };
  if (stored) {
    const videoChanged = stored.videoCodec !== videoCodec && (stored.videoCodec === 'copy' || videoCodec === 'copy');
    const audioChanged = stored.audioCodec !== defaults.audioCodec;
    for (const [k, v] of Object.entries(stored)) {
      if ((ENCODE_ONLY_FIELDS as readonly string[]).includes(k) && videoChanged) continue;
      if (k === 'audioBitrateKbps' && audioChanged) continue;
      if (k === 'audioCodec') continue;
      out[k] = v;
    }
  }
  for (const [k, v] of Object.entries(sent)) if (v !== undefined) out[k] = v;
  return out as unknown as T & ProfileFields;
}

// ---- checks ------------------------------------------------------------------------

export interface RuleViolation {
  field: string;
  message: string;
}

const MAX_DIMENSION = 8192;
// MPEG-1 Layer II bitrates at 32/44.1/48 kHz; FFmpeg's mp2 encoder refuses any other.
const MP2_KBPS = [32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384];

function checkContainer(field: string, codec: string): RuleViolation | undefined {
  if (codecFitsContainer(codec, JOB_OUTPUT_CONTAINER)) return undefined;
  const fits = containersFor(codec);
  return {
    field,
    message: `${codec} cannot be carried in MPEG-TS, the container every job outputs (players would get an undecodable data stream)${fits.length ? `; ${codec} fits ${fits.join(', ')}` : ''}`,
  };
}

function checkVideoFields(f: Omit<ProfileFields, 'videoCodec' | 'encoderPreference' | 'preset'>, codec: string): RuleViolation | undefined {
  for (const k of ['width', 'height'] as const) {
    const v = f[k];
    if (!Number.isInteger(v) || v < 0 || v > MAX_DIMENSION) return { field: k, message: `${k} must be an integer 0..${MAX_DIMENSION}` };
    if (v % 2 !== 0) return { field: k, message: `${k} must be even (4:2:0 chroma), got ${v}` };
    if (codec === 'mpeg2video' && v > 0 && v % 4096 === 0) return { field: k, message: `mpeg2video cannot encode a ${k} of ${v} (a multiple of 4096)` };
  }
  if (!Number.isInteger(f.videoBitrateKbps) || f.videoBitrateKbps < 0) return { field: 'videoBitrateKbps', message: 'videoBitrateKbps must be an integer >= 0' };
  if (!Number.isInteger(f.gopFrames) || f.gopFrames < 0) return { field: 'gopFrames', message: 'gopFrames must be an integer >= 0' };
  return undefined;
}

function checkAudio(audioCodec: string, kbps: number): RuleViolation | undefined {
  if (!(AUDIO_CODECS as readonly string[]).includes(audioCodec)) return { field: 'audioCodec', message: `audioCodec must be one of ${AUDIO_CODECS.join(', ')}` };
  if (audioCodec !== 'copy' && audioCodec !== 'none') {
    const container = checkContainer('audioCodec', audioCodec);
    if (container) return container;
  }
  if (!Number.isInteger(kbps) || kbps < 0) return { field: 'audioBitrateKbps', message: 'audioBitrateKbps must be an integer >= 0' };
  if ((audioCodec === 'copy' || audioCodec === 'none') && kbps !== 0) {
    return { field: 'audioBitrateKbps', message: `audioBitrateKbps does not apply to audioCodec ${audioCodec} (leave it out or 0)` };
  }
  if (audioCodec === 'mp2' && kbps !== 0 && !MP2_KBPS.includes(kbps)) {
    return { field: 'audioBitrateKbps', message: `mp2 takes one of ${MP2_KBPS.join(', ')} kbit/s, got ${kbps}` };
  }
  if (audioCodec === 'ac3' && kbps !== 0 && (kbps < 32 || kbps > 640)) return { field: 'audioBitrateKbps', message: 'ac3 takes 32..640 kbit/s' };
  return undefined;
}

function notForCopy(field: string): RuleViolation {
  return { field, message: `${field} does not apply to videoCodec copy (copy remuxes the source's video without encoding it); leave it out` };
}

/** A profile, before an encoder is chosen: what the API refuses with a 422 on `field`. */
export function checkProfile(p: ProfileFields): RuleViolation | undefined {
  if (!(VIDEO_CODECS as readonly string[]).includes(p.videoCodec)) return { field: 'videoCodec', message: `videoCodec must be one of ${VIDEO_CODECS.join(', ')}` };
  if (p.videoCodec === 'copy') {
    if (p.encoderPreference && p.encoderPreference !== 'copy' && p.encoderPreference !== 'cpu') return notForCopy('encoderPreference');
    if (p.width) return notForCopy('width');
    if (p.height) return notForCopy('height');
    if (p.videoBitrateKbps) return notForCopy('videoBitrateKbps');
    if (p.gopFrames) return notForCopy('gopFrames');
    if (p.preset) return notForCopy('preset');
    return checkAudio(p.audioCodec, p.audioBitrateKbps);
  }
  const container = checkContainer('videoCodec', p.videoCodec);
  if (container) return container;
  const prefCodec = p.encoderPreference ? codecOfEncoder(p.encoderPreference) : undefined;
  if (prefCodec && prefCodec !== p.videoCodec) {
    return { field: 'encoderPreference', message: `encoder ${p.encoderPreference} makes ${prefCodec}, not ${p.videoCodec}` };
  }
  const video = checkVideoFields(p, p.videoCodec);
  if (video) return video;
  if (p.preset) {
    const candidates = encodersFor(p.videoCodec, p.encoderPreference);
    const takers = candidates.filter((e) => presetsFor(e).includes(p.preset!));
    if (takers.length === 0) {
      const offered = [...new Set(candidates.flatMap((e) => presetsFor(e)))];
      return {
        field: 'preset',
        message: offered.length
          ? `no ${p.videoCodec} encoder${p.encoderPreference ? ` matching ${p.encoderPreference}` : ''} takes preset ${p.preset}; presets: ${offered.join(', ')}`
          : `${p.videoCodec} encoders${p.encoderPreference ? ` matching ${p.encoderPreference}` : ''} take no preset`,
      };
    }
  }
  return checkAudio(p.audioCodec, p.audioBitrateKbps);
}

/** A spec names one concrete encoder ("copy" to remux); the worker checks it before spawning. */
export interface SpecFields {
  encoder: string;
  width: number;
  height: number;
  videoBitrateKbps: number;
  audioCodec: string;
  audioBitrateKbps: number;
  gopFrames: number;
  preset: string;
}

/**
 * A spec for one encoder: the same rules as checkProfile, and the preset must be one
 * this encoder takes (the coordinator fits it with fitPreset). `codec` is the codec the
 * worker's probe found for the encoder, when known.
 */
export function checkSpec(s: SpecFields, codec?: string): RuleViolation | undefined {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(s.encoder)) return { field: 'encoder', message: `invalid encoder name ${JSON.stringify(s.encoder).slice(0, 80)}` };
  if (s.preset && !/^[A-Za-z0-9_.-]{1,32}$/.test(s.preset)) return { field: 'preset', message: `invalid preset ${JSON.stringify(s.preset).slice(0, 80)}` };
  const videoCodec = s.encoder === 'copy' ? 'copy' : (codec ?? codecOfEncoder(s.encoder));
  if (videoCodec === 'copy') {
    return checkProfile({ ...s, videoCodec: 'copy', encoderPreference: null, preset: s.preset || null });
  }
  if (videoCodec) {
    const container = checkContainer('videoCodec', videoCodec);
    if (container) return container;
  }
  const video = checkVideoFields(s, videoCodec ?? '');
  if (video) return video;
  if (s.preset && !presetsFor(s.encoder).includes(s.preset)) {
    const takes = presetsFor(s.encoder);
    return { field: 'preset', message: `encoder ${s.encoder} ${takes.length ? `takes presets ${takes.join(', ')}` : 'takes no preset'}, got ${s.preset}` };
  }
  return checkAudio(s.audioCodec, s.audioBitrateKbps);
}

/** "field: message", the one-line form workers put in REJECT_REASON_INVALID_SPEC. */
export function describeViolation(v: RuleViolation): string {
  return `${v.field}: ${v.message}`;
}
