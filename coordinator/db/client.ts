// Opens the SQLite file and brings its schema up to date with drizzle-kit's migrations.
import { Database } from 'bun:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { drizzle, type BunSQLiteDatabase } from 'drizzle-orm/bun-sqlite';
import { migrate } from 'drizzle-orm/bun-sqlite/migrator';
import * as schema from '../../drizzle/schema';

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };

const MIGRATIONS_DIR = join(import.meta.dir, '..', '..', 'migrations');

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
  migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  return db;
}

export { schema };
export const { sources, profiles, workers, workerEncoders, jobs, metrics } = schema;
