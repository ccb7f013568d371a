// Store code runs on both engines (coordinator/db/store.ts): every drizzle query is
// awaited, never finished with SQLite's synchronous .get(), .all() or .run(), which do
// not exist on PostgreSQL's builders and would fail only there, at run time.
import { expect, test } from 'bun:test';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const COORDINATOR = new URL('../../coordinator', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

test('no coordinator source finishes a query with .get(), .all() or .run()', () => {
  const offenders: string[] = [];
  for (const file of sources(COORDINATOR)) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (/^\s*(\/\/|\*)/.test(line)) return; // comments may name them
      if (/\.(get|all|run)\(\)/.test(line)) offenders.push(`${file.slice(COORDINATOR.length + 1)}:${i + 1}: ${line.trim()}`);
    });
  }
  expect(offenders).toEqual([]);
});

test('store code reaches tables through the store (store.t), not a dialect-specific import', () => {
  const offenders = sources(COORDINATOR)
    .filter((f) => !f.includes('/db/'))
    .filter((f) => /from '(\.\.\/)+(\.\.\/)?drizzle\/schema(\.pg)?'/.test(readFileSync(f, 'utf8')));
  expect(offenders).toEqual([]);
});
