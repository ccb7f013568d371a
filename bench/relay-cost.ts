// Relay cost, quickly: the copy profile locally and through the system (1 client, then
// 4), repeated, on one cluster. Prints the copy ratio and coordinator CPU ms/s per
// Mbit/s with the load average next to each figure, so two trees can be compared run
// for run on a busy machine (issue 15). `bun bench/relay-cost.ts [options]`
//   --reps=N (2)  --clients=1,4  --seconds=40 (clip length)
//   --env=K=V         extra environment for coordinator and worker (e.g. MIMALLOC_PURGE_DELAY=1000)
//   --worker-env=K=V  extra worker environment (e.g. TVARR_JOB_STREAM_LANES=4)
//   --prof=DIR        the coordinator writes a CPU profile to DIR when stopped with SIGINT
//                     (the only way Bun writes it); --prof-format=md|json (md: --cpu-prof-md,
//                     whose self times weight each sample by the wall time until the next;
//                     json: --cpu-prof, a .cpuprofile with every sample's stack)
import { readFileSync } from 'node:fs';
import { benchCluster, ensureClip, runLocalFfmpeg, steadyFps } from './common';
import { COPY_CASE, systemRun } from './data-path';

const args = process.argv.slice(2);
const reps = Number(args.find((a) => a.startsWith('--reps='))?.slice(7) ?? 2);
const profDir = args.find((a) => a.startsWith('--prof='))?.slice(7);
const profFlag = args.includes('--prof-format=json') ? '--cpu-prof' : '--cpu-prof-md';
const clientCounts = (args.find((a) => a.startsWith('--clients='))?.slice(10) ?? '1,4').split(',').map(Number);
const envArgs = (flag: string) => Object.fromEntries(args.filter((a) => a.startsWith(flag)).map((a) => a.slice(flag.length).split('=') as [string, string]));
const workerEnv = envArgs('--worker-env=');
const bothEnv = envArgs('--env=');
/** Minor page faults of a process so far (a fresh buffer's first touch: one per 4 KiB page). */
const faults = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[7]);
const say = (s: string) => console.log(`${s}  [load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}]`);

const seconds = Number(args.find((a) => a.startsWith('--seconds='))?.slice(10) ?? 40);
const clip = await ensureClip('src', { size: '1280x720', seconds, kbps: 8000, gop: 50 });
const input = new Uint8Array(readFileSync(clip.path));
const localFps: number[] = [];
for (let i = 0; i < 3; i++) {
  const r = await runLocalFfmpeg(COPY_CASE.spec, input);
  localFps.push(steadyFps(r.timeline, clip.frames));
}
const local = localFps.sort((a, b) => a - b)[1]!;
say(`local copy: ${local.toFixed(0)} fps (runs ${localFps.map((f) => f.toFixed(0)).join(', ')})`);

const cluster = benchCluster(profDir ? { ...bothEnv, BUN_OPTIONS: `${profFlag} --cpu-prof-dir=${profDir}` } : bothEnv);
try {
  await cluster.startCoordinator();
  await cluster.startWorker('relay-cost', workerEnv);
  await cluster.createProfile(COPY_CASE.profile);
  let n = 0;
  for (let rep = 0; rep < reps; rep++) {
    for (const clients of clientCounts) {
      const f0 = faults(cluster.coordinator.proc.pid);
      const r = await systemRun(cluster, COPY_CASE, clip, clip.frames, `rc-${n++}`, clients);
      const inMbps = r.outMBps * 8;
      const cpuMs = (r.coordinatorCores * 1000) / (inMbps * clients);
      say(
        `rep ${rep} clients ${clients}: system ${r.fps.toFixed(0)} fps, ratio ${(r.fps / local).toFixed(3)}, ` +
          `${inMbps.toFixed(0)} Mbit/s from worker, coordinator ${(r.coordinatorCores * 100).toFixed(0)}% -> ` +
          `${cpuMs.toFixed(2)} CPU ms/s per Mbit/s out, ${((faults(cluster.coordinator.proc.pid) - f0) / (clip.bytes / 1e6)).toFixed(0)} page faults per source MB; worker ${(r.workerCores * 100).toFixed(0)}%, ffmpeg ${(r.ffmpegCores * 100).toFixed(0)}%; frames ${r.framesReceived}/${clip.frames}`,
      );
      if (r.framesReceived < clip.frames * 0.95) {
        // A run that stopped short: say why (the last log lines of both sides).
        for (const p of [cluster.coordinator.proc, ...cluster.workers.values()]) {
          for (const l of p.lines.filter((x) => !/heartbeat|upstream interrupted/.test(String(x.msg))).slice(-12)) console.log(`  ${p.name}: ${JSON.stringify(l)}`);
        }
      }
      await Bun.sleep(1200);
    }
  }
} finally {
  if (profDir) {
    cluster.coordinator.proc.kill('SIGINT');
    await Bun.sleep(3000);
  }
  await cluster.stop();
}
process.exit(0);
