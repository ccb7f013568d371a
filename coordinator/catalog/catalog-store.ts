// Sources and profiles: what can be watched, and in which forms.
import { asc, eq } from 'drizzle-orm';
import type { Store, StoreReader, Tables } from '../db/store';
import { AppError } from '../errors';

export type SourceRow = Tables['sources']['$inferSelect'];
export type ProfileRow = Tables['profiles']['$inferSelect'];
export type NewSource = Omit<Tables['sources']['$inferInsert'], 'createdAt'>;
export type NewProfile = Omit<Tables['profiles']['$inferInsert'], 'createdAt'>;

export async function listSources({ db, t }: Store): Promise<SourceRow[]> {
  return db.select().from(t.sources).orderBy(asc(t.sources.id));
}

export async function getSource({ db, t }: Store, id: string): Promise<SourceRow> {
  const [row] = await db.select().from(t.sources).where(eq(t.sources.id, id)).limit(1);
  if (!row) throw new AppError('not_found', `source '${id}' not found`);
  return row;
}

export async function createSource({ db, t }: Store, input: NewSource, now: number): Promise<SourceRow> {
  const [row] = await db.insert(t.sources).values({ ...input, createdAt: now }).onConflictDoNothing().returning();
  if (!row) throw new AppError('conflict', `source '${input.id}' already exists`);
  return row;
}

export async function updateSource({ db, t }: Store, id: string, patch: Partial<NewSource>): Promise<SourceRow> {
  const [row] = await db.update(t.sources).set(patch).where(eq(t.sources.id, id)).returning();
  if (!row) throw new AppError('not_found', `source '${id}' not found`);
  return row;
}

export async function deleteSource({ db, t }: Store, id: string): Promise<void> {
  const res = await db.delete(t.sources).where(eq(t.sources.id, id)).returning({ id: t.sources.id });
  if (res.length === 0) throw new AppError('not_found', `source '${id}' not found`);
}

export async function listProfiles({ db, t }: StoreReader): Promise<ProfileRow[]> {
  return db.select().from(t.profiles).orderBy(asc(t.profiles.id));
}

export async function getProfile({ db, t }: StoreReader, id: string): Promise<ProfileRow> {
  const [row] = await db.select().from(t.profiles).where(eq(t.profiles.id, id)).limit(1);
  if (!row) throw new AppError('not_found', `profile '${id}' not found`);
  return row;
}

export async function createProfile({ db, t }: StoreReader, input: NewProfile, now: number): Promise<ProfileRow> {
  const [row] = await db.insert(t.profiles).values({ ...input, createdAt: now }).onConflictDoNothing().returning();
  if (!row) throw new AppError('conflict', `profile '${input.id}' already exists`);
  return row;
}

export async function updateProfile({ db, t }: StoreReader, id: string, patch: Partial<NewProfile>): Promise<ProfileRow> {
  const [row] = await db.update(t.profiles).set(patch).where(eq(t.profiles.id, id)).returning();
  if (!row) throw new AppError('not_found', `profile '${id}' not found`);
  return row;
}

export async function deleteProfile({ db, t }: StoreReader, id: string): Promise<void> {
  const res = await db.delete(t.profiles).where(eq(t.profiles.id, id)).returning({ id: t.profiles.id });
  if (res.length === 0) throw new AppError('not_found', `profile '${id}' not found`);
}

/** The embedded default: an offline test pattern and a 360p H.264 profile. */
export async function seedDefaults({ db, t }: Store, now: number): Promise<void> {
  await db
    .insert(t.sources)
    .values({ id: 'test-pattern', name: 'Test pattern (built in)', url: 'testpattern:?size=1280x720&rate=25', createdAt: now })
    .onConflictDoNothing();
  await db
    .insert(t.profiles)
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
    .onConflictDoNothing();
}
