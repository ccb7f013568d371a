// Data path overhead: the worker's own FFmpeg command run (a) locally, pipe in and pipe
// out, and (b) through coordinator (HTTP source in) -> gRPC -> worker -> FFmpeg ->
// gRPC -> coordinator shared buffer -> one HTTP client. Also time to first byte of a
// new variant against a fresh local FFmpeg on the same live-paced input.
import { readFileSync } from 'node:fs';
import type { TestCluster } from '../tests/helpers/cluster';
import { startLoopingTsServer } from '../tests/helpers/looping-ts-server';
import type { TranscodeSpec } from '../worker/runner/transcode-spec';
import {
  benchCluster, childrenNamed, type Clip, CpuMeter, ensureClip, FrameCounter, median, runLocalFfmpeg,
  startGatedFileServer, steadyFps, waitRunningJob,
} from './common';

export interface PathCase {
  name: string;
  profile: Record<string, unknown>;
  spec: TranscodeSpec;
}

export const CPU_CASE: PathCase = {
  name: 'CPU-bound: 720p -> 360p libx264 veryfast 1 Mbit/s + AAC',
  profile: {
    id: 'bench-cpu', name: 'bench cpu', videoCodec: 'h264', width: 640, height: 360, videoBitrateKbps: 1000,
    audioCodec: 'aac', audioBitrateKbps: 96, gopFrames: 50, preset: 'veryfast',
  },
  spec: { encoder: 'libx264', width: 640, height: 360, videoBitrateKbps: 1000, audioCodec: 'aac', audioBitrateKbps: 96, gopFrames: 50, preset: 'veryfast' },
};

export const COPY_CASE: PathCase = {
  name: 'copy-bound: remux (video and audio copy)',
  profile: { id: 'bench-copy', name: 'bench copy', videoCodec: 'copy', audioCodec: 'copy', width: 0, height: 0, videoBitrateKbps: 0, gopFrames: 0 },
  spec: { encoder: 'copy', width: 0, height: 0, videoBitrateKbps: 0, audioCodec: 'copy', audioBitrateKbps: 0, gopFrames: 0, preset: '' },
};

export interface PathResult {
  name: string;
  inputMB: number;
  frames: number;
  local: { fps: number; inMBps: number; outMBps: number; wallMs: number; cpuCores: number };
  system: {
    fps: number;
    inMBps: number;
    outMBps: number;
    framesReceived: number;
    droppedInputBytes: number;
    coordinatorCores: number;
    workerCores: number;
    ffmpegCores: number;
    sameCommand: boolean;
  };
  ratio: number;
}

export interface TtfbResult {
  localMs: number[];
  systemMs: number[];
}

export interface DataPathResult {
  clip: Clip;
  cases: PathResult[];
  ttfb: TtfbResult;
}

async function localRun(c: PathCase, input: Uint8Array, frames: number, runs: number): Promise<PathResult['local']> {
  const results = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = await runLocalFfmpeg(c.spec, input);
    const fps = steadyFps(r.timeline, frames);
    results.push({ fps, wallMs: performance.now() - t0, bytesOut: r.bytesOut, frames: r.frames });
  }
  const best = results.sort((a, b) => a.fps - b.fps)[Math.floor(results.length / 2)]!;
  const inPerFrame = input.byteLength / frames;
  const outPerFrame = best.bytesOut / Math.max(1, best.frames);
  return { fps: best.fps, inMBps: (best.fps * inPerFrame) / 1e6, outMBps: (best.fps * outPerFrame) / 1e6, wallMs: best.wallMs, cpuCores: NaN };
}

interface VariantsView {
  live: { sourceId: string; job: { bytesIn: number; bytesOut: number } | null }[];
}

/**
 * Clients beyond the first: read and count, as fast as they can, each a `curl | wc -c`
 * of its own. Native readers in their own processes: at 600 Mbit/s a variant outran
 * fetch() readers sharing the bench's one JavaScript thread with the first client's
 * frame counter, which then fell out of the shared buffer's window (a short run).
 */
function extraReaders(url: string, n: number): { bytes: number[]; stop: () => Promise<void> } {
  const bytes = new Array<number>(n).fill(0);
  const procs = Array.from({ length: n }, () =>
    Bun.spawn(['sh', '-c', 'curl -s -N "$1" | wc -c', 'sh', url], { stdout: 'pipe', stderr: 'ignore' }),
  );
  const stop = async () => {
    // Stopping curl ends the pipe: wc prints what went through it.
    for (const p of procs) for (const pid of childrenNamed(p.pid, 'curl')) process.kill(pid, 'SIGTERM');
    await Promise.all(
      procs.map(async (p, i) => {
        bytes[i] = Number((await new Response(p.stdout).text()).trim()) || 0;
        await p.exited;
      }),
    );
  };
  return { bytes, stop };
}

export async function systemRun(cluster: TestCluster, c: PathCase, clip: Clip, frames: number, tag: string, clients = 1): Promise<PathResult['system'] & { clientBytes: number[] }> {
  const server = startGatedFileServer(clip.path);
  const sourceId = `dp-${tag}`;
  await cluster.createSource(sourceId, server.url);
  const url = `${cluster.coordinator.httpUrl}/stream/${sourceId}/${c.profile.id}`;
  const responseP = fetch(url);
  // The job's input subscription exists once its stream is attached: only then let the file flow.
  const early = responseP.then(async (r) => {
    if (r.status === 200) return new Promise<never>(() => {});
    throw new Error(`GET ${url} answered before its input flowed: ${r.status} ${await r.text()}`);
  });
  const job = await Promise.race([waitRunningJob(cluster, sourceId), early]);
  early.catch(() => {});
  await Bun.sleep(50);
  const workerPid = cluster.workers.values().next().value!.pid;
  const ffmpegPid = childrenNamed(workerPid, 'ffmpeg')[0];
  const cmdline = ffmpegPid ? readFileSync(`/proc/${ffmpegPid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(1) : [];
  const { buildFfmpegArgs } = await import('../worker/runner/build-args');
  const sameCommand = JSON.stringify(cmdline) === JSON.stringify(buildFfmpegArgs(c.spec));
  const meters = [new CpuMeter(cluster.coordinator.proc.pid), new CpuMeter(workerPid), ffmpegPid ? new CpuMeter(ffmpegPid) : null];
  meters.forEach((m) => m?.start());
  const t0 = performance.now();
  server.open();
  const res = await responseP;
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  // More clients join the same variant at once (they start at the first keyframe too).
  const extra = extraReaders(url, clients - 1);
  const reader = res.body!.getReader();
  const counter = new FrameCounter();
  const timeline: [number, number][] = [];
  let usage: { cpu: number; wall: number; cores: number }[] = [];
  // Read until (nearly) every frame arrived; the last few (encoder lookahead) are
  // flushed only at end of input, which the upstream signals after its reconnect tries.
  let quietTimer: ReturnType<typeof setTimeout> | undefined;
  const armQuiet = () => {
    clearTimeout(quietTimer);
    quietTimer = setTimeout(() => void reader.cancel().catch(() => {}), 1500);
  };
  const hardStop = setTimeout(() => void reader.cancel().catch(() => {}), 180_000);
  for (;;) {
    const { done, value } = await reader.read().catch(() => ({ done: true as const, value: undefined }));
    if (done) break;
    counter.push(value);
    timeline.push([performance.now() - t0, counter.frames]);
    if (counter.frames >= frames * 0.9 && usage.length === 0) usage = meters.map((m) => m?.read() ?? { cpu: NaN, wall: NaN, cores: NaN });
    if (counter.frames >= frames * 0.95) armQuiet();
    if (counter.frames >= frames) break;
  }
  clearTimeout(quietTimer);
  clearTimeout(hardStop);
  // What reached FFmpeg: bytes the coordinator sent on the job stream vs the file.
  const { body } = await cluster.coordinator.api<VariantsView>('/api/variants');
  const live = body.live.find((v) => v.sourceId === sourceId);
  const bytesIn = live?.job?.bytesIn ?? NaN;
  await reader.cancel().catch(() => {});
  await extra.stop();
  server.stop();
  void job;
  const fps = steadyFps(timeline, frames);
  return {
    fps,
    inMBps: (fps * (clip.bytes / frames)) / 1e6,
    outMBps: (fps * (counter.bytes / Math.max(1, counter.frames))) / 1e6,
    framesReceived: counter.frames,
    droppedInputBytes: clip.bytes - bytesIn,
    coordinatorCores: usage[0]?.cores ?? NaN,
    workerCores: usage[1]?.cores ?? NaN,
    ffmpegCores: usage[2]?.cores ?? NaN,
    sameCommand,
    clientBytes: [counter.bytes, ...extra.bytes],
  };
}

function hasMediaPacket(chunk: Uint8Array): boolean {
  for (let o = 0; o + 4 <= chunk.byteLength; o += 188) if ((((chunk[o + 1]! & 0x1f) << 8) | chunk[o + 2]!) !== 0x1fff) return true;
  return false;
}

async function ttfbRuns(cluster: TestCluster, clip: Clip, runs: number): Promise<TtfbResult> {
  const input = new Uint8Array(readFileSync(clip.path));
  const localMs: number[] = [];
  const systemMs: number[] = [];
  const paced = startLoopingTsServer(clip.path, clip.seconds);
  try {
    for (let i = 0; i < runs; i++) {
      const r = await runLocalFfmpeg(CPU_CASE.spec, input, { paceKbps: clip.bitrateKbps, stopAfterFirstByte: true });
      localMs.push(r.ttfbMs);
      // A new variant each time: a new source (its own upstream connection) and the CPU profile.
      const sourceId = `ttfb-${i}`;
      await cluster.createSource(sourceId, paced.url);
      const t0 = performance.now();
      const res = await fetch(`${cluster.coordinator.httpUrl}/stream/${sourceId}/${CPU_CASE.profile.id}`);
      const reader = res.body!.getReader();
      // The route sends one null packet at once (headers out); the first media byte is what counts.
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (hasMediaPacket(value)) {
          systemMs.push(performance.now() - t0);
          break;
        }
      }
      await reader.cancel().catch(() => {});
      // Let the variant and its upstream go idle (TVARR_IDLE_GRACE_MS) before the next one.
      await Bun.sleep(1500);
    }
  } finally {
    paced.stop();
  }
  return { localMs, systemMs };
}

export async function benchDataPath(o: { quick: boolean; log: (s: string) => void }): Promise<DataPathResult> {
  const clip = await ensureClip('src', { size: '1280x720', seconds: o.quick ? 20 : 40, kbps: 8000, gop: 50 });
  const input = new Uint8Array(readFileSync(clip.path));
  const frames = clip.frames;
  const cluster = benchCluster();
  const cases: PathResult[] = [];
  try {
    await cluster.startCoordinator();
    await cluster.startWorker('dp');
    for (const c of [CPU_CASE, COPY_CASE]) await cluster.createProfile(c.profile);
    // One unrecorded run first: a running service has its JIT and allocator warm, a
    // process that has just started does not (its first relay measured ~0.6 x a later one).
    o.log('data path: warm-up run (not recorded)');
    await systemRun(cluster, COPY_CASE, clip, frames, 'warm');
    await Bun.sleep(1500);
    for (const [i, c] of [CPU_CASE, COPY_CASE].entries()) {
      o.log(`data path: ${c.name}: local`);
      const local = await localRun(c, input, frames, c === COPY_CASE ? 5 : o.quick ? 1 : 2);
      o.log(`data path: ${c.name}: through the system`);
      const system = await systemRun(cluster, c, clip, frames, `${i}`);
      cases.push({ name: c.name, inputMB: clip.bytes / 1e6, frames, local, system, ratio: system.fps / local.fps });
      o.log(`  local ${local.fps.toFixed(0)} fps, system ${system.fps.toFixed(0)} fps, ratio ${(system.fps / local.fps).toFixed(3)}`);
      await Bun.sleep(1500);
    }
    o.log('data path: time to first byte');
    const ttfb = await ttfbRuns(cluster, clip, o.quick ? 3 : 5);
    o.log(`  local ${median(ttfb.localMs).toFixed(0)} ms, system ${median(ttfb.systemMs).toFixed(0)} ms`);
    return { clip, cases, ttfb };
  } finally {
    await cluster.stop();
  }
}
