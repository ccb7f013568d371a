// What a ladder may contain, and the checked writes of ladders and of the profiles they use.
//
// A ladder is stored only when an adaptive player can switch between its renditions at
// any segment boundary: every rendition an encoded profile (a copy keeps whatever the
// source carries, so two renditions would not differ, or would differ in audio), video
// that HLS players decode, one audio format throughout (a player cannot switch between
// AAC and AC-3 mid-stream; channels and sample rate follow the codec, since workers encode
// every audio track as stereo 48 kHz, worker/runner/build-args.ts), and no two renditions
// of one size. Violations are 422s naming the rendition (`renditions[1]`).
//
// Ladders and profiles share the URL /stream/{source}/{id}: an id is one or the other,
// and the check and the insert run in one transaction serialized database-wide (the
// store's claim lock), so a concurrent profile and ladder cannot both take an id.
import { hlsAcceptsStreamCodec } from '../streams/hls/negotiate';
import type { ProfileFields, RuleViolation } from '../../common/transcode-rules';
import type { Store, StoreReader } from '../db/store';
import { AppError } from '../errors';
import { listProfiles, type ProfileRow } from './catalog-store';
import { createLadder, findLadder, getLadder, inTransaction, laddersUsingProfile, updateLadder, type LadderPatch, type LadderRow, type NewLadder } from './ladder-store';

export const MAX_RENDITIONS = 8;

export type LadderProfile = ProfileFields & { id: string };

const sizeOf = (p: LadderProfile) => `${p.width}x${p.height}`;

/**
 * The first reason `renditions` (profile ids, top first) cannot form a ladder, with the
 * field as the API spells it; undefined when it can. `profiles` holds every known profile.
 */
export function checkLadderRenditions(renditions: readonly string[], profiles: ReadonlyMap<string, LadderProfile>): RuleViolation | undefined {
  if (renditions.length < 1 || renditions.length > MAX_RENDITIONS) {
    return { field: 'renditions', message: `a ladder has 1..${MAX_RENDITIONS} renditions, got ${renditions.length}` };
  }
  const seen = new Map<string, number>();
  const sizes = new Map<string, number>();
  let audioFrom: { at: number; profile: LadderProfile } | undefined;
  for (const [i, id] of renditions.entries()) {
    const field = `renditions[${i}]`;
    const earlier = seen.get(id);
    if (earlier !== undefined) return { field, message: `profile '${id}' is listed twice (also renditions[${earlier}])` };
    seen.set(id, i);
    const p = profiles.get(id);
    if (!p) return { field, message: `unknown profile '${id}'` };
    if (p.videoCodec === 'copy') {
      return { field, message: `profile '${id}' copies the source video (videoCodec copy); a ladder's renditions are encoded, each to its own size` };
    }
    if (!hlsAcceptsStreamCodec(p.videoCodec)) {
      return { field, message: `profile '${id}' encodes ${p.videoCodec}, which adaptive players do not decode; a ladder takes h264 or hevc` };
    }
    if (p.audioCodec === 'copy') {
      return { field, message: `profile '${id}' copies the source audio (audioCodec copy); a ladder needs one encoded audio format in every rendition` };
    }
    if (audioFrom && audioFrom.profile.audioCodec !== p.audioCodec) {
      return {
        field,
        message: `profile '${id}' has audio ${p.audioCodec}, renditions[${audioFrom.at}] ('${audioFrom.profile.id}') has ${audioFrom.profile.audioCodec}: players cannot switch between renditions with different audio`,
      };
    }
    audioFrom ??= { at: i, profile: p };
    const sameSize = sizes.get(sizeOf(p));
    if (sameSize !== undefined) {
      const what = p.width === 0 && p.height === 0 ? 'the source size (width and height 0)' : `size ${sizeOf(p)}`;
      return { field, message: `profile '${id}' has the same ${what} as renditions[${sameSize}] ('${renditions[sameSize]}'); each rendition needs its own size` };
    }
    sizes.set(sizeOf(p), i);
  }
  return undefined;
}

function refuse(v: RuleViolation | undefined): void {
  if (v) throw new AppError('invalid_spec', `body.${v.field}: ${v.message}`, { field: v.field });
}

const byId = (rows: ProfileRow[]) => new Map(rows.map((p) => [p.id, p] as const));

/** The first of `ladders` that profile `next` (its new fields) would make invalid, with why. */
function brokenLadder(ladders: LadderRow[], profiles: Map<string, ProfileRow>, next: ProfileRow): { ladder: LadderRow; why: string } | undefined {
  const after = new Map(profiles).set(next.id, next);
  for (const ladder of ladders) {
    const v = checkLadderRenditions(ladder.renditions, after);
    if (v) return { ladder, why: `${v.field}: ${v.message}` };
  }
  return undefined;
}

/** POST /api/ladders: 409 when the id is a profile's or another ladder's, 422 naming the field. */
export async function createCheckedLadder(store: Store, input: NewLadder, now: number): Promise<LadderRow> {
  return store.transaction(async (tx) => {
    const db = inTransaction(store, tx);
    const profiles = byId(await listProfiles(db));
    if (profiles.has(input.id)) {
      throw new AppError('conflict', `id '${input.id}' is a profile's: ladders and profiles share the URL /stream/{source}/{id}`, { field: 'id' });
    }
    refuse(checkLadderRenditions(input.renditions, profiles));
    return createLadder(db, input, now);
  }, { claim: true });
}

/** PATCH /api/ladders/{id}: the stored ladder plus the patch must pass the same checks. */
export async function updateCheckedLadder(store: Store, id: string, patch: LadderPatch): Promise<LadderRow> {
  return store.transaction(async (tx) => {
    const db = inTransaction(store, tx);
    const stored = await getLadder(db, id);
    if (patch.renditions !== undefined) refuse(checkLadderRenditions(patch.renditions, byId(await listProfiles(db))));
    return patch.renditions === undefined && patch.name === undefined ? stored : updateLadder(db, id, patch);
  }, { claim: true });
}

/** POST /api/profiles guard: 409 when a ladder has the id (run inside the profile's insert transaction). */
export async function refuseLadderId(db: StoreReader, id: string): Promise<void> {
  if (await findLadder(db, id)) {
    throw new AppError('conflict', `id '${id}' is a ladder's: ladders and profiles share the URL /stream/{source}/{id}`, { field: 'id' });
  }
}

/** DELETE /api/profiles/{id} guard: 409 naming the first ladder that lists the profile. */
export async function refuseUsedProfile(db: StoreReader, id: string): Promise<void> {
  const [ladder] = await laddersUsingProfile(db, id);
  if (ladder) throw new AppError('conflict', `profile '${id}' is a rendition of ladder '${ladder.id}'; remove it from the ladder first`, { ladder: ladder.id });
}

/**
 * PATCH /api/profiles/{id} guard: a profile change that would break a ladder listing it
 * (a copy codec, other audio, a size another rendition has) is a 409 naming the ladder.
 */
export async function refuseProfileChangeBreakingLadder(db: StoreReader, next: ProfileRow): Promise<void> {
  const ladders = await laddersUsingProfile(db, next.id);
  if (ladders.length === 0) return;
  const broken = brokenLadder(ladders, byId(await listProfiles(db)), next);
  if (broken) throw new AppError('conflict', `profile '${next.id}' is a rendition of ladder '${broken.ladder.id}', which this change would break (${broken.why})`, { ladder: broken.ladder.id });
}
