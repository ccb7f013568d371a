// What a job must produce, in domain terms. The gRPC edge converts StartJob.spec into
// this and validates it before anything is spawned.
export type AudioCodec = 'aac' | 'mp2' | 'copy' | 'none';
export const AUDIO_CODECS: readonly AudioCodec[] = ['aac', 'mp2', 'copy', 'none'];

export interface TranscodeSpec {
  /** FFmpeg encoder name, or "copy" to remux without re-encoding. */
  encoder: string;
  /** 0 keeps the source size; one side 0 keeps the aspect ratio. */
  width: number;
  height: number;
  /** 0 lets the encoder choose. */
  videoBitrateKbps: number;
  audioCodec: AudioCodec;
  audioBitrateKbps: number;
  /** Keyframe interval in frames; 0 = encoder default. */
  gopFrames: number;
  /** Encoder preset; empty = encoder default. */
  preset: string;
}

const MAX_DIMENSION = 8192;

/** Returns a one-line reason when the spec cannot be run, else undefined. */
export function validateSpec(spec: TranscodeSpec): string | undefined {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(spec.encoder)) return `invalid encoder name ${JSON.stringify(spec.encoder)}`;
  if (!AUDIO_CODECS.includes(spec.audioCodec)) return `audio_codec must be one of ${AUDIO_CODECS.join('|')}`;
  for (const [k, v] of [['width', spec.width], ['height', spec.height]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > MAX_DIMENSION) return `${k} must be 0..${MAX_DIMENSION}`;
    if (v % 2 !== 0) return `${k} must be even (4:2:0 chroma)`;
  }
  if (spec.encoder === 'copy' && (spec.width || spec.height || spec.videoBitrateKbps || spec.gopFrames)) {
    return 'encoder "copy" cannot resize or change bitrate/GOP';
  }
  if (spec.preset && !/^[A-Za-z0-9_.-]{1,32}$/.test(spec.preset)) return `invalid preset ${JSON.stringify(spec.preset)}`;
  return undefined;
}
