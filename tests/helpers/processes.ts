// Real child processes for e2e tests: JSON-line logs parsed as they arrive, waits on a
// log event (never on a fixed sleep), and cleanup that leaves nothing behind.
import type { Subprocess } from 'bun';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { withAllocatorDefaults } from '../../common/allocator-env';

export interface LogLine {
  msg?: string;
  level?: string;
  [key: string]: unknown;
}

export const BUN = process.execPath;
const ROOT = new URL('../..', import.meta.url).pathname;

export class LoggedProcess {
  readonly lines: LogLine[] = [];
  readonly rawTail: string[] = [];
  private waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  readonly exited: Promise<number>;

  constructor(
    readonly name: string,
    readonly proc: Subprocess<'ignore', 'pipe' | 'ignore', 'pipe'>,
  ) {
    this.exited = proc.exited;
    void this.pump();
  }

  get pid(): number {
    return this.proc.pid;
  }

  private async pump(): Promise<void> {
    const decoder = new TextDecoder();
    let pending = '';
    for await (const chunk of this.proc.stderr) {
      pending += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const text = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        this.rawTail.push(text);
        if (this.rawTail.length > 200) this.rawTail.shift();
        if (process.env.TEST_VERBOSE) process.stderr.write(`[${this.name}] ${text}\n`);
        let line: LogLine;
        try {
          line = JSON.parse(text) as LogLine;
        } catch {
          line = { msg: text, raw: true };
        }
        this.lines.push(line);
        for (const w of [...this.waiters]) {
          if (w.match(line)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    }
  }

  /** Resolves with the first log line (already seen, or future) that matches. */
  waitForLog(match: (l: LogLine) => boolean, timeoutMs = 30_000, from = 0): Promise<LogLine> {
    const seen = this.lines.slice(from).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (l: LogLine) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`${this.name}: timed out waiting for a log line; last lines:\n${this.rawTail.slice(-15).join('\n')}`));
      }, timeoutMs);
      this.waiters.push(waiter);
      void this.exited.then((code) => {
        if (this.waiters.includes(waiter)) {
          clearTimeout(timer);
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new Error(`${this.name} exited with ${code} before the log line; last lines:\n${this.rawTail.slice(-15).join('\n')}`));
        }
      });
    });
  }

  waitForMsg(msg: string, timeoutMs?: number, extra: (l: LogLine) => boolean = () => true): Promise<LogLine> {
    return this.waitForLog((l) => l.msg === msg && extra(l), timeoutMs);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    try {
      this.proc.kill(signal);
    } catch {
      // already gone
    }
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.kill('SIGKILL');
    await this.exited;
  }
}

export function spawnBun(name: string, script: string, env: Record<string, string>, args: string[] = []): LoggedProcess {
  const proc = Bun.spawn([BUN, script, ...args], {
    cwd: ROOT,
    // As npm start and the Docker images start them: with the allocator setting.
    env: withAllocatorDefaults({ ...process.env, TVARR_LOG_LEVEL: 'debug', ...env }),
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
  });
  return new LoggedProcess(name, proc);
}

/** Polls a condition that has no event to wait on (another process's state), with a deadline. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

/** Live (not zombie) children of `pid` whose command name is `comm`, from /proc. */
export function childrenNamed(pid: number, comm: string): number[] {
  const out: number[] = [];
  for (const entry of new Bun.Glob('[0-9]*').scanSync({ cwd: '/proc', onlyFiles: false })) {
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ..."
      const m = readFileSync(`/proc/${entry}/stat`, 'utf8').match(/^\d+ \((.*)\) (\S) (\d+)/);
      if (m && m[1] === comm && m[2] !== 'Z' && Number(m[3]) === pid) out.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for a server a test starts itself). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port from the kernel');
  return address.port;
}
