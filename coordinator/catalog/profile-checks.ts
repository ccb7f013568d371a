// Profiles are stored only in a form every worker runs: the API completes what the client
// sent with per-codec defaults and checks it with the shared transcode rules
// (common/transcode-rules.ts), refusing with a 422 that names the field. A profile that a
// ladder lists is guarded by the ladder's rules (ladder-checks.ts): deleting it, or a change
// that would break the ladder, is a 409 naming the ladder; a ladder's id is never a profile's.
import { checkProfile, completeProfile, type ProfileFields } from '../../common/transcode-rules';
import type { Store } from '../db/store';
import { AppError } from '../errors';
import { createProfile, deleteProfile, getProfile, updateProfile, type NewProfile, type ProfileRow } from './catalog-store';
import { refuseLadderId, refuseProfileChangeBreakingLadder, refuseUsedProfile } from './ladder-checks';
import { inTransaction } from './ladder-store';

type ProfileInput = Omit<NewProfile, keyof ProfileFields> & Partial<ProfileFields> & { videoCodec: string };

function refuse(fields: ProfileFields): void {
  const v = checkProfile(fields);
  if (v) throw new AppError('invalid_spec', `body.${v.field}: ${v.message}`, { field: v.field });
}

/** POST /api/profiles: defaults by codec (a copy profile gets no GOP, size or bitrate). */
export async function createCheckedProfile(db: Store, input: ProfileInput, now: number): Promise<ProfileRow> {
  const full = completeProfile(input);
  refuse(full);
  // Serialized with ladder writes (ladder-checks.ts): an id is a profile's or a ladder's.
  return db.transaction(async (tx) => {
    await refuseLadderId(inTransaction(db, tx), full.id);
    return createProfile(inTransaction(db, tx), full, now);
  }, { claim: true });
}

/**
 * PATCH /api/profiles/{id}: the stored profile plus the patch must pass the rules. Fields
 * left out follow a codec change (copy -> h264 gets the H.264 defaults, h264 -> copy
 * drops size, GOP and preset), fields sent are kept and checked.
 */
export async function updateCheckedProfile(db: Store, id: string, patch: Partial<ProfileInput>): Promise<ProfileRow> {
  return db.transaction(async (handle) => {
    const tx = inTransaction(db, handle);
    const stored = await getProfile(tx, id);
    const full = completeProfile({ ...patch, videoCodec: patch.videoCodec ?? stored.videoCodec }, stored);
    refuse(full);
    const { createdAt: _createdAt, id: _id, ...fields } = full as typeof full & { createdAt?: number; id?: string };
    await refuseProfileChangeBreakingLadder(tx, { ...stored, ...fields });
    return updateProfile(tx, id, fields);
  }, { claim: true });
}

/** DELETE /api/profiles/{id}: 409 while a ladder lists it. */
export async function deleteCheckedProfile(db: Store, id: string): Promise<void> {
  await db.transaction(async (handle) => {
    const tx = inTransaction(db, handle);
    await getProfile(tx, id); // 404 before 409
    await refuseUsedProfile(tx, id);
    await deleteProfile(tx, id);
  }, { claim: true });
}
