// Shared pieces of the benchmarks: test media, local FFmpeg runs, HTTP sources for the
// coordinator, per-process CPU/RSS from /proc, MPEG-TS frame counting, statistics.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { buildFfmpegArgs } from '../worker/runner/build-args';
import type { TranscodeSpec } from '../worker/runner/transcode-spec';
import { TestCluster } from '../tests/helpers/cluster';
export { childrenNamed } from '../tests/helpers/processes';

export const MEDIA_DIR = join(tmpdir(), 'tvarr-bench-media');
const CLK_TCK = 100; // Linux USER_HZ; /proc/<pid>/stat counts in these ticks

// ---------------------------------------------------------------- media

export interface Clip {
  path: string;
  seconds: number;
  frames: number;
  bytes: number;
  bitrateKbps: number;
}

/** Makes (once, cached in /tmp) an MPEG-TS clip of testsrc2 + a tone, H.264 ultrafast, CBR-ish. */
export async function ensureClip(name: string, o: { size: string; seconds: number; kbps: number; gop: number }): Promise<Clip> {
  mkdirSync(MEDIA_DIR, { recursive: true });
  const path = join(MEDIA_DIR, `${name}-${o.size}-${o.seconds}s-${o.kbps}k-g${o.gop}.ts`);
  if (!existsSync(path)) {
    const k = o.kbps;
    const proc = Bun.spawn(
      [
        'ffmpeg', '-hide_banner', '-loglevel', 'error', '-y',
        '-f', 'lavfi', '-i', `testsrc2=size=${o.size}:rate=25`,
        '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
        '-t', String(o.seconds),
        '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', `${k}k`, '-maxrate', `${k}k`, '-bufsize', `${2 * k}k`,
        '-g', String(o.gop), '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '128k', '-f', 'mpegts', `${path}.tmp`,
      ],
      { stdout: 'ignore', stderr: 'pipe' },
    );
    if ((await proc.exited) !== 0) throw new Error(`ffmpeg could not make ${path}: ${await new Response(proc.stderr).text()}`);
    await Bun.spawn(['mv', `${path}.tmp`, path]).exited;
  }
  const bytes = Bun.file(path).size;
  return { path, seconds: o.seconds, frames: o.seconds * 25, bytes, bitrateKbps: Math.round((bytes * 8) / o.seconds / 1000) };
}

// ---------------------------------------------------------------- MPEG-TS

/**
 * Counts video frames (payload-unit starts on the video PID, FFmpeg's default 0x100)
 * in a byte stream cut anywhere; keeps a partial packet between calls.
 */
export class FrameCounter {
  frames = 0;
  bytes = 0;
  private rest = new Uint8Array(0);
  constructor(private readonly videoPid = 0x100) {}

  push(chunk: Uint8Array): number {
    this.bytes += chunk.byteLength;
    let buf = chunk;
    if (this.rest.byteLength) {
      buf = new Uint8Array(this.rest.byteLength + chunk.byteLength);
      buf.set(this.rest, 0);
      buf.set(chunk, this.rest.byteLength);
    }
    let o = 0;
    let found = 0;
    for (; o + 188 <= buf.byteLength; o += 188) {
      if (buf[o] !== 0x47) continue;
      const pid = ((buf[o + 1]! & 0x1f) << 8) | buf[o + 2]!;
      if (pid === this.videoPid && (buf[o + 1]! & 0x40) !== 0) found++;
    }
    this.rest = buf.slice(o);
    this.frames += found;
    return found;
  }
}

// ---------------------------------------------------------------- local FFmpeg

export interface LocalRun {
  wallMs: number;
  ttfbMs: number;
  bytesOut: number;
  frames: number;
  /** (ms since start, frames so far) at each output chunk */
  timeline: [number, number][];
}

/**
 * The worker's own FFmpeg command (buildFfmpegArgs), fed from a pipe and read from a
 * pipe by this process, as the worker does. `paceKbps` writes input at that rate
 * (a live source); otherwise as fast as FFmpeg takes it.
 */
export async function runLocalFfmpeg(spec: TranscodeSpec, input: Uint8Array, o: { paceKbps?: number; stopAfterFirstByte?: boolean } = {}): Promise<LocalRun> {
  const t0 = performance.now();
  const proc = Bun.spawn(['ffmpeg', ...buildFfmpegArgs(spec)], { stdin: 'pipe', stdout: 'pipe', stderr: 'ignore' });
  let stopped = false;
  const writer = (async () => {
    const chunk = 64 * 1024;
    for (let off = 0; off < input.byteLength && !stopped; off += chunk) {
      try {
        proc.stdin.write(input.subarray(off, Math.min(off + chunk, input.byteLength)));
        await proc.stdin.flush();
      } catch {
        return;
      }
      if (o.paceKbps) {
        const due = ((off + chunk) * 8) / o.paceKbps; // ms
        const wait = due - (performance.now() - t0);
        if (wait > 0) await Bun.sleep(wait);
      }
    }
    try {
      await proc.stdin.end();
    } catch {
      // FFmpeg already gone
    }
  })();
  const counter = new FrameCounter();
  const timeline: [number, number][] = [];
  let ttfbMs = -1;
  for await (const chunk of proc.stdout) {
    const now = performance.now() - t0;
    if (ttfbMs < 0) ttfbMs = now;
    counter.push(chunk);
    timeline.push([now, counter.frames]);
    if (o.stopAfterFirstByte) {
      stopped = true;
      proc.kill('SIGKILL');
      break;
    }
  }
  await proc.exited;
  stopped = true;
  await writer;
  return { wallMs: performance.now() - t0, ttfbMs, bytesOut: counter.bytes, frames: counter.frames, timeline };
}

/** Frames per second between the times `lo` and `hi` fractions of `total` frames were reached. */
export function steadyFps(timeline: [number, number][], total: number, lo = 0.1, hi = 0.9): number {
  const a = timeline.find(([, f]) => f >= total * lo);
  const b = timeline.find(([, f]) => f >= total * hi);
  if (!a || !b || b[0] <= a[0]) return NaN;
  return ((b[1] - a[1]) * 1000) / (b[0] - a[0]);
}

// ---------------------------------------------------------------- HTTP sources

export interface GatedFileServer {
  url: string;
  /** Lets the file flow (after the job's input subscription exists). */
  open(): void;
  readonly connections: number;
  readonly bytesSent: number;
  /** ms (performance.now) when the first / last file byte was handed to the socket */
  readonly firstByteAt: number;
  readonly lastByteAt: number;
  stop(): void;
}

/**
 * An HTTP source serving a file once, as fast as it is read. It first sends a few null
 * packets (so the coordinator sees MPEG-TS and counts the source as up), then holds the
 * file until open(): the coordinator reads its upstream before the job has subscribed,
 * and whatever arrives then has nobody to go to. Later connections (the upstream's
 * reconnects after the end) get a 404.
 */
export function startGatedFileServer(path: string): GatedFileServer {
  const data = new Uint8Array(readFileSync(path));
  const nulls = new Uint8Array(188 * 16);
  for (let o = 0; o < nulls.length; o += 188) nulls.set([0x47, 0x1f, 0xff, 0x10], o);
  let gate!: () => void;
  const opened = new Promise<void>((r) => (gate = r));
  let connections = 0;
  let bytesSent = 0;
  let firstByteAt = 0;
  let lastByteAt = 0;
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 0,
    fetch() {
      connections += 1;
      if (connections > 1) return new Response('served once', { status: 404 });
      let off = -1;
      const body = new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            if (off < 0) {
              off = 0;
              controller.enqueue(nulls);
              return;
            }
            if (off === 0) await opened;
            if (off >= data.byteLength) {
              lastByteAt = performance.now();
              controller.close();
              return;
            }
            if (off === 0) firstByteAt = performance.now();
            const end = Math.min(off + 256 * 1024, data.byteLength);
            controller.enqueue(data.subarray(off, end));
            bytesSent += end - off;
            off = end;
          },
        },
        { highWaterMark: 0 },
      );
      return new Response(body, { headers: { 'content-type': 'video/mp2t' } });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/file.ts`,
    open: () => gate(),
    get connections() {
      return connections;
    },
    get bytesSent() {
      return bytesSent;
    },
    get firstByteAt() {
      return firstByteAt;
    },
    get lastByteAt() {
      return lastByteAt;
    },
    stop: () => server.stop(true),
  };
}

// ---------------------------------------------------------------- processes

export interface CpuSample {
  at: number;
  cpuSeconds: number;
}

export function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is state (field 3); utime is field 14, stime field 15
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

export function procRssBytes(pid: number): number {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU seconds used by a process between start() and stop(), as a share of one core. */
export class CpuMeter {
  private t0 = 0;
  private c0 = 0;
  constructor(private readonly pid: number) {}
  start(): void {
    this.t0 = performance.now();
    this.c0 = procCpuSeconds(this.pid);
  }
  /** { seconds of CPU, wall seconds, cores (CPU/wall) } */
  read(): { cpu: number; wall: number; cores: number } {
    const cpu = procCpuSeconds(this.pid) - this.c0;
    const wall = (performance.now() - this.t0) / 1000;
    return { cpu, wall, cores: cpu / wall };
  }
}

/** A cluster for benchmarks: info-level logs (debug logging would be measured too), no quarantine. */
export function benchCluster(env: Record<string, string> = {}): TestCluster {
  return new TestCluster({
    env: {
      TVARR_LOG_LEVEL: 'info',
      TVARR_QUARANTINE_FAILURES: '1000',
      TVARR_UPSTREAM_TIMEOUT_MS: '30000',
      ...env,
    },
  });
}

export interface JobView {
  id: string;
  state: string;
  sourceId: string;
  profileId: string;
  workerId: string;
}

/** Polls the API until a running job for the variant exists (the job stream is attached). */
export async function waitRunningJob(cluster: TestCluster, sourceId: string, timeoutMs = 30_000): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await cluster.coordinator.api<JobView[]>('/api/jobs?state=running');
    const job = body.find((j) => j.sourceId === sourceId);
    if (job) return job;
    if (Date.now() > deadline) throw new Error(`no running job for ${sourceId} within ${timeoutMs} ms`);
    await Bun.sleep(10);
  }
}

// ---------------------------------------------------------------- statistics and machine

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const median = (v: number[]) => percentile(v, 50);

export function machineInfo(): { cpuModel: string; nproc: number; memGiB: number; kernel: string; bun: string; ffmpeg: string } {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = cpuinfo.match(/model name\s*:\s*(.+)/)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  const kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  const ff = Bun.spawnSync(['ffmpeg', '-version']).stdout.toString().split('\n')[0] ?? '';
  return { cpuModel: model, nproc: cpus().length, memGiB: totalmem() / 2 ** 30, kernel, bun: Bun.version, ffmpeg: ff.replace(/ Copyright.*/, '') };
}

/** Other `bun test` runs on the machine now (they disturb the numbers). */
export function otherTestRuns(): number {
  const r = Bun.spawnSync(['pgrep', '-fc', 'bun test']);
  return Number(r.stdout.toString().trim()) || 0;
}

/** 1-minute load average. */
export function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

export const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
