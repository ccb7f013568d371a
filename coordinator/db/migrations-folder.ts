// Where drizzle's migrator reads migrations: the repository's folder for the engine, or
// (in a compiled coordinator, which has no folders beside it) the embedded copy written
// to a temp folder for the call, so both paths run the same migrator and bookkeeping.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from './store';

const FOLDERS: Record<Engine, string> = {
  sqlite: join(import.meta.dir, '..', '..', 'migrations'),
  postgres: join(import.meta.dir, '..', '..', 'migrations-pg'),
};

/** drizzle-kit's output, carried inside a compiled coordinator. */
export interface EmbeddedMigrations {
  /** text of meta/_journal.json */
  journal: string;
  /** tag -> SQL text, one per journal entry */
  sql: Record<string, string>;
}

const embedded: Partial<Record<Engine, EmbeddedMigrations>> = {};

/** Called by the entry that scripts/build-coordinator.ts generates, before main runs. */
export function useEmbeddedMigrations(engine: Engine, migrations: EmbeddedMigrations): void {
  embedded[engine] = migrations;
}

export function withMigrationsFolder<T>(engine: Engine, run: (folder: string) => T): T {
  const copy = embedded[engine];
  if (!copy) return run(FOLDERS[engine]);
  const dir = mkdtempSync(join(tmpdir(), 'tvarr-migrations-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    mkdirSync(join(dir, 'meta'));
    writeFileSync(join(dir, 'meta', '_journal.json'), copy.journal);
    for (const [tag, sql] of Object.entries(copy.sql)) writeFileSync(join(dir, `${tag}.sql`), sql);
    const result = run(dir);
    if (result instanceof Promise) {
      result.then(cleanup, cleanup);
      return result;
    }
    cleanup();
    return result;
  } catch (err) {
    cleanup();
    throw err;
  }
}
