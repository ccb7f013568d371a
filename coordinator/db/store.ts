// The coordinator's durable state behind one async interface, on SQLite (the zero-setup
// default) or PostgreSQL (TVARR_DATABASE_URL). Store functions (catalog-store.ts,
// job-store.ts, worker-store.ts, ...) are written once against this interface:
//
// - `db` is a drizzle database and `t` this engine's tables (drizzle/schema.ts for SQLite,
//   drizzle/schema.pg.ts for PostgreSQL: same table and column names, same meaning).
//   Both are typed as the SQLite ones, the query-builder surface the two dialects share.
//   Every query is awaited; `.get()`, `.all()` and `.run()` exist on SQLite only and are
//   never used in store code (tests/unit/store-portable-queries.test.ts checks).
// - `transaction` runs a function in one transaction; `{ claim: true }` also serializes it
//   with every other claim on the same database, from any coordinator process (scheduler
//   claims, and the catalog writes that keep ladder and profile ids apart, which a
//   unique index cannot do across two tables).
// - `rows` runs a hand-written statement (views, EXCEPT) and returns plain rows.
import type { SQL } from 'drizzle-orm';
import type { BunSQLiteDatabase } from 'drizzle-orm/bun-sqlite';
import type * as sqliteSchema from '../../drizzle/schema';
import type { QueryCounter } from './query-counter';

export type Engine = 'sqlite' | 'postgres';
export type Tables = typeof sqliteSchema;
export type Db = BunSQLiteDatabase<Tables>;

export interface TransactionOptions {
  /** A scheduler claim: serialized with every other claim on this database (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock). */
  claim?: boolean;
}

export interface Store {
  readonly engine: Engine;
  readonly db: Db;
  readonly t: Tables;
  transaction<T>(fn: (db: Db) => Promise<T>, opts?: TransactionOptions): Promise<T>;
  rows<T = Record<string, unknown>>(query: SQL): Promise<T[]>;
  /** Statements sent so far (reads, writes). */
  readonly queries: QueryCounter;
  /** Where the state lives, for the log: a path, or host:port/database (never a password). */
  readonly where: string;
  close(): Promise<void>;
}

/** What a store function reads and writes through: the store itself, or its tables through a transaction's handle. */
export type StoreReader = Pick<Store, 'db' | 't'>;
