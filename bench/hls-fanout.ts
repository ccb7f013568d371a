// HLS fan-out against MPEG-TS fan-out, in one run, on one variant: N viewers polling the
// live playlist and fetching each new segment once, as hls.js does (reload about once
// per target duration, each viewer with its own session), versus N continuous MPEG-TS
// clients (bench/fanout.ts's swarm). Coordinator CPU and RSS per level and per 100
// viewers; swarm CPU is listed too, since a saturated client side looks like a slow server.
//
//   bun bench/hls-fanout.ts [--levels=100,500,1000,2000] [--window=6] [--write]
// --write replaces the "## HLS fan-out" section of docs/BENCHMARKS.md.
import type { Subprocess } from 'bun';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLoopingTsServer } from '../tests/helpers/looping-ts-server';
import { BUN } from '../tests/helpers/processes';
import { benchCluster, CpuMeter, ensureClip, fmt, loadAverage, procRssBytes } from './common';

// ---------------------------------------------------------------- HLS swarm (child process)

async function hlsSwarm(url: string, n: number): Promise<void> {
  let segments = 0;
  let bytes = 0;
  let errors = 0;
  let playlists = 0;
  let stopped = false;
  let connected = 0;
  let smallest = Infinity;
  let lastError = '';
  const viewer = async (i: number) => {
    const playlistUrl = `${url}?session=bench${i}`;
    let next = -1;
    let first = true;
    while (!stopped) {
      let target = 2;
      try {
        const res = await fetch(playlistUrl);
        if (!res.ok) {
          errors++;
          await res.arrayBuffer();
        } else {
          playlists++;
          const text = await res.text();
          target = Number(/#EXT-X-TARGETDURATION:(\d+)/.exec(text)?.[1] ?? 2);
          const sequence = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
          const uris = text.split('\n').filter((l) => l && !l.startsWith('#'));
          if (first) {
            connected++;
            first = false;
          }
          if (next < 0) next = sequence + Math.max(0, uris.length - 1); // start at the live edge
          for (let k = Math.max(0, next - sequence); k < uris.length && !stopped; k++) {
            const s = await fetch(new URL(uris[k]!, res.url));
            if (!s.ok) {
              errors++;
              await s.arrayBuffer();
              break;
            }
            const size = (await s.arrayBuffer()).byteLength;
            bytes += size;
            smallest = Math.min(smallest, size);
            segments++;
            next = sequence + k + 1;
          }
        }
      } catch (err) {
        errors++;
        lastError = String(err).slice(0, 120);
      }
      await Bun.sleep(target * 1000 * (0.9 + Math.random() * 0.2));
    }
  };
  for (let i = 0; i < n; i++) {
    void viewer(i);
    if (i % 50 === 49) await Bun.sleep(50); // arrivals spread over a moment, not one burst
  }
  while (connected < n && errors < n) await Bun.sleep(100);
  process.stdout.write(JSON.stringify({ connected }) + '\n');
  for await (const line of console) {
    if (line.trim() === 'mark') process.stdout.write(JSON.stringify({ segments, bytes, errors, playlists, smallest, lastError }) + '\n');
    if (line.trim() === 'quit') break;
  }
  stopped = true;
  process.exit(0);
}

/** N continuous MPEG-TS readers (as bench/fanout.ts's swarm, plus a retry when a connect is reset under load). */
async function tsSwarm(url: string, n: number): Promise<void> {
  const bytes = new Array<number>(n).fill(0);
  const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
  let connected = 0;
  let failed = 0;
  const connectOne = async (i: number) => {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const res = await fetch(url);
        if (res.status !== 200) throw new Error(`${res.status}`);
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
        return;
      } catch {
        await Bun.sleep(200 * (attempt + 1));
      }
    }
    failed++;
  };
  // On a loaded machine connects can stall: report after 12 s with whoever got in.
  const deadline = Date.now() + 12_000;
  const connecting = (async () => {
    for (let i = 0; i < n && Date.now() < deadline; i += 50) await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, k) => connectOne(i + k)));
  })();
  await Promise.race([connecting, Bun.sleep(12_000)]);
  process.stdout.write(JSON.stringify({ connected, failed }) + '\n');
  for await (const line of console) {
    if (line.trim() === 'mark') process.stdout.write(JSON.stringify({ bytes }) + '\n');
    if (line.trim() === 'quit') break;
  }
  for (const r of readers) void r.cancel().catch(() => {});
  process.exit(0);
}

if (import.meta.main && process.argv[2] === '--swarm') await hlsSwarm(process.argv[3]!, Number(process.argv[4]));
if (import.meta.main && process.argv[2] === '--swarm-ts') await tsSwarm(process.argv[3]!, Number(process.argv[4]));

// ---------------------------------------------------------------- swarm handle

class Swarm {
  private buffered = '';
  private readonly lines: string[] = [];
  readonly proc: Subprocess<'pipe', 'pipe', 'inherit'>;

  constructor(mode: '--swarm' | '--swarm-ts', url: string, n: number) {
    const proc = Bun.spawn([BUN, import.meta.path, mode, url, String(n)], {
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
        }
      }
    })();
  }

  async next<T>(timeoutMs = 120_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.proc.exitCode !== null) throw new Error(`swarm exited with ${this.proc.exitCode}`);
      if (Date.now() > deadline) throw new Error('swarm: no answer');
      await Bun.sleep(100);
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

interface Row {
  format: 'MPEG-TS' | 'HLS';
  viewers: number;
  connected: number;
  coordinatorCores: number;
  rssMB: number;
  swarmCores: number;
  /** HLS: segments fetched per viewer per produced segment; TS: received / produced bytes (median). */
  delivered: number;
  errors: number;
}

const args = process.argv.slice(2);
const levels = (args.find((a) => a.startsWith('--levels='))?.slice(9) ?? '100,500,1000,2000').split(',').map(Number);
const formats = (args.find((a) => a.startsWith('--formats='))?.slice(10) ?? 'HLS,MPEG-TS').split(',') as ('HLS' | 'MPEG-TS')[];
const windowS = Number(args.find((a) => a.startsWith('--window='))?.slice(9) ?? 6);

async function main(): Promise<void> {
  const log = (s: string) => process.stderr.write(`[hls-fanout] ${s}\n`);
  // A modest channel (1 Mbit/s 640x360, GOP 2 s -> 2 s segments) so 2,000 MPEG-TS clients
  // (2 Gbit/s over loopback) are at least attempted on this machine.
  const clip = await ensureClip('hls-fanout', { size: '640x360', seconds: 120, kbps: 800, gop: 50 });
  // A generous loss deadline: this measures fan-out, and on 2 shared cores a busy machine
  // can delay a worker's heartbeat past the default.
  const cluster = benchCluster({ TVARR_MAX_CLIENTS_PER_VARIANT: '5000', TVARR_MAX_CLIENTS: '10000', TVARR_IDLE_GRACE_MS: '30000', TVARR_WORKER_LOSS_DEADLINE_MS: '60000', TVARR_KEEPALIVE_TIME_MS: '10000', TVARR_KEEPALIVE_TIMEOUT_MS: '20000' });
  const source = startLoopingTsServer(clip.path, clip.seconds);
  const rows: Row[] = [];
  const load0 = loadAverage();
  try {
    await cluster.startCoordinator();
    await cluster.startWorker('fanout');
    await cluster.createSource('live', source.url);
    await cluster.createProfile({ id: 'remux', name: 'remux', videoCodec: 'copy', audioCodec: 'copy', width: 0, height: 0, videoBitrateKbps: 0, gopFrames: 0 });
    const pid = cluster.coordinator.proc.pid;
    const base = `${cluster.coordinator.httpUrl}/stream/live/remux`;
    // One MPEG-TS reader keeps the variant up between levels (counted in none of them).
    const keeper = (await fetch(base)).body!.getReader();
    void (async () => {
      for (;;) if ((await keeper.read().catch(() => ({ done: true }))).done) return;
    })();
    // Warm the HLS window so the first level does not measure the variant's start.
    await liveSegment();
    const baseRssMB = procRssBytes(pid) / 1e6;
    log(`coordinator RSS before viewers ${baseRssMB.toFixed(0)} MB, clip ${clip.bitrateKbps} kbit/s`);
    for (const n of levels) {
      for (const format of formats) {
        log(`${format}: ${n} viewers`);
        const swarm = format === 'HLS' ? new Swarm('--swarm', `${base}.m3u8`, n) : new Swarm('--swarm-ts', base, n);
        const { connected } = await swarm.next<{ connected: number }>();
        await Bun.sleep(2500); // past the join burst: every viewer has loaded its first playlist or keyframe
        const produced0 = await producedBytes();
        const seq0 = await liveSegment();
        swarm.send('mark');
        const a = await swarm.next<Record<string, unknown>>();
        const cm = new CpuMeter(pid);
        const sm = new CpuMeter(swarm.proc.pid);
        cm.start();
        sm.start();
        let rss = 0;
        const t0 = performance.now();
        while (performance.now() - t0 < windowS * 1000) {
          rss = Math.max(rss, procRssBytes(pid));
          await Bun.sleep(250);
        }
        swarm.send('mark');
        const b = await swarm.next<Record<string, unknown>>();
        const produced = (await producedBytes()) - produced0;
        const producedSegments = (await liveSegment()) - seq0;
        const cpu = cm.read();
        let delivered: number;
        let errors = 0;
        if (format === 'HLS') {
          // Each viewer should fetch every segment produced in the window (+-1 at the edges).
          const fetched = (b.segments as number) - (a.segments as number);
          const bytes = (b.bytes as number) - (a.bytes as number);
          delivered = fetched / (producedSegments * n);
          errors = (b.errors as number) - (a.errors as number);
          log(`  ${fetched} segments fetched, ${producedSegments} produced, ${(bytes / 1e6).toFixed(1)} MB, smallest ${b.smallest} B${b.lastError ? `, last error ${b.lastError}` : ''}`);
        } else {
          const shares = (b.bytes as number[]).map((x, i) => (x - (a.bytes as number[])[i]!) / produced).filter((x) => x > 0).sort((p, q) => p - q);
          delivered = shares[Math.floor(shares.length / 2)] ?? NaN;
        }
        rows.push({ format, viewers: n, connected, coordinatorCores: cpu.cores, rssMB: rss / 1e6, swarmCores: sm.read().cores, delivered, errors });
        const r = rows.at(-1)!;
        log(`  coordinator ${(r.coordinatorCores * 100).toFixed(0)}% of a core, RSS ${r.rssMB.toFixed(0)} MB, swarm ${(r.swarmCores * 100).toFixed(0)}%, delivered ${r.delivered.toFixed(2)}, errors ${errors}`);
        await swarm.stop();
        // Written after every level, so a run cut short still leaves what it measured.
        if (args.includes('--write')) writeSection(report(rows, baseRssMB, clip.bitrateKbps, load0));
        await Bun.sleep(1000);
      }
    }
    await keeper.cancel().catch(() => {});
    const section = report(rows, baseRssMB, clip.bitrateKbps, load0);
    process.stdout.write(section + '\n');
  } catch (err) {
    process.stderr.write(cluster.coordinator.proc.rawTail.slice(-15).join('\n') + '\n');
    throw err;
  } finally {
    source.stop();
    await cluster.stop();
  }

  /** Newest segment in the live playlist (one extra HLS viewer, the same all run). */
  async function liveSegment(): Promise<number> {
    const text = await (await fetch(`${cluster.coordinator.httpUrl}/stream/live/remux.m3u8?session=probe`)).text();
    const sequence = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1]);
    return sequence + text.split('\n').filter((l) => l && !l.startsWith('#')).length - 1;
  }

  async function producedBytes(): Promise<number> {
    const { body } = await cluster.coordinator.api<{ live: { sourceId: string; job: { bytesOut: number } | null }[] }>('/api/variants');
    return body.live.find((v) => v.sourceId === 'live')?.job?.bytesOut ?? NaN;
  }
}

function report(rows: Row[], baseRssMB: number, kbps: number, load: number): string {
  const lines = [
    '## HLS fan-out',
    '',
    `One variant (remux of a ${kbps} kbit/s 640x360 source, GOP 2 s, so 2 s segments) served to N viewers as HLS and, in the same run, as continuous MPEG-TS. ` +
      'HLS viewers (a separate Bun process) each poll the playlist about once per target duration with their own session and fetch each new segment once, as hls.js does; ' +
      `MPEG-TS clients read continuously (as bench/fanout.ts's swarm; a connect reset under load is retried). Window ${windowS} s per level after the join burst. "delivered" = HLS: segments fetched / (viewers x segments produced in the window); MPEG-TS: median client share of the bytes produced ` +
      `(~1.0 = kept up; with 2 s segments an HLS viewer may be one segment off at each window edge). Coordinator RSS before viewers: ${baseRssMB.toFixed(0)} MB. Load average at start: ${load.toFixed(1)} (2 shared cores; other work ran at the same time). ` +
      'Run: `bun bench/hls-fanout.ts --write`.',
    '',
    '| format | viewers | connected | coordinator CPU | CPU per 100 viewers | coordinator RSS max | RSS per 100 viewers | swarm CPU | delivered | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.format} | ${r.viewers} | ${r.connected} | ${fmt(r.coordinatorCores * 100, 0)}% | ${fmt((r.coordinatorCores * 100 * 100) / r.viewers, 2)}% | ${fmt(r.rssMB, 0)} MB | ${fmt(((r.rssMB - baseRssMB) * 100) / r.viewers, 1)} MB | ${fmt(r.swarmCores * 100, 0)}% | ${fmt(r.delivered, 2)} | ${r.errors} |`,
    );
  }
  return lines.join('\n') + '\n';
}

function writeSection(section: string): void {
  const path = join(import.meta.dir, '..', 'docs', 'BENCHMARKS.md');
  const doc = readFileSync(path, 'utf8');
  const start = doc.indexOf('\n## HLS fan-out\n');
  let next = start < 0 ? -1 : doc.indexOf('\n## ', start + 5);
  if (start < 0) writeFileSync(path, doc.trimEnd() + '\n\n' + section);
  else {
    if (next < 0) next = doc.length;
    writeFileSync(path, doc.slice(0, start + 1) + section + doc.slice(next));
  }
}

if (import.meta.main && !process.argv[2]?.startsWith('--swarm')) await main();
