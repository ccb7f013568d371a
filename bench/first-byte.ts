// Time to first media byte of a new variant: on a new source connection, and on a source
// that is already connected for another variant (the common IPTV case), against FFmpeg
// alone on the same input in the same run (the worker's own command line, fed the test
// pattern from a keyframe at real time, to its first output byte). Also measures one
// idea on FFmpeg alone: skipping input probing (the source's PMT already names the codecs),
// and another: a warm FFmpeg, spawned before its input exists (issue 14's "keep a warm
// FFmpeg ready"), timed from its input's first byte.
// Prints JSON. Run: bun bench/first-byte.ts [--runs=N]
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../tests/helpers/cluster';
import { testPatternArgs } from '../coordinator/streams/source-input';
import { buildFfmpegArgs } from '../worker/runner/build-args';
import type { TranscodeSpec } from '../worker/runner/transcode-spec';
import { MEDIA_DIR } from './common';

const runs = Number(process.argv.find((a) => a.startsWith('--runs='))?.slice(7) ?? 5);
const SPEC: TranscodeSpec = {
  encoder: 'libx264', width: 320, height: 240, videoBitrateKbps: 400, audioCodec: 'aac', audioBitrateKbps: 64, gopFrames: 25, preset: 'ultrafast',
};

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
  return { p50: Math.round(q(50)), p90: Math.round(q(90)), max: Math.round(s.at(-1)!), n: s.length };
}

/** 4 s of the coordinator's test pattern as a file (starts on a keyframe). */
async function patternFile(): Promise<Uint8Array> {
  const path = `${MEDIA_DIR}/pattern-320x240-4s.ts`;
  if (!existsSync(path)) {
    mkdirSync(MEDIA_DIR, { recursive: true });
    const args = testPatternArgs(TINY_PATTERN_URL).filter((a) => a !== '-re');
    args.splice(args.indexOf('pipe:1'), 1, '-t', '4', '-y', path);
    if ((await Bun.spawn(['ffmpeg', '-hide_banner', '-loglevel', 'error', ...args]).exited) !== 0) throw new Error('could not record the pattern');
  }
  return new Uint8Array(readFileSync(path));
}

/** FFmpeg alone: `args`, fed `input` at real time (~1 Mbit/s pattern) from byte 0, to its first output byte. */
/**
 * FFmpeg alone to its first output byte. `warmMs`: spawned that long before its input
 * starts (timed from the input). `atOnce`: the first second (one GOP) written at once, as
 * the coordinator feeds a new job from the source's current GOP, then real time.
 */
async function localTtfb(args: string[], input: Uint8Array, warmMs = 0, atOnce = false): Promise<number> {
  const proc = Bun.spawn(['ffmpeg', ...args], { stdin: 'pipe', stdout: 'pipe', stderr: 'ignore' });
  // Warm: FFmpeg has loaded and opened its pipes and waits in its first read when the input starts.
  if (warmMs > 0) await Bun.sleep(warmMs);
  const t0 = performance.now();
  const bytesPerMs = input.byteLength / 4000;
  const head = atOnce ? Math.floor(input.byteLength / 4 / 188) * 188 : 0;
  if (head > 0) {
    proc.stdin.write(input.subarray(0, head));
    await proc.stdin.flush();
  }
  let stop = false;
  const writer = (async () => {
    for (let off = head; off < input.byteLength && !stop; off += 8192) {
      try {
        proc.stdin.write(input.subarray(off, off + 8192));
        await proc.stdin.flush();
      } catch {
        return;
      }
      // After the GOP (the past), the live edge: real time from now.
      const wait = (off + 8192 - head) / bytesPerMs - (performance.now() - t0);
      if (wait > 0) await Bun.sleep(wait);
    }
  })();
  const reader = proc.stdout.getReader();
  await reader.read();
  const ms = performance.now() - t0;
  stop = true;
  proc.kill('SIGKILL');
  await Promise.all([proc.exited, writer]);
  return ms;
}

const input = await patternFile();
const workerArgs = buildFfmpegArgs(SPEC);
// The idea: the PMT already says MPEG-2 video + MP2 audio, so probing could be minimal.
const noProbeArgs = workerArgs.map((a, i, all) => (all[i - 1] === '-probesize' ? '32' : all[i - 1] === '-analyzeduration' ? '0' : a));

const cluster = new TestCluster();
let result: Record<string, unknown>;
try {
  await cluster.startCoordinator();
  await cluster.startWorker('w', { TVARR_MAX_JOBS: String(runs + 1), TVARR_MAX_CPU_JOBS: String(runs + 1), TVARR_PROBE_TIMEOUT_MS: '30000' });
  // the test pattern: 320x240, 25 fps, 1 s GOP
  await cluster.createSource('pattern', TINY_PATTERN_URL);
  const ttfb = async (profile: string): Promise<number> => {
    const t0 = performance.now();
    const res = await fetch(`${cluster.coordinator.httpUrl}/stream/pattern/${profile}`);
    if (res.status !== 200) throw new Error(await res.text());
    const reader = res.body!.getReader();
    let seen = 0;
    for (;;) {
      const { value } = await reader.read();
      seen += value!.byteLength;
      if (seen > 188) break; // past the leading null packet
    }
    const ms = performance.now() - t0;
    void reader.cancel();
    return ms;
  };
  for (let i = 0; i <= runs; i++) await cluster.createProfile({ ...TINY_H264_PROFILE, id: `p${i}` });
  const first = await ttfb('p0'); // new source connection + new variant
  // A viewer stays on p0 for the rest of the run, so the source stays connected (the
  // upstream lets an unused source go after a grace period, which the FFmpeg-alone runs
  // between the samples would otherwise exceed).
  const keeper = await fetch(`${cluster.coordinator.httpUrl}/stream/pattern/p0`);
  const keeperReader = keeper.body!.getReader();
  void (async () => {
    while (!(await keeperReader.read().catch(() => ({ done: true }))).done);
  })();
  const warm: number[] = [];
  const local: number[] = [];
  const localNoProbe: number[] = [];
  const localWarm: number[] = [];
  // Fed a GOP at once, like a job through the system: cold, and spawned 1 s early.
  const localGop: number[] = [];
  const localGopWarm: number[] = [];
  // Interleaved, so both see the same machine load.
  for (let i = 1; i <= runs; i++) {
    warm.push(await ttfb(`p${i}`)); // source already connected
    local.push(await localTtfb(workerArgs, input));
    localNoProbe.push(await localTtfb(noProbeArgs, input));
    localWarm.push(await localTtfb(workerArgs, input, 1000));
    localGop.push(await localTtfb(workerArgs, input, 0, true));
    localGopWarm.push(await localTtfb(workerArgs, input, 1000, true));
  }
  void keeperReader.cancel().catch(() => {});
  const w = stats(warm);
  const l = stats(local);
  result = {
    newSourceMs: Math.round(first),
    connectedSource: w,
    ffmpegAlone: l,
    ffmpegAloneNoProbe: stats(localNoProbe),
    ffmpegAloneWarm: stats(localWarm),
    ffmpegAloneGopAtOnce: stats(localGop),
    ffmpegAloneGopAtOnceWarm: stats(localGopWarm),
    overFfmpegP50Ms: w.p50 - l.p50,
  };
} finally {
  await cluster.stop();
}
console.log(JSON.stringify(result));
process.exit(0);
