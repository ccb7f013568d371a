// tests/helpers/postgres.ts: one private PostgreSQL per test process, fresh databases from it,
// real password authentication, and no server left behind however the test process ends.
// Also pins the Bun.SQL behaviours a PostgreSQL store will rely on (int8 as text, transactions,
// unsafe with parameters, LISTEN/NOTIFY delivered on commit only).
import { SQL } from 'bun';
import { afterAll, expect, test } from 'bun:test';
import { readFileSync, readlinkSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sharedPostgres } from '../helpers/postgres';
import { makeTempDir } from '../helpers/media';
import { childrenNamed } from '../helpers/processes';

const temp = makeTempDir('postgres-helper');
const clients: SQL[] = [];
const leftovers: number[] = [];

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close({ timeout: 1 })));
  for (const pid of leftovers) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
  temp.cleanup();
});

function connect(url: string): SQL {
  const sql = new SQL({ url, max: 2 });
  clients.push(sql);
  return sql;
}

function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

test('the shared server is PostgreSQL 15, started once for the process', async () => {
  const server = await sharedPostgres();
  expect(await sharedPostgres()).toMatchObject({ port: server.port, pid: server.pid });
  const sql = connect(server.url('postgres'));
  const [row] = await sql`SHOW server_version`;
  expect(row.server_version).toMatch(/^15\./);
  expect(server.majorVersion).toBe(15);
});

test('each createDatabase is a database of its own: a row written in one is not in the other', async () => {
  const server = await sharedPostgres();
  const urls = [await server.createDatabase('helper-a'), await server.createDatabase('helper-a')];
  expect(new Set(urls).size).toBe(2);
  for (const [i, url] of urls.entries()) {
    const sql = connect(url);
    await sql`CREATE TABLE items (id bigserial PRIMARY KEY, label text NOT NULL)`;
    await sql`INSERT INTO items (label) VALUES (${`row in ${i}`})`;
  }
  for (const [i, url] of urls.entries()) {
    const rows = await connect(url)`SELECT id, label FROM items`;
    // bigserial is int8: Bun.SQL hands it over as a string unless the client asks for bigint.
    expect([...rows]).toEqual([{ id: '1', label: `row in ${i}` }]);
  }
});

test('a wrong password is refused (SQLSTATE 28P01 in errno) and no password appears in the error', async () => {
  const server = await sharedPostgres();
  const good = new URL(server.url('postgres'));
  const bad = new URL(good);
  bad.password = 'not-the-password';
  const sql = connect(bad.toString());
  const err = await sql`SELECT 1`.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SQL.PostgresError);
  // Bun's `code` is its own (ERR_POSTGRES_SERVER_ERROR); the server's SQLSTATE is `errno`.
  expect(err).toMatchObject({ code: 'ERR_POSTGRES_SERVER_ERROR', errno: '28P01', severity: 'FATAL' });
  const text = Bun.inspect(err);
  expect(text).toContain('password authentication failed for user "tvarr_test"');
  expect(text).not.toContain(bad.password);
  expect(text).not.toContain(good.password);
});

test('Bun.SQL: count(*) is a string (BigInt with bigint: true), begin rolls back on a throw and commits on return, unsafe takes parameters', async () => {
  const server = await sharedPostgres();
  const url = await server.createDatabase('helper-tx');
  const sql = connect(url);
  await sql`CREATE TABLE claims (id int PRIMARY KEY)`;
  await expect(
    sql.begin(async (tx) => {
      await tx`INSERT INTO claims VALUES (1)`;
      throw new Error('abandon');
    }),
  ).rejects.toThrow('abandon');
  const kept = await sql.begin(async (tx) => {
    await tx`INSERT INTO claims VALUES (2)`;
    return tx`UPDATE claims SET id = 3 WHERE id = 2 RETURNING id`;
  });
  expect([...kept]).toEqual([{ id: 3 }]);
  expect([...(await sql`SELECT count(*) AS n FROM claims`)]).toEqual([{ n: '1' }]);
  const wide = connect(url);
  const asBigint = new SQL({ url, bigint: true, max: 1 });
  clients.push(asBigint);
  expect([...(await asBigint`SELECT count(*) AS n FROM claims`)]).toEqual([{ n: 1n }]);
  expect([...(await wide.unsafe('SELECT id FROM claims WHERE id = $1', [3]))]).toEqual([{ id: 3 }]);
});

test('Bun.SQL LISTEN/NOTIFY: notify and NOTIFY are delivered, one inside a committed transaction too, one in a rolled-back transaction is not', async () => {
  const server = await sharedPostgres();
  const sql = connect(await server.createDatabase('helper-notify'));
  const got: string[] = [];
  let sawLast!: () => void;
  const last = new Promise<void>((resolve) => (sawLast = resolve));
  const subscription = await sql.listen('job_events', (payload) => {
    got.push(payload);
    if (payload === 'last') sawLast();
  });
  try {
    await sql.notify('job_events', 'plain');
    await sql`NOTIFY job_events, 'statement'`;
    await sql.begin((tx) => tx.notify('job_events', 'committed'));
    await sql.begin(async (tx) => {
      await tx.notify('job_events', 'rolled back');
      throw new Error('abandon');
    }).catch(() => {});
    await sql.notify('job_events', 'last');
    await last;
    expect(got).toEqual(['plain', 'statement', 'committed', 'last']);
  } finally {
    await subscription.unlisten();
  }
});

/** SysV shared memory segments whose creator was `pid` (a SIGKILLed postmaster leaves one). */
function segmentsCreatedBy(pid: number): string[] {
  const [, ...rows] = readFileSync('/proc/sysvipc/shm', 'utf8').trim().split('\n');
  return rows.map((row) => row.trim().split(/\s+/)).filter((cols) => Number(cols[4]) === pid).map((cols) => cols[1] ?? '');
}

/**
 * A test process of its own that starts a server, opens a connection (one backend), prints
 * {pid} and waits for its stdin to close: `bun test` of a one-test file (the runner's own way
 * of exiting), or a plain script we SIGKILL.
 */
async function startOwner(kind: 'bun-test' | 'script') {
  const path = join(temp.dir, kind === 'bun-test' ? 'owner.test.ts' : 'owner.ts');
  const body = `
    const server = await startPostgres();
    const sql = new SQL(await server.createDatabase());
    await sql\`SELECT 1\`;
    console.log(JSON.stringify({ pid: server.pid }));
    for await (const _ of Bun.stdin.stream()) void _;`;
  writeFileSync(
    path,
    `import { SQL } from 'bun';
    import { startPostgres } from ${JSON.stringify(join(import.meta.dir, '../helpers/postgres.ts'))};
    ${kind === 'bun-test' ? `import { test } from 'bun:test';\ntest('owner', async () => {${body}\n});` : body}`,
  );
  const argv = kind === 'bun-test' ? [process.execPath, 'test', path] : [process.execPath, path];
  const proc = Bun.spawn(argv, { cwd: temp.dir, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' });
  leftovers.push(proc.pid);
  const reader = proc.stdout.getReader();
  let text = '';
  // `bun test` prints its banner on stdout first.
  const printed = () => text.split('\n').find((line) => line.startsWith('{"pid"'));
  while (!printed()) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`${kind} owner exited before printing: ${text}${await new Response(proc.stderr).text()}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const { pid } = JSON.parse(printed() ?? '') as { pid: number };
  leftovers.push(pid);
  // The postmaster runs in its data directory, <server dir>/data.
  const serverDir = dirname(readlinkSync(`/proc/${pid}/cwd`));
  // The backend, the checkpointer, the WAL writer...: each must end with the postmaster.
  const children = childrenNamed(pid, 'postgres');
  leftovers.push(...children);
  expect(children.length).toBeGreaterThan(2);
  return { proc, pid, children, serverDir };
}

/** Polls /proc, as the suite's leftover check does, for at most the 2 s it grants. */
async function leftBehind(pids: number[], dir: string): Promise<{ running: number[]; dirExists: boolean }> {
  const by = Date.now() + 2000;
  while ((pids.some(isRunning) || existsSync(dir)) && Date.now() < by) await Bun.sleep(20);
  return { running: pids.filter(isRunning), dirExists: existsSync(dir) };
}

test('a bun test process that ends leaves no server, backend or directory behind within 2 s', async () => {
  const owner = await startOwner('bun-test');
  await owner.proc.stdin.end();
  expect(await owner.proc.exited).toBe(0);
  expect(await leftBehind([owner.pid, ...owner.children], owner.serverDir)).toEqual({ running: [], dirExists: false });
  expect(segmentsCreatedBy(owner.pid)).toEqual([]);
});

test('a SIGKILLed test process leaves no server, backend or directory behind within 2 s', async () => {
  const owner = await startOwner('script');
  owner.proc.kill('SIGKILL');
  await owner.proc.exited;
  expect(await leftBehind([owner.pid, ...owner.children], owner.serverDir)).toEqual({ running: [], dirExists: false });
  expect(segmentsCreatedBy(owner.pid)).toEqual([]);
});

test('stop() shuts the server down cleanly and removes its directory', async () => {
  const server = await sharedPostgres();
  const serverDir = dirname(readlinkSync(`/proc/${server.pid}/cwd`));
  const children = childrenNamed(server.pid, 'postgres');
  await server.stop();
  expect([server.pid, ...children].filter(isRunning)).toEqual([]);
  expect(existsSync(serverDir)).toBe(false);
  expect(segmentsCreatedBy(server.pid)).toEqual([]);
  expect((await sharedPostgres()).pid).not.toBe(server.pid); // the next caller gets a fresh one
});
