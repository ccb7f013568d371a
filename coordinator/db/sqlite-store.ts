// The SQLite engine (bun:sqlite): one file, one connection, opened and migrated at start.
import { Database } from 'bun:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SQL } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/bun-sqlite';
import { migrate } from 'drizzle-orm/bun-sqlite/migrator';
import * as schema from '../../drizzle/schema';
import { withMigrationsFolder } from './migrations-folder';
import { QueryCounter } from './query-counter';
import type { Db, Store, TransactionOptions } from './store';

export type SqliteStore = Store & { readonly engine: 'sqlite'; readonly client: Database };

export function openSqliteStore(path: string): SqliteStore {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const client = new Database(path, { create: true, strict: true });
  // WAL lets HTTP reads proceed while the scheduler writes; the busy timeout covers
  // the rare overlap with an external reader (an operator's sqlite3 shell).
  client.exec('PRAGMA journal_mode = WAL');
  client.exec('PRAGMA synchronous = NORMAL');
  client.exec('PRAGMA foreign_keys = ON');
  client.exec('PRAGMA busy_timeout = 5000');
  const queries = new QueryCounter();
  const db = drizzle(client, { schema, logger: queries }) as Db;
  withMigrationsFolder('sqlite', (migrationsFolder) => migrate(db, { migrationsFolder }));

  // One connection: transactions take turns. A transaction's body awaits only queries on
  // this connection, which bun:sqlite runs synchronously when awaited, so the body runs
  // to its COMMIT without yielding to timers or I/O: no other request's query can land
  // inside it. The queue only orders transactions started in the same tick.
  let queue: Promise<unknown> = Promise.resolve();
  async function transaction<T>(fn: (db: Db) => Promise<T>, _opts?: TransactionOptions): Promise<T> {
    const turn = queue.then(async () => {
      // IMMEDIATE takes the write lock before anything is read, so a claim's read sees
      // every committed claim of any other connection (another process, a shell).
      client.exec('BEGIN IMMEDIATE');
      queries.logQuery('begin');
      try {
        const result = await fn(db);
        client.exec('COMMIT');
        return result;
      } catch (err) {
        client.exec('ROLLBACK');
        throw err;
      }
    });
    queue = turn.catch(() => undefined);
    return turn;
  }

  return {
    engine: 'sqlite',
    db,
    t: schema,
    client,
    queries,
    where: path,
    transaction,
    rows: async <T>(query: SQL) => db.all(query) as T[],
    close: async () => client.close(),
  };
}
