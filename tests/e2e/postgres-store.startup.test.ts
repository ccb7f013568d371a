// The coordinator on PostgreSQL (TVARR_DATABASE_URL), started as an operator would: a
// wrong password or an unreachable server stops it at start with one line naming the
// variable and never the password; several coordinators started at once on one empty
// database migrate it once, without errors, and share one generated admin token.
import { afterAll, describe, expect, test } from 'bun:test';
import { SQL } from 'bun';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sharedPostgres } from '../helpers/postgres';
import { BUN, spawnBun, type LoggedProcess } from '../helpers/processes';
import { makeTempDir } from '../helpers/media';

const ROOT = new URL('../..', import.meta.url).pathname;
const temp = makeTempDir('pg-startup');
const procs: LoggedProcess[] = [];

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  temp.cleanup();
});

/** Runs the coordinator to its exit; resolves with its exit code and stderr. */
async function runToExit(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const proc = Bun.spawn([BUN, 'coordinator/main.ts'], {
    cwd: ROOT,
    // The allocator settings npm start sets, so the only stderr line is the one under test.
    env: { ...process.env, MIMALLOC_PURGE_DELAY: '10000', MIMALLOC_PURGE_HOLES: '0', TVARR_HTTP_PORT: '0', TVARR_GRPC_PORT: '0', TVARR_DATABASE_PATH: `${temp.dir}/unused.db`, ...env },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
  const [code, stderr, stdout] = await Promise.all([proc.exited, new Response(proc.stderr).text(), new Response(proc.stdout).text()]);
  clearTimeout(timer);
  return { code, stderr: stderr + stdout };
}

describe('coordinator on PostgreSQL: start-up', () => {
  test('a wrong password: exit 1 with one line naming TVARR_DATABASE_URL, never the password', async () => {
    const pg = await sharedPostgres();
    const good = new URL(await pg.createDatabase());
    const secret = 'Wr0ng-Secret-4711';
    good.password = secret;
    const { code, stderr } = await runToExit({ TVARR_DATABASE_URL: good.toString() });
    expect(code).toBe(1);
    expect(stderr).toContain('TVARR_DATABASE_URL');
    expect(stderr).not.toContain(secret);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/password|auth/i);
  }, 90_000);

  test('an unreachable server: exit 1 naming TVARR_DATABASE_URL and where, never the password', async () => {
    // A port nothing listens on: bind one, read its number, close it.
    const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
    const port = probe.port;
    probe.stop(true);
    const { code, stderr } = await runToExit({ TVARR_DATABASE_URL: `postgres://tvarr:Hidden-Pass-99@127.0.0.1:${port}/tvarr` });
    expect(code).toBe(1);
    expect(stderr).toContain('TVARR_DATABASE_URL');
    expect(stderr).toContain(`127.0.0.1:${port}/tvarr`);
    expect(stderr).not.toContain('Hidden-Pass-99');
  }, 90_000);

  test('a malformed URL is a config error that does not echo it', async () => {
    const { code, stderr } = await runToExit({ TVARR_DATABASE_URL: 'postgres://user:Very Secret@host/db' });
    expect(code).toBe(1);
    expect(stderr).toContain('TVARR_DATABASE_URL');
    expect(stderr).not.toContain('Very Secret');
  }, 90_000);

  test('three coordinators started at once on one empty database: each migration applied once, all serve, one admin token', async () => {
    const pg = await sharedPostgres();
    const url = await pg.createDatabase();
    const started = Array.from({ length: 3 }, (_, i) =>
      spawnBun(`coord-${i}`, 'coordinator/main.ts', {
        TVARR_DATABASE_URL: url,
        TVARR_DATABASE_PATH: `${temp.dir}/c${i}/unused.db`,
        TVARR_HTTP_HOST: '127.0.0.1',
        TVARR_HTTP_PORT: '0',
        TVARR_GRPC_HOST: '127.0.0.1',
        TVARR_GRPC_PORT: '0',
      }),
    );
    procs.push(...started);
    const ready = await Promise.all(started.map((p) => p.waitForMsg('coordinator listening', 60_000)));
    expect(ready.every((r) => r.engine === 'postgres')).toBe(true);
    // Exactly one of them generated the token; the others found its digest.
    expect(ready.map((r) => r.adminToken).sort()).toEqual(['database', 'database', 'generated']);
    for (const p of started) expect(p.lines.filter((l) => l.level === 'error')).toEqual([]);

    const sql = new SQL(url);
    try {
      const applied = await sql`select hash from drizzle.__drizzle_migrations`;
      const files = readdirSync(join(ROOT, 'migrations-pg')).filter((f) => f.endsWith('.sql'));
      expect(applied.length).toBe(files.length);
      expect(new Set(applied.map((r: { hash: string }) => r.hash)).size).toBe(files.length);
      const [settings] = await sql`select count(*)::int as n from settings where key = 'admin_token_sha256'`;
      expect(settings.n).toBe(1);
      // The database holds a digest, not a token: 64 hex characters.
      const [row] = await sql`select value from settings where key = 'admin_token_sha256'`;
      expect(row.value).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      await sql.close();
    }
    // A write made through one coordinator is read through another.
    const [a, b] = ready.map((r) => `http://127.0.0.1:${r.httpPort}`);
    const res = await fetch(`${b}/api/sources`);
    expect(res.status).toBe(200);
    expect(Array.isArray(await res.json())).toBe(true);
    expect((await fetch(`${a}/api/sources`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
  }, 120_000);
});
