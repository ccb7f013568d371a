// Opens the SQLite file and brings its schema up to date with drizzle-kit's migrations.
import { Database } from 'bun:sqlite';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { drizzle, type BunSQLiteDatabase } from 'drizzle-orm/bun-sqlite';
import { migrate } from 'drizzle-orm/bun-sqlite/migrator';
import * as schema from '../../drizzle/schema';

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };

const MIGRATIONS_DIR = join(import.meta.dir, '..', '..', 'migrations');

/** drizzle-kit's output, carried inside a compiled coordinator (no migrations/ folder beside it). */
export interface EmbeddedMigrations {
  /** text of meta/_journal.json */
  journal: string;
  /** tag -> SQL text, one per journal entry */
  sql: Record<string, string>;
}

let embedded: EmbeddedMigrations | undefined;

/** Called by the entry that scripts/build-coordinator.ts generates, before main runs. */
export function useEmbeddedMigrations(migrations: EmbeddedMigrations): void {
  embedded = migrations;
}

/**
 * The folder drizzle's migrator reads: the repository's migrations/, or (compiled) the
 * embedded copy written to a temp folder for the call, so both paths run the same
 * migrator and bookkeeping.
 */
function withMigrationsFolder(run: (folder: string) => void): void {
  if (!embedded) return run(MIGRATIONS_DIR);
  const dir = mkdtempSync(join(tmpdir(), 'tvarr-migrations-'));
  try {
    mkdirSync(join(dir, 'meta'));
    writeFileSync(join(dir, 'meta', '_journal.json'), embedded.journal);
    for (const [tag, sql] of Object.entries(embedded.sql)) writeFileSync(join(dir, `${tag}.sql`), sql);
    run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function openDatabase(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path, { create: true, strict: true });
  // WAL lets HTTP reads proceed while the scheduler writes; the busy timeout covers
  // the rare overlap with an external reader (an operator's sqlite3 shell).
  sqlite.exec('PRAGMA journal_mode = WAL');
  sqlite.exec('PRAGMA synchronous = NORMAL');
  sqlite.exec('PRAGMA foreign_keys = ON');
  sqlite.exec('PRAGMA busy_timeout = 5000');
  const db = drizzle(sqlite, { schema }) as Db;
  withMigrationsFolder((migrationsFolder) => migrate(db, { migrationsFolder }));
  return db;
}

export { schema };
export const { sources, profiles, workers, workerEncoders, jobs, metrics } = schema;
