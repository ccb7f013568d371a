// Issue 24: a three-rendition ladder (720p, 480p, 360p H.264) from a 1080p source, made by
// one ladder job (one decode) against three separate jobs, in the same run:
// - FFmpeg alone: the worker's own command lines (worker/runner/build-args.ts) run on the
//   same 1080p clip, unpaced: CPU seconds of the one ladder FFmpeg against the three
//   one-output FFmpegs together;
// - through the system: a coordinator and one worker (3 slots) on a looping 1080p source,
//   the ladder's multivariant playlist asked for, its three renditions watched over HLS:
//   the time until every rendition has its first segment, then over a steady window the
//   worker's CPU (its process and its FFmpegs) and the coordinator's.
// TVARR_LADDER_JOBS=false on the coordinator is the three-separate-jobs case.
import { buildFfmpegArgs } from '../worker/runner/build-args';
import type { TranscodeSpec } from '../worker/runner/transcode-spec';
import { startLoopingTsServer } from '../tests/helpers/looping-ts-server';
import { HlsPoller } from '../tests/helpers/hls-client';
import { benchCluster, childrenNamed, CpuMeter, ensureClip, median, procCpuSeconds } from './common';

const RENDITIONS = [
  { id: 'l720', width: 1280, height: 720, videoBitrateKbps: 2500 },
  { id: 'l480', width: 854, height: 480, videoBitrateKbps: 1200 },
  { id: 'l360', width: 640, height: 360, videoBitrateKbps: 700 },
];
const PRESET = 'ultrafast';
const WINDOW_MS = Number(process.env.LADDER_WINDOW_MS ?? 15_000);

export interface LadderJobResult {
  clipSeconds: number;
  ffmpegAlone: { ladderCpuS: number; separateCpuS: number; ratio: number };
  system: {
    mode: 'one ladder job' | 'three separate jobs';
    firstSegmentsMs: number;
    workerCores: number;
    coordinatorCores: number;
    jobs: number;
    ffmpegs: number;
  }[];
}

function oneSpec(r: (typeof RENDITIONS)[number]): TranscodeSpec {
  return { encoder: 'libx264', width: r.width, height: r.height, videoBitrateKbps: r.videoBitrateKbps, audioCodec: 'aac', audioBitrateKbps: 96, gopFrames: 50, preset: PRESET, keyframesFollowSource: true };
}

/** CPU seconds (user + system) of one FFmpeg with the worker's arguments, reading `clip` unpaced. */
async function ffmpegCpu(spec: TranscodeSpec, clip: string): Promise<number> {
  const args = buildFfmpegArgs(spec).map((a) => (a === 'pipe:0' ? clip : a === 'pipe:1' ? '-' : a === 'pipe:2' ? '/dev/null' : a));
  const p = Bun.spawn(['ffmpeg', '-y', ...args], { stdout: 'ignore', stderr: 'pipe' });
  const code = await p.exited;
  if (code !== 0) throw new Error(`ffmpeg failed: ${await new Response(p.stderr).text()}`);
  const u = p.resourceUsage()!;
  return (Number(u.cpuTime.user) + Number(u.cpuTime.system)) / 1e6;
}

async function ffmpegAlone(clip: string, log: (s: string) => void): Promise<LadderJobResult['ffmpegAlone']> {
  const ladder: TranscodeSpec = { ...oneSpec(RENDITIONS[0]!), renditions: RENDITIONS.map((r) => ({ encoder: 'libx264', width: r.width, height: r.height, videoBitrateKbps: r.videoBitrateKbps, preset: PRESET })) };
  const ladderRuns: number[] = [];
  const separateRuns: number[] = [];
  for (let i = 0; i < 3; i++) {
    ladderRuns.push(await ffmpegCpu(ladder, clip));
    let sum = 0;
    for (const r of RENDITIONS) sum += await ffmpegCpu(oneSpec(r), clip);
    separateRuns.push(sum);
  }
  const ladderCpuS = median(ladderRuns);
  const separateCpuS = median(separateRuns);
  log(`ladder-job: FFmpeg alone, one ladder FFmpeg ${ladderCpuS.toFixed(2)} CPU s, three FFmpegs ${separateCpuS.toFixed(2)} CPU s`);
  return { ladderCpuS, separateCpuS, ratio: ladderCpuS / separateCpuS };
}

async function throughSystem(clip: { path: string; seconds: number }, oneJob: boolean, log: (s: string) => void): Promise<LadderJobResult['system'][number]> {
  const source = startLoopingTsServer(clip.path, clip.seconds);
  const cluster = benchCluster({ TVARR_LADDER_JOBS: String(oneJob) });
  const pollers: HlsPoller[] = [];
  try {
    await cluster.startCoordinator();
    await cluster.startWorker('w', { TVARR_MAX_JOBS: '3', TVARR_MAX_CPU_JOBS: '3' }, { registerTimeoutMs: 180_000 });
    await cluster.createSource('hd', source.url);
    for (const r of RENDITIONS) {
      await cluster.createProfile({ ...r, name: `${r.height}p`, videoCodec: 'h264', audioCodec: 'aac', audioBitrateKbps: 96, gopFrames: 50, preset: PRESET });
    }
    const made = await cluster.coordinator.api('/api/ladders', { method: 'POST', body: JSON.stringify({ id: 'abr', name: 'ABR', renditions: RENDITIONS.map((r) => r.id) }) });
    if (made.status !== 201) throw new Error(`POST /api/ladders: ${made.status}`);
    const base = cluster.coordinator.httpUrl;
    const t0 = performance.now();
    const master = await fetch(`${base}/stream/hd/abr.m3u8`);
    if (master.status !== 200) throw new Error(`multivariant playlist: ${master.status} ${await master.text()}`);
    for (const r of RENDITIONS) pollers.push(new HlsPoller(`${base}/stream/hd/${r.id}.m3u8?session=bench-${r.id}`));
    await Promise.all(pollers.map((p) => p.waitForSegments(1, 120_000)));
    const firstSegmentsMs = performance.now() - t0;
    // Let start-up pass, then measure the steady state.
    await Promise.all(pollers.map((p) => p.waitForSegments(2, 120_000, p.segments.length)));
    const worker = cluster.workers.get('w')!;
    const ffmpegs = childrenNamed(worker.pid, 'ffmpeg');
    const c0 = ffmpegs.map(procCpuSeconds);
    const w = new CpuMeter(worker.pid);
    const c = new CpuMeter(cluster.coordinator.proc.pid);
    w.start();
    c.start();
    const t = performance.now();
    await Bun.sleep(WINDOW_MS);
    const wall = (performance.now() - t) / 1000;
    const children = ffmpegs.reduce((sum, pid, i) => sum + (procCpuSeconds(pid) - c0[i]!), 0);
    const workerCores = (w.read().cpu + children) / wall;
    const coordinatorCores = c.read().cores;
    const { body } = await cluster.coordinator.api<{ state: string }[]>('/api/jobs?state=running');
    const mode = oneJob ? ('one ladder job' as const) : ('three separate jobs' as const);
    log(`ladder-job: ${mode}: first segments ${firstSegmentsMs.toFixed(0)} ms, worker ${(workerCores * 100).toFixed(1)}% of a core (${ffmpegs.length} FFmpeg), coordinator ${(coordinatorCores * 100).toFixed(1)}%`);
    return { mode, firstSegmentsMs, workerCores, coordinatorCores, jobs: body.length, ffmpegs: ffmpegs.length };
  } finally {
    await Promise.all(pollers.map((p) => p.stop()));
    await cluster.stop();
    source.stop();
  }
}

export async function benchLadderJob(o: { log: (s: string) => void }): Promise<LadderJobResult> {
  const clip = await ensureClip('ladder-src', { size: '1920x1080', seconds: 20, kbps: 6000, gop: 50 });
  const alone = await ffmpegAlone(clip.path, o.log);
  const system = [await throughSystem(clip, true, o.log), await throughSystem(clip, false, o.log)];
  return { clipSeconds: clip.seconds, ffmpegAlone: alone, system };
}

export function ladderJobSection(r: LadderJobResult): string {
  const [one, three] = r.system;
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const rows = r.system.map((s) => `| ${s.mode} | ${s.jobs} | ${s.ffmpegs} | ${pct(s.workerCores)} | ${(s.firstSegmentsMs / 1000).toFixed(2)} s | ${pct(s.coordinatorCores)} |`);
  return [
    '## Ladder: one job against separate jobs (issue 24)',
    '',
    `A three-rendition H.264 ladder (1280x720 2.5 Mbit/s, 854x480 1.2 Mbit/s, 640x360 0.7 Mbit/s, x264 ${PRESET}, keyframes on the source's, AAC 96 kbit/s) from a 1080p25 H.264 source at 6 Mbit/s (\`bench/ladder-job.ts\`, \`bun bench/run.ts --only=ladder-job\`).`,
    '',
    `**FFmpeg alone** (the worker's own command lines from \`worker/runner/build-args.ts\`, the ${r.clipSeconds} s clip read unpaced, median of 3): the one ladder FFmpeg used ${r.ffmpegAlone.ladderCpuS.toFixed(2)} CPU s, the three one-output FFmpegs ${r.ffmpegAlone.separateCpuS.toFixed(2)} CPU s together: **${r.ffmpegAlone.ratio.toFixed(2)} x** (goal: at most 0.8).`,
    '',
    `**Through the system** (coordinator + one worker with 3 slots on this machine; a looping 1080p HTTP source; the ladder's multivariant playlist asked for and its three renditions polled over HLS; steady window ${WINDOW_MS / 1000} s after two more segments each; worker CPU = its process and its FFmpegs):`,
    '',
    '| mode | live jobs | FFmpeg processes | worker CPU (share of one core) | first segment of every rendition | coordinator CPU |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    one && three ? `One ladder job costs the worker **${(one.workerCores / three.workerCores).toFixed(2)} x** what three separate jobs cost; the coordinator's cost is ${pct(one.coordinatorCores)} against ${pct(three.coordinatorCores)} (cutting the ladder job's output into three streams, program-split.ts, replaces three job streams and three copies of the source sent to the worker): at most ${pct(one.coordinatorCores / 3)} of a core per rendition with a ladder job, the source's ingest and each rendition's HLS segmenting included.` : '',
    '',
  ].join('\n');
}
