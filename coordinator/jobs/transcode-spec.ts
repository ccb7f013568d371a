// Turns a profile plus the encoder the scheduler chose into the typed spec a worker runs.
import type { profiles } from '../db/client';
import type { TranscodeSpec } from '../domain';

export type ProfileRow = typeof profiles.$inferSelect;

// Fast presets by default: live transcoding must keep up with real time first.
function defaultPreset(encoder: string, family: string): string {
  if (encoder === 'libx264' || encoder === 'libx265') return 'veryfast';
  if (family === 'nvenc') return 'p4';
  return '';
}

export function buildTranscodeSpec(profile: ProfileRow, encoder: string, family: string): TranscodeSpec {
  return {
    encoder,
    width: profile.width,
    height: profile.height,
    videoBitrateKbps: profile.videoBitrateKbps,
    audioCodec: profile.audioCodec,
    audioBitrateKbps: profile.audioBitrateKbps,
    gopFrames: profile.gopFrames,
    preset: profile.preset ?? defaultPreset(encoder, family),
  };
}
