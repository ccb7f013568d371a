// Profiles are stored only in a form every worker runs: the API completes what the client
// sent with per-codec defaults and checks it with the shared transcode rules
// (common/transcode-rules.ts), refusing with a 422 that names the field.
import { checkProfile, completeProfile, type ProfileFields } from '../../common/transcode-rules';
import type { Store } from '../db/store';
import { AppError } from '../errors';
import { createProfile, getProfile, updateProfile, type NewProfile, type ProfileRow } from './catalog-store';

type ProfileInput = Omit<NewProfile, keyof ProfileFields> & Partial<ProfileFields> & { videoCodec: string };

function refuse(fields: ProfileFields): void {
  const v = checkProfile(fields);
  if (v) throw new AppError('invalid_spec', `body.${v.field}: ${v.message}`, { field: v.field });
}

/** POST /api/profiles: defaults by codec (a copy profile gets no GOP, size or bitrate). */
export async function createCheckedProfile(db: Store, input: ProfileInput, now: number): Promise<ProfileRow> {
  const full = completeProfile(input);
  refuse(full);
  return createProfile(db, full, now);
}

/**
 * PATCH /api/profiles/{id}: the stored profile plus the patch must pass the rules. Fields
 * left out follow a codec change (copy -> h264 gets the H.264 defaults, h264 -> copy
 * drops size, GOP and preset), fields sent are kept and checked.
 */
export async function updateCheckedProfile(db: Store, id: string, patch: Partial<ProfileInput>): Promise<ProfileRow> {
  const stored = await getProfile(db, id);
  const full = completeProfile({ ...patch, videoCodec: patch.videoCodec ?? stored.videoCodec }, stored);
  refuse(full);
  const { createdAt: _createdAt, id: _id, ...fields } = full as typeof full & { createdAt?: number; id?: string };
  return updateProfile(db, id, fields);
}
