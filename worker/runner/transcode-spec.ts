// What a job must produce, in domain terms. The gRPC edge converts StartJob.spec into
// this and validates it before anything is spawned. The rules themselves live in
// common/transcode-rules.ts, which the coordinator's API applies to profiles too.
import { MAX_LADDER_RENDITIONS } from '../../common/worker-contract';
import { AUDIO_CODECS as RULE_AUDIO_CODECS, checkSpec, codecOfEncoder, describeViolation, type AudioCodec } from '../../common/transcode-rules';

export type { AudioCodec };
export const AUDIO_CODECS: readonly AudioCodec[] = RULE_AUDIO_CODECS;

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
  /** Encoder preset, one this encoder takes; empty = encoder default. */
  preset: string;
  /**
   * Failover splice (coordinator/streams/splice-point.ts): a keyframe on the first frame
   * at or after this PTS (90 kHz, the source's timeline); absent or 0 = none.
   */
  spliceKeyframePts?: number;
  /**
   * Hot standby: keyframes exactly on the source's keyframes and nowhere else (proto
   * TranscodeSpec.keyframes_follow_source), so two encoders key the same frames.
   */
  keyframesFollowSource?: boolean;
  /**
   * A ladder job (proto TranscodeSpec.renditions): one decode, one encoder per rendition,
   * one MPEG-TS program per rendition. Absent or empty: one output.
   */
  renditions?: RenditionSpec[];
}

/** What differs between the renditions of a ladder job (proto Rendition). */
export interface RenditionSpec {
  encoder: string;
  width: number;
  height: number;
  videoBitrateKbps: number;
  preset: string;
}

/** Renditions one ladder job may carry (proto Register.max_renditions). */
export const MAX_RENDITIONS = MAX_LADDER_RENDITIONS;

/** The one-output spec of rendition `r` of a ladder spec: the fields it shares, with its own. */
export function renditionSpec(spec: TranscodeSpec, r: RenditionSpec): TranscodeSpec {
  const { renditions: _, ...shared } = spec;
  return { ...shared, encoder: r.encoder, width: r.width, height: r.height, videoBitrateKbps: r.videoBitrateKbps, preset: r.preset };
}

/**
 * Returns a one-line reason ("field: why") when the spec cannot be run, else undefined.
 * `codec` is what the probe found the encoder makes, when known.
 */
export function validateSpec(spec: TranscodeSpec, codec?: string): string | undefined {
  const renditions = spec.renditions ?? [];
  if (renditions.length === 0) {
    const violation = checkSpec(spec, codec);
    return violation ? describeViolation(violation) : undefined;
  }
  if (renditions.length < 2 || renditions.length > MAX_RENDITIONS) return `renditions: a ladder job has 2-${MAX_RENDITIONS} renditions, got ${renditions.length}`;
  let firstCodec: string | undefined;
  for (const [i, r] of renditions.entries()) {
    if (r.encoder === 'copy') return `renditions[${i}].encoder: a rendition is encoded, never "copy"`;
    const violation = checkSpec(renditionSpec(spec, r));
    if (violation) return `renditions[${i}].${describeViolation(violation)}`;
    const made = codecOfEncoder(r.encoder);
    firstCodec ??= made;
    if (made && firstCodec && made !== firstCodec) return `renditions[${i}].encoder: makes ${made}, renditions[0] makes ${firstCodec}; a ladder's renditions share one codec`;
  }
  return undefined;
}
