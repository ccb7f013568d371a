// What a job must produce, in domain terms. The gRPC edge converts StartJob.spec into
// this and validates it before anything is spawned. The rules themselves live in
// common/transcode-rules.ts, which the coordinator's API applies to profiles too.
import { AUDIO_CODECS as RULE_AUDIO_CODECS, checkSpec, describeViolation, type AudioCodec } from '../../common/transcode-rules';

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
}

/**
 * Returns a one-line reason ("field: why") when the spec cannot be run, else undefined.
 * `codec` is what the probe found the encoder makes, when known.
 */
export function validateSpec(spec: TranscodeSpec, codec?: string): string | undefined {
  const violation = checkSpec(spec, codec);
  return violation ? describeViolation(violation) : undefined;
}
