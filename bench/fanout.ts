// Fan-out: one live 5 Mbit/s variant to 10, 100 and 500 concurrent HTTP clients.
// The clients run in a separate process (a "swarm", this file with --swarm) so the
// coordinator's CPU and RSS are its own, and the swarm's own CPU is reported too: a
// saturated swarm would look like clients falling behind.
//
// A client keeps up when, over the measuring window, it received at least 97% of the
// bytes the worker produced in that window (window edges cost up to one chunk).
import type { Subprocess } from 'bun';
import { startLoopingTsServer } from '../tests/helpers/looping-ts-server';
import { BUN } from '../tests/helpers/processes';
import { benchCluster, type Clip, CpuMeter, ensureClip, percentile, procRssBytes } from './common';

export interface FanoutRow {
  clients: number;
  connected: number;
  producedMbps: number;
  coordinatorCores: number;
  coordinatorRssMB: number;
  swarmCores: number;
  /** per-client received / produced over the window */
  minShare: number;
  p50Share: number;
  behind: number;
}

export interface FanoutResult {
  clip: Clip;
  windowS: number;
  baseRssMB: number;
  rows: FanoutRow[];
}

interface VariantsView {
  live: { sourceId: string; clients: number; job: { bytesOut: number } | null }[];
}

// ---------------------------------------------------------------- swarm (child process)

async function swarm(url: string, n: number): Promise<void> {
  const bytes = new Array<number>(n).fill(0);
  let connected = 0;
  const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
  // Connect in batches, as viewers would arrive, not 500 SYNs at once.
  const connectOne = async (i: number) => {
      const res = await fetch(url);
      if (res.status !== 200) throw new Error(`client ${i}: ${res.status} ${await res.text()}`);
      connected++;
      const r = res.body!.getReader();
      readers.push(r);
      void (async () => {
        for (;;) {
          const { done, value } = await r.read().catch(() => ({ done: true as const, value: undefined }));
          if (done) return;
          bytes[i]! += value.byteLength;
        }
      })();
  };
  for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, k) => connectOne(i + k)));
  process.stdout.write(JSON.stringify({ connected }) + '\n');
  // The parent asks for a snapshot ("mark\n") at the window's start and end.
  for await (const line of console) {
    if (line.trim() === 'mark') process.stdout.write(JSON.stringify({ bytes }) + '\n');
    if (line.trim() === 'quit') break;
  }
  for (const r of readers) void r.cancel().catch(() => {});
  process.exit(0);
}

if (import.meta.main && process.argv[2] === '--swarm') {
  await swarm(process.argv[3]!, Number(process.argv[4]));
}

class SwarmHandle {
  private buffered = '';
  private readonly lines: string[] = [];
  private waiter: (() => void) | null = null;
  readonly proc: Subprocess<'pipe', 'pipe', 'inherit'>;

  constructor(url: string, n: number) {
    // Bun's fetch allows 256 connections at once by default.
    const proc = Bun.spawn([BUN, import.meta.path, '--swarm', url, String(n)], {
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'inherit',
      env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: String(Math.max(256, n + 16)) },
    });
    this.proc = proc;
    void (async () => {
      const dec = new TextDecoder();
      for await (const chunk of proc.stdout) {
        this.buffered += dec.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = this.buffered.indexOf('\n')) >= 0) {
          this.lines.push(this.buffered.slice(0, nl));
          this.buffered = this.buffered.slice(nl + 1);
          this.waiter?.();
        }
      }
      this.waiter?.();
    })();
  }

  async next<T>(timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.proc.exitCode !== null) throw new Error(`swarm exited with ${this.proc.exitCode}`);
      if (Date.now() > deadline) throw new Error('swarm: no answer');
      await Promise.race([new Promise<void>((r) => (this.waiter = r)), Bun.sleep(200)]);
    }
    return JSON.parse(this.lines.shift()!) as T;
  }

  send(cmd: string): void {
    this.proc.stdin.write(cmd + '\n');
    void this.proc.stdin.flush();
  }

  async stop(): Promise<void> {
    this.send('quit');
    await Promise.race([this.proc.exited, Bun.sleep(3000)]);
    this.proc.kill('SIGKILL');
    await this.proc.exited;
  }
}

// ---------------------------------------------------------------- benchmark

export async function benchFanout(o: { quick: boolean; log: (s: string) => void }): Promise<FanoutResult> {
  // ~5 Mbit/s in all, served at real time. Long enough never to wrap during the run (the
  // looping server restarts the file, and timestamps going back stall an FFmpeg with -copyts).
  const clip = await ensureClip('fanout', { size: '1280x720', seconds: 90, kbps: 4500, gop: 50 });
  const windowS = o.quick ? 4 : 10;
  const cluster = benchCluster({ TVARR_MAX_CLIENTS_PER_VARIANT: '1000', TVARR_MAX_CLIENTS: '2000' });
  const source = startLoopingTsServer(clip.path, clip.seconds);
  const rows: FanoutRow[] = [];
  let baseRssMB = NaN;
  try {
    await cluster.startCoordinator();
    await cluster.startWorker('fanout');
    await cluster.createSource('live5', source.url);
    await cluster.createProfile({ id: 'remux', name: 'remux', videoCodec: 'copy', audioCodec: 'copy', width: 0, height: 0, videoBitrateKbps: 0, gopFrames: 0 });
    const pid = cluster.coordinator.proc.pid;
    baseRssMB = procRssBytes(pid) / 1e6;
    const url = `${cluster.coordinator.httpUrl}/stream/live5/remux`;
    // One reader keeps the variant up between levels (counted in none of them).
    const keeper = (await fetch(url)).body!.getReader();
    void (async () => {
      for (;;) if ((await keeper.read().catch(() => ({ done: true }))).done) return;
    })();
    await Bun.sleep(1000);
    for (const n of o.quick ? [10, 100, 500] : [10, 100, 500]) {
      o.log(`fan-out: ${n} clients`);
      const s = new SwarmHandle(url, n);
      const { connected } = await s.next<{ connected: number }>();
      await Bun.sleep(1500); // every client past its join burst (it starts at the latest keyframe)
      const produced0 = await producedBytes();
      const cm = new CpuMeter(pid);
      const sm = new CpuMeter(s.proc.pid);
      s.send('mark');
      const a = await s.next<{ bytes: number[] }>();
      cm.start();
      sm.start();
      let rssMax = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < windowS * 1000) {
        rssMax = Math.max(rssMax, procRssBytes(pid));
        await Bun.sleep(250);
      }
      s.send('mark');
      const b = await s.next<{ bytes: number[] }>();
      const produced1 = await producedBytes();
      const cpu = cm.read();
      const swarmCpu = sm.read();
      const produced = produced1 - produced0;
      const shares = b.bytes.map((x, i) => (x - a.bytes[i]!) / produced);
      rows.push({
        clients: n,
        connected,
        producedMbps: (produced * 8) / cpu.wall / 1e6,
        coordinatorCores: cpu.cores,
        coordinatorRssMB: rssMax / 1e6,
        swarmCores: swarmCpu.cores,
        minShare: Math.min(...shares),
        p50Share: percentile(shares, 50),
        behind: shares.filter((x) => x < 0.97).length,
      });
      o.log(`  produced ${rows.at(-1)!.producedMbps.toFixed(2)} Mbit/s, swarm ${(swarmCpu.cores * 100).toFixed(0)}%, coordinator ${(cpu.cores * 100).toFixed(0)}% of a core, RSS ${(rssMax / 1e6).toFixed(0)} MB, min share ${Math.min(...shares).toFixed(3)}, behind ${rows.at(-1)!.behind}`);
      await s.stop();
      await Bun.sleep(1000);
    }
    await keeper.cancel().catch(() => {});
    return { clip, windowS, baseRssMB, rows };
  } finally {
    source.stop();
    await cluster.stop();
  }

  async function producedBytes(): Promise<number> {
    const { body } = await cluster.coordinator.api<VariantsView>('/api/variants');
    return body.live.find((v) => v.sourceId === 'live5')?.job?.bytesOut ?? NaN;
  }
}
