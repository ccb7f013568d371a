// A private PostgreSQL server for the test process, and fresh databases on it.
//
// Why a real server: SQL that must hold under concurrent writers is proven only against the
// engine itself (graphile-worker's lesson). Bun runs every test file in one process, so one
// server per process is one per suite run: sharedPostgres() starts it once and each test file
// takes its own databases from it (createDatabase), so files never see each other's rows.
//
// Passwords are real: initdb makes the superuser `tvarr_test` with a random password and
// scram-sha-256 on TCP (the only way tests connect), so a wrong password is refused as it is
// in production. The Unix socket (trust) sits in the server's private 0700 directory.
//
// Lifetime: nothing may outlive the test process (scripts/test.mjs fails the suite on any
// process carrying its TVARR_TEST_RUN marker, which the server inherits with the rest of the
// environment). Bun's test runner exits without emitting process 'exit' (1.4.4: no 'exit', no
// 'beforeExit'; only afterAll runs, per file), so no hook in this process can be relied on:
// - The kernel SIGKILLs the postmaster the moment this process ends, however it ends
//   (PR_SET_PDEATHSIG, set by setpriv after it drops to the postgres user, since a uid change
//   clears it); its backends exit on postmaster death.
// - A janitor (a shell holding the read end of a pipe from us) then removes what a SIGKILLed
//   server leaves: its directory and its SysV segment.
// - stop() is the clean way, for a test that wants the server gone sooner: immediate shutdown
//   (SIGQUIT: the postmaster ends its children, waits for them, frees its shared memory).
// PostgreSQL refuses to run as root: as root (CI) initdb and postgres run as the `postgres`
// OS user, which owns the directory; as anyone else, as themselves.
import { SQL, type Subprocess } from 'bun';
import { randomBytes } from 'node:crypto';
import { chownSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dieWithParentArgv } from '../../common/spawn-guard';
import { freePort } from './processes';

export const PG_TEST_USER = 'tvarr_test';
const DIR_PREFIX = 'tvarr-pg-';
const READY_TIMEOUT_MS = 30_000;
const SHUTDOWN_WAIT_MS = 5_000;

// $1: the server's directory. Runs as root when we are (the directory is postgres's).
// Ignores the terminal's Ctrl-C, which reaches it with the test process. Waits for our end of
// its stdin to close (we exited, were killed, or stop() finished), then cleans up. The
// segment id is line 7 of postmaster.pid ("key id"); ipcrm of one still attached marks it
// for removal at its last detach, of one already gone fails: either is fine.
const JANITOR = `trap '' INT TERM HUP
cat >/dev/null
segment=$(sed -n 7p "$1/data/postmaster.pid" 2>/dev/null | awk '{print $2}')
[ -n "$segment" ] && ipcrm -m "$segment" 2>/dev/null
rm -rf "$1"`;

export interface PgServer {
  readonly port: number;
  /** The postmaster's pid: a test may SIGKILL it to see an outage. */
  readonly pid: number;
  /** Major version of the server binaries, e.g. 15. */
  readonly majorVersion: number;
  /** postgres://tvarr_test:PASSWORD@127.0.0.1:PORT/<database> */
  url(database: string): string;
  /** CREATE DATABASE with a name no other call on this server gets; resolves with its url. */
  createDatabase(name?: string): Promise<string>;
  /** Immediate shutdown, then removes the data directory. Idempotent. */
  stop(): Promise<void>;
}

/** The newest /usr/lib/postgresql/<major>/bin that has a postgres binary (Debian's layout). */
export function findPostgresBinDir(root = '/usr/lib/postgresql'): { binDir: string; major: number } {
  let majors: number[] = [];
  try {
    majors = readdirSync(root)
      .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'postgres')))
      .map(Number)
      .sort((a, b) => b - a);
  } catch {
    // no such directory: reported below
  }
  const major = majors[0];
  if (major === undefined) {
    throw new Error(`PostgreSQL is not installed: no ${root}/<version>/bin/postgres (Debian: apt-get install postgresql)`);
  }
  return { binDir: join(root, String(major), 'bin'), major };
}

interface OsUser {
  uid: number;
  gid: number;
}

/** The `postgres` OS user when we are root (PostgreSQL refuses root), else null: run as ourselves. */
function serverOsUser(): OsUser | null {
  if (process.getuid?.() !== 0) return null;
  const id = (flag: string) => Bun.spawnSync(['id', flag, 'postgres'], { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  const uid = id('-u');
  const gid = id('-g');
  if (uid.exitCode !== 0 || gid.exitCode !== 0) {
    throw new Error('running as root, and PostgreSQL refuses root, but there is no `postgres` OS user to run it as (the postgresql package creates it)');
  }
  return { uid: Number(uid.stdout.toString().trim()), gid: Number(gid.stdout.toString().trim()) };
}

/** argv run as `user` (setpriv execs, so the pid is the command's), SIGKILLed if we die. */
function serverArgv(user: OsUser | null, argv: string[]): string[] {
  if (!user) return dieWithParentArgv(argv);
  return dieWithParentArgv([
    'setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups',
    // Again after the uid change, which clears the one the outer guard set.
    '--pdeathsig', 'KILL', '--', ...argv,
  ]);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function logTail(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

async function initDataDir(binDir: string, user: OsUser | null, root: string, dataDir: string, password: string): Promise<void> {
  const pwfile = join(root, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (user) chownSync(pwfile, user.uid, user.gid);
  const proc = Bun.spawn(
    serverArgv(user, [
      join(binDir, 'initdb'), '-D', dataDir, '-U', PG_TEST_USER, `--pwfile=${pwfile}`,
      '--auth-host=scram-sha-256', '--auth-local=trust',
      // C collation: the same text order on every machine; --no-sync: nothing here must survive a crash.
      '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions',
    ]),
    { cwd: root, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' },
  );
  const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  rmSync(pwfile, { force: true });
  if (code !== 0) throw new Error(`initdb failed (exit ${code}): ${`${err}\n${out}`.trim().slice(-2000)}`);
}

async function isReady(binDir: string, port: number): Promise<boolean> {
  const probe = Bun.spawn([join(binDir, 'pg_isready'), '-q', '-h', '127.0.0.1', '-p', String(port), '-t', '1'], {
    stdin: 'ignore', stdout: 'ignore', stderr: 'ignore',
  });
  return (await probe.exited) === 0;
}

/** Immediate shutdown, waited for; SIGKILL if it stalls (its children then end on their own). */
async function shutDown(proc: Subprocess): Promise<void> {
  signal(proc.pid, 'SIGQUIT');
  const timer = setTimeout(() => signal(proc.pid, 'SIGKILL'), SHUTDOWN_WAIT_MS);
  await proc.exited;
  clearTimeout(timer);
}

/** Starts postmaster on `port`; resolves once it accepts connections, or null if the port was taken. */
async function launch(binDir: string, user: OsUser | null, root: string, port: number): Promise<Subprocess | null> {
  const logPath = join(root, 'postgres.log');
  const log = openSync(logPath, 'a');
  const proc = Bun.spawn(
    serverArgv(user, [
      join(binDir, 'postgres'), '-D', join(root, 'data'), '-p', String(port), '-k', root, '-h', '127.0.0.1',
      // Speed over durability: a test database dies with its process anyway.
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      // Dynamic shared memory as files in the data directory, removed with it (not /dev/shm).
      '-c', 'dynamic_shared_memory_type=mmap',
    ]),
    { cwd: root, stdin: 'ignore', stdout: log, stderr: log },
  );
  closeSync(log);
  proc.unref(); // a script that never calls stop() may still exit; the kernel ends the server
  // No event says "ready" (the log line is not a contract): poll, as pg_ctl -w does.
  for (const by = Date.now() + READY_TIMEOUT_MS; ; ) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      const tail = logTail(logPath);
      if (/could not (bind|create listen socket)|Address already in use/i.test(tail)) return null;
      throw new Error(`postgres exited (${proc.exitCode ?? proc.signalCode}) before accepting connections:\n${tail}`);
    }
    if (await isReady(binDir, port)) return proc;
    if (Date.now() > by) {
      await shutDown(proc);
      throw new Error(`postgres did not accept connections on 127.0.0.1:${port} within ${READY_TIMEOUT_MS} ms:\n${logTail(logPath)}`);
    }
    await Bun.sleep(20);
  }
}

function databaseName(prefix: string, n: number): string {
  const base = prefix.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^[^a-z_]/, 'd$&').slice(0, 50) || 'test';
  return `${base}_${n}`;
}

export async function startPostgres(): Promise<PgServer> {
  const { binDir, major } = findPostgresBinDir();
  const user = serverOsUser();
  const root = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  // First, so that whatever happens from here on, the directory goes when we do.
  const janitor = Bun.spawn(['sh', '-c', JANITOR, 'postgres-janitor', root], { stdin: 'pipe', stdout: 'ignore', stderr: 'ignore' });
  janitor.unref();
  const cleanUp = async () => {
    await janitor.stdin.end();
    await janitor.exited;
  };
  let server: Subprocess | null = null;
  let port = 0;
  const password = randomBytes(18).toString('base64url');
  try {
    if (user) chownSync(root, user.uid, user.gid);
    await initDataDir(binDir, user, root, join(root, 'data'), password);
    // The port is free when we look and may be taken before postgres binds it: try another.
    for (let attempt = 0; attempt < 5 && !server; attempt++) {
      port = await freePort();
      server = await launch(binDir, user, root, port);
    }
    if (!server) throw new Error(`postgres could not bind a free port in 5 tries:\n${logTail(join(root, 'postgres.log'))}`);
  } catch (err) {
    await cleanUp();
    throw err;
  }
  const postmaster = server;
  const url = (database: string) => `postgres://${PG_TEST_USER}:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  // One connection: CREATE DATABASE copies template1 and fails while another session uses it.
  const admin = new SQL({ url: url('postgres'), max: 1 });
  let created = 0;
  let stopping: Promise<void> | undefined;
  return {
    port,
    pid: postmaster.pid,
    majorVersion: major,
    url,
    async createDatabase(name = 'test') {
      const database = databaseName(name, ++created);
      await admin.unsafe(`CREATE DATABASE "${database}"`);
      return url(database);
    },
    stop() {
      stopping ??= (async () => {
        await admin.close({ timeout: 1 }).catch(() => {});
        await shutDown(postmaster);
        await cleanUp();
      })();
      return stopping;
    },
  };
}

let shared: Promise<PgServer> | undefined;

/** The test process's one server, started on first use; it ends with the process. */
export function sharedPostgres(): Promise<PgServer> {
  shared ??= startPostgres().then(
    // A test that stops the shared server makes the next caller start a fresh one.
    (server) => ({ ...server, stop: () => ((shared = undefined), server.stop()) }),
    (err: unknown) => {
      shared = undefined;
      throw err;
    },
  );
  return shared;
}
