// The PostgreSQL engine (TVARR_DATABASE_URL), on Bun's built-in client (Bun.SQL) through
// drizzle-orm/bun-sql: no native addon, pooled connections, prepared statements cached
// per connection by the client. Supported: PostgreSQL 13 and later (tested on 15, Debian 12);
// the schema needs hashtextextended (11+) and EXECUTE FUNCTION triggers (11+).
import { SQL } from 'bun';
import { sql, type SQL as Query } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/bun-sql';
import { migrate } from 'drizzle-orm/bun-sql/migrator';
import * as schema from '../../drizzle/schema.pg';
import { withMigrationsFolder } from './migrations-folder';
import { QueryCounter } from './query-counter';
import type { Db, Store, Tables, TransactionOptions } from './store';

// Advisory lock keys (any constant bigint; these spell "tvarr" + purpose).
const MIGRATION_LOCK = 0x7476_6172_6d69_67n; // "tvarrmig"
const CLAIM_LOCK = 0x7476_6172_636c_6dn; // "tvarrclm"

export class StoreOpenError extends Error {}

/** drizzle's PostgreSQL databases run raw statements with execute(), not SQLite's run()/all(). */
interface PgExecute {
  execute(query: Query): Promise<unknown[]>;
}

/** host:port/database of a URL, never its user or password (for logs and errors). */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(an unparsable URL)';
  }
}

/** An error's text without anything the URL carried as a secret. */
function redact(message: string, url: string): string {
  let out = message;
  try {
    const u = new URL(url);
    if (u.password) out = out.split(decodeURIComponent(u.password)).join('***').split(u.password).join('***');
  } catch {
    // nothing to redact from an unparsable URL
  }
  return out;
}

export async function openPostgresStore(url: string, opts: { maxConnections?: number } = {}): Promise<Store> {
  const where = describeDatabaseUrl(url);
  let client: SQL;
  try {
    client = new SQL({ url, max: opts.maxConnections ?? 10, idleTimeout: 60, connectionTimeout: 10 });
  } catch (err) {
    throw new StoreOpenError(`TVARR_DATABASE_URL: ${redact(err instanceof Error ? err.message : String(err), url)}`);
  }
  try {
    await migrateOnce(client);
  } catch (err) {
    await client.close().catch(() => {});
    const e = err as Error & { code?: string; errno?: string };
    const code = e.errno ?? e.code;
    throw new StoreOpenError(`TVARR_DATABASE_URL: cannot use the database at ${where}: ${redact(e.message, url)}${code ? ` (${code})` : ''}`);
  }
  const queries = new QueryCounter();
  const db = drizzle({ client, schema, logger: queries }) as unknown as Db;

  async function transaction<T>(fn: (db: Db) => Promise<T>, o?: TransactionOptions): Promise<T> {
    return (db as unknown as { transaction: (f: (tx: Db) => Promise<T>) => Promise<T> }).transaction(async (tx) => {
      // READ COMMITTED: every statement after the lock sees every claim committed before
      // it was granted, so no two claims can both take a worker's last slot.
      queries.logQuery('begin');
      if (o?.claim) await (tx as unknown as PgExecute).execute(sql`select pg_advisory_xact_lock(${CLAIM_LOCK})`);
      return fn(tx);
    });
  }

  return {
    engine: 'postgres',
    db,
    t: schema as unknown as Tables,
    where,
    queries,
    transaction,
    rows: async <T>(query: Query) => (await (db as unknown as PgExecute).execute(query)) as T[],
    close: () => client.close(),
  };
}

/**
 * drizzle-kit's migrations, applied once however many coordinators start at the same
 * time: a session advisory lock on one reserved connection serializes them, and the
 * ones that wait find the journal up to date. (Without it, two first starts race on
 * CREATE SCHEMA and fail.) The lock ends with the connection if this process dies.
 */
async function migrateOnce(client: SQL): Promise<void> {
  const conn = await client.reserve();
  try {
    await conn`select pg_advisory_lock(${MIGRATION_LOCK})`;
    try {
      await withMigrationsFolder('postgres', (migrationsFolder) => migrate(drizzle({ client: conn as unknown as SQL }), { migrationsFolder }));
    } finally {
      await conn`select pg_advisory_unlock(${MIGRATION_LOCK})`;
    }
  } finally {
    conn.release();
  }
}
