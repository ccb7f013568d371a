// Runs tests/helpers/fake-fleet.ts as a child process and follows its JSON event lines.
import { readJsonLines } from './json-lines';
import { BUN } from './processes';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface FleetEvent {
  event: 'started' | 'registered' | 'heartbeats' | 'lost' | 'silent';
  count?: number;
  total?: number;
  workerId?: string;
  reason?: string;
}

export class FleetProcess {
  readonly events: FleetEvent[] = [];
  private waiters: { match: (e: FleetEvent) => boolean; resolve: (e: FleetEvent) => void }[] = [];
  readonly proc: ReturnType<typeof Bun.spawn>;

  constructor(coordinator: string, count: number, prefix = 'fleet', extraArgs: string[] = []) {
    this.proc = Bun.spawn([BUN, 'tests/helpers/fake-fleet.ts', `--coordinator=${coordinator}`, `--count=${count}`, `--prefix=${prefix}`, ...extraArgs], {
      cwd: ROOT,
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'inherit',
    });
    void this.read();
  }

  private async read(): Promise<void> {
    await readJsonLines(this.proc.stdout as ReadableStream<Uint8Array>, (o) => {
      const e = o as unknown as FleetEvent;
      // Keep the log bounded: lost events are the interesting ones.
      if (e.event !== 'heartbeats' || this.events.length < 10_000) this.events.push(e);
      for (const w of [...this.waiters]) if (w.match(e)) this.waiters.splice(this.waiters.indexOf(w), 1), w.resolve(e);
    });
  }

  /** Resolves with the first event (from now on, or already seen when `seen` is true) that matches. */
  waitFor(match: (e: FleetEvent) => boolean, timeoutMs = 120_000, seen = true): Promise<FleetEvent> {
    const found = seen ? this.events.find(match) : undefined;
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const last = this.events.filter((e) => e.event !== 'heartbeats').slice(-3);
        reject(new Error(`fleet event not seen within ${timeoutMs} ms; last events ${JSON.stringify(last)}, lost ${this.lost().length}`));
      }, timeoutMs);
      this.waiters.push({ match, resolve: (e) => (clearTimeout(timer), resolve(e)) });
    });
  }

  lost(): FleetEvent[] {
    return this.events.filter((e) => e.event === 'lost');
  }

  /** Every worker stops heartbeating and answering pings; connections stay up (fake-fleet.ts, SIGUSR1). */
  async silence(): Promise<void> {
    this.proc.kill('SIGUSR1');
    await this.waitFor((e) => e.event === 'silent', 10_000);
  }

  async kill(signal: 'SIGKILL' | 'SIGSTOP' = 'SIGKILL'): Promise<void> {
    this.proc.kill(signal);
    if (signal === 'SIGKILL') await this.proc.exited;
  }
}
