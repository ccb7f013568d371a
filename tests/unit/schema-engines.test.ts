// drizzle/schema.ts (SQLite) and drizzle/schema.pg.ts (PostgreSQL) describe one state: the
// store functions are written once against both (coordinator/db/store.ts), so every table,
// column (TypeScript key and SQL name), nullability and primary key must be the same.
import { expect, test } from 'bun:test';
import { getTableConfig as pgConfig, PgTable } from 'drizzle-orm/pg-core';
import { getTableConfig as sqliteConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import * as pg from '../../drizzle/schema.pg';
import * as sqlite from '../../drizzle/schema';

type Shape = { name: string; columns: Record<string, { sql: string; notNull: boolean; primary: boolean }>; primaryKey: string[]; indexes: string[] };

function shapeOf(config: { name: string; columns: { name: string; notNull: boolean; primary: boolean }[]; primaryKeys: { columns: { name: string }[] }[]; indexes: { config: { name: string } }[] }, table: Record<string, unknown>): Shape {
  const keyOf = new Map(Object.entries(table).flatMap(([k, v]) => (v && typeof v === 'object' && 'name' in v ? [[(v as { name: string }).name, k]] : [])));
  return {
    name: config.name,
    columns: Object.fromEntries(config.columns.map((c) => [keyOf.get(c.name) ?? c.name, { sql: c.name, notNull: c.notNull, primary: c.primary }])),
    primaryKey: config.primaryKeys.flatMap((p) => p.columns.map((c) => c.name)),
    indexes: config.indexes.map((i) => i.config.name).sort(),
  };
}

test('both engines have the same tables, columns, nullability, primary keys and index names', () => {
  const sqliteTables = Object.entries(sqlite).filter(([, v]) => v instanceof SQLiteTable);
  const pgTables = Object.entries(pg).filter(([, v]) => v instanceof PgTable);
  expect(pgTables.map(([k]) => k).sort()).toEqual(sqliteTables.map(([k]) => k).sort());
  for (const [key, table] of sqliteTables) {
    const other = (pg as Record<string, unknown>)[key] as PgTable;
    const a = shapeOf(sqliteConfig(table as SQLiteTable) as never, table as unknown as Record<string, unknown>);
    const b = shapeOf(pgConfig(other) as never, other as unknown as Record<string, unknown>);
    expect({ table: key, ...b }).toEqual({ table: key, ...a });
  }
});
