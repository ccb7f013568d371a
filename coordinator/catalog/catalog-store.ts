// Sources and profiles: what can be watched, and in which forms.
import { asc, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { profiles, sources } from '../db/client';
import { AppError } from '../errors';

export type SourceRow = typeof sources.$inferSelect;
export type ProfileRow = typeof profiles.$inferSelect;
export type NewSource = Omit<typeof sources.$inferInsert, 'createdAt'>;
export type NewProfile = Omit<typeof profiles.$inferInsert, 'createdAt'>;

export function listSources(db: Db): SourceRow[] {
  return db.select().from(sources).orderBy(asc(sources.id)).all();
}

export function getSource(db: Db, id: string): SourceRow {
  const row = db.select().from(sources).where(eq(sources.id, id)).get();
  if (!row) throw new AppError('not_found', `source '${id}' not found`);
  return row;
}

export function createSource(db: Db, input: NewSource, now: number): SourceRow {
  const [row] = db.insert(sources).values({ ...input, createdAt: now }).onConflictDoNothing().returning().all();
  if (!row) throw new AppError('conflict', `source '${input.id}' already exists`);
  return row;
}

export function updateSource(db: Db, id: string, patch: Partial<NewSource>): SourceRow {
  const [row] = db.update(sources).set(patch).where(eq(sources.id, id)).returning().all();
  if (!row) throw new AppError('not_found', `source '${id}' not found`);
  return row;
}

export function deleteSource(db: Db, id: string): void {
  const res = db.delete(sources).where(eq(sources.id, id)).returning({ id: sources.id }).all();
  if (res.length === 0) throw new AppError('not_found', `source '${id}' not found`);
}

export function listProfiles(db: Db): ProfileRow[] {
  return db.select().from(profiles).orderBy(asc(profiles.id)).all();
}

export function getProfile(db: Db, id: string): ProfileRow {
  const row = db.select().from(profiles).where(eq(profiles.id, id)).get();
  if (!row) throw new AppError('not_found', `profile '${id}' not found`);
  return row;
}

export function createProfile(db: Db, input: NewProfile, now: number): ProfileRow {
  const [row] = db.insert(profiles).values({ ...input, createdAt: now }).onConflictDoNothing().returning().all();
  if (!row) throw new AppError('conflict', `profile '${input.id}' already exists`);
  return row;
}

export function updateProfile(db: Db, id: string, patch: Partial<NewProfile>): ProfileRow {
  const [row] = db.update(profiles).set(patch).where(eq(profiles.id, id)).returning().all();
  if (!row) throw new AppError('not_found', `profile '${id}' not found`);
  return row;
}

export function deleteProfile(db: Db, id: string): void {
  const res = db.delete(profiles).where(eq(profiles.id, id)).returning({ id: profiles.id }).all();
  if (res.length === 0) throw new AppError('not_found', `profile '${id}' not found`);
}

/** The embedded default: an offline test pattern and a 360p H.264 profile. */
export function seedDefaults(db: Db, now: number): void {
  db.insert(sources)
    .values({ id: 'test-pattern', name: 'Test pattern (built in)', url: 'testpattern:?size=1280x720&rate=25', createdAt: now })
    .onConflictDoNothing()
    .run();
  db.insert(profiles)
    .values({
      id: 'h264-360p',
      name: 'H.264 360p',
      videoCodec: 'h264',
      width: 640,
      height: 360,
      videoBitrateKbps: 800,
      audioCodec: 'aac',
      audioBitrateKbps: 96,
      gopFrames: 50,
      createdAt: now,
    })
    .onConflictDoNothing()
    .run();
}
