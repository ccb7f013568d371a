// Ladders: an ordered set of profiles (renditions, top first) that adaptive players switch
// between. Plain reads and writes; what a ladder may contain is checked in ladder-checks.ts.
import { asc, eq } from 'drizzle-orm';
import type { Db, Store, StoreReader, Tables } from '../db/store';
import { AppError } from '../errors';

export type LadderRow = { id: string; name: string; renditions: string[]; createdAt: number };
export type NewLadder = Omit<LadderRow, 'createdAt'>;
export type LadderPatch = Partial<Omit<NewLadder, 'id'>>;

type Row = Tables['ladders']['$inferSelect'];
// jsonb and SQLite's JSON text both read back as an array; copy it so callers own it.
const toLadder = (r: Row): LadderRow => ({ id: r.id, name: r.name, renditions: [...r.renditions], createdAt: r.createdAt });

export async function listLadders({ db, t }: StoreReader): Promise<LadderRow[]> {
  return (await db.select().from(t.ladders).orderBy(asc(t.ladders.id))).map(toLadder);
}

export async function findLadder({ db, t }: StoreReader, id: string): Promise<LadderRow | null> {
  const [row] = await db.select().from(t.ladders).where(eq(t.ladders.id, id)).limit(1);
  return row ? toLadder(row) : null;
}

export async function getLadder(store: StoreReader, id: string): Promise<LadderRow> {
  const row = await findLadder(store, id);
  if (!row) throw new AppError('not_found', `ladder '${id}' not found`);
  return row;
}

/** Ladders that list `profileId` among their renditions, in id order. */
export async function laddersUsingProfile(store: StoreReader, profileId: string): Promise<LadderRow[]> {
  // A handful of ladders at most: filtering here keeps the query the same on both engines
  // (SQLite json_each vs PostgreSQL jsonb operators).
  return (await listLadders(store)).filter((l) => l.renditions.includes(profileId));
}

export async function createLadder({ db, t }: StoreReader, input: NewLadder, now: number): Promise<LadderRow> {
  const [row] = await db
    .insert(t.ladders)
    .values({ id: input.id, name: input.name, renditions: input.renditions, createdAt: now })
    .onConflictDoNothing()
    .returning();
  if (!row) throw new AppError('conflict', `ladder '${input.id}' already exists`);
  return toLadder(row);
}

export async function updateLadder({ db, t }: StoreReader, id: string, patch: LadderPatch): Promise<LadderRow> {
  const set: Partial<Row> = {};
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.renditions !== undefined) set.renditions = patch.renditions;
  if (Object.keys(set).length === 0) return getLadder({ db, t }, id);
  const [row] = await db.update(t.ladders).set(set).where(eq(t.ladders.id, id)).returning();
  if (!row) throw new AppError('not_found', `ladder '${id}' not found`);
  return toLadder(row);
}

export async function deleteLadder({ db, t }: StoreReader, id: string): Promise<void> {
  const res = await db.delete(t.ladders).where(eq(t.ladders.id, id)).returning({ id: t.ladders.id });
  if (res.length === 0) throw new AppError('not_found', `ladder '${id}' not found`);
}

/** The store's tables through a transaction's handle, for the checked writes in ladder-checks.ts. */
export function inTransaction(store: Store, tx: Db): StoreReader {
  return { db: tx, t: store.t };
}
