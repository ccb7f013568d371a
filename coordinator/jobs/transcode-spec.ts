// Turns a profile plus the encoder the scheduler chose into the typed spec a worker runs,
// checked by the same rules the worker applies (common/transcode-rules.ts): a spec that
// fails here would be refused by every worker, so it is the profile's fault, not theirs.
import { checkProfile, checkSpec, fitPreset, type RuleViolation } from '../../common/transcode-rules';
import type { Tables } from '../db/store';
import type { TranscodeSpec } from '../domain';
import { AppError } from '../errors';

export type ProfileRow = Tables['profiles']['$inferSelect'];

function invalid(profile: ProfileRow, v: RuleViolation): AppError {
  return new AppError('invalid_spec', `profile '${profile.id}' cannot be run: ${v.field}: ${v.message}`, { field: v.field });
}

/**
 * Throws invalid_spec when the stored profile breaks the rules (a row written before the
 * API checked them, or by hand): no worker is asked to run what every worker refuses.
 */
export function assertRunnableProfile(profile: ProfileRow): void {
  const v = checkProfile(profile);
  if (v) throw invalid(profile, v);
}

/**
 * The spec for `encoder`, which the scheduler chose because it makes the profile's codec.
 * `keyframesFollowSource`: the variant is a ladder rendition (streams/variant-run.ts).
 */
export function buildTranscodeSpec(profile: ProfileRow, encoder: string, opts: { keyframesFollowSource?: boolean } = {}): TranscodeSpec {
  const spec: TranscodeSpec = {
    encoder,
    width: profile.width,
    height: profile.height,
    videoBitrateKbps: profile.videoBitrateKbps,
    audioCodec: profile.audioCodec,
    audioBitrateKbps: profile.audioBitrateKbps,
    gopFrames: profile.gopFrames,
    // The profile's preset when this encoder takes it, else the encoder's default.
    preset: encoder === 'copy' ? '' : fitPreset(encoder, profile.preset),
  };
  // Every attempt of a hot-standby run keys the source's keyframes, so the coordinator can
  // switch between any two of them at any frame (streams/variant-run.ts, splice-point.ts);
  // so does every attempt of a ladder rendition, so that renditions encoded by separate
  // jobs key the same frames and their segments align (streams/segment-grid.ts).
  if ((profile.hotStandby || opts.keyframesFollowSource) && encoder !== 'copy') spec.keyframesFollowSource = true;
  const v = checkSpec(spec, profile.videoCodec);
  if (v) throw invalid(profile, v);
  return spec;
}

/**
 * The spec of a ladder job (proto TranscodeSpec.renditions): one rendition per profile, in
 * the ladder's order, all on `encoder` (the scheduler chose it for their one codec). The
 * shared fields (audio, GOP) are the first profile's: the ladder rules make the renditions'
 * audio the same. Keyframes follow the source, so renditions align with each other and
 * with any rendition running as a job of its own.
 */
export function buildLadderSpec(profiles: readonly ProfileRow[], encoder: string): TranscodeSpec {
  const specs = profiles.map((p) => buildTranscodeSpec(p, encoder, { keyframesFollowSource: true }));
  return {
    ...specs[0]!,
    renditions: specs.map((s) => ({ encoder: s.encoder, width: s.width, height: s.height, videoBitrateKbps: s.videoBitrateKbps, preset: s.preset })),
  };
}
