// Failover gap: ms from SIGKILL (connection drops) or SIGSTOP (a partition: the socket
// stays open, heartbeats stop) of the serving worker to the first byte of the new
// producer at a connected client; with and without hot standby. Compared with FFmpeg
// start-up alone: a fresh FFmpeg with the same command on the same live input.
//
// "First new byte": the client's chunks are timestamped on arrival; after the signal the
// old producer's last bytes may still trickle in, then nothing, then the new producer.
// The new output starts after the longest silence following the signal.
import { readFileSync } from 'node:fs';
import { FAST_LIVENESS, type TestCluster, TINY_PATTERN_URL } from '../tests/helpers/cluster';
import { testPatternArgs } from '../coordinator/streams/source-input';
import type { LoggedProcess } from '../tests/helpers/processes';
import { largestGap, StreamRecorder, videoPacketTimes } from '../tests/helpers/stream-recorder';
import { existsSync, mkdirSync } from 'node:fs';
import { benchCluster, type Clip, MEDIA_DIR, runLocalFfmpeg } from './common';
import type { TranscodeSpec } from '../worker/runner/transcode-spec';

const PROFILE = {
  id: 'fo-240p', name: 'failover 240p', videoCodec: 'h264', width: 320, height: 240, videoBitrateKbps: 400,
  audioCodec: 'aac', audioBitrateKbps: 64, gopFrames: 25, preset: 'ultrafast',
};
const SPEC: TranscodeSpec = {
  encoder: 'libx264', width: 320, height: 240, videoBitrateKbps: 400, audioCodec: 'aac', audioBitrateKbps: 64, gopFrames: 25, preset: 'ultrafast',
};

export type FailoverMode = 'SIGKILL' | 'SIGSTOP';

export interface FailoverSeries {
  mode: FailoverMode;
  hotStandby: boolean;
  gapsMs: number[];
  /** largest gap in video presentation time across the splice, ms */
  mediaGapsMs: number[];
}

export interface FailoverResult {
  clip: Clip;
  liveness: Record<string, string>;
  series: FailoverSeries[];
  ffmpegStartMs: number[];
  runsEach: number;
}

interface VariantsView {
  live: { sourceId: string; job: { workerId: string } | null; standby: { workerId: string } | null; segment: number }[];
}

async function variantState(cluster: TestCluster, sourceId: string) {
  const { body } = await cluster.coordinator.api<VariantsView>('/api/variants');
  return body.live.find((v) => v.sourceId === sourceId);
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`failover bench: timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

/** ms from `at` to the chunk that ends the longest silence after `at`. */
function gapAfter(chunks: { at: number }[], at: number): number {
  const after = chunks.filter((c) => c.at >= at).map((c) => c.at);
  let prev = at;
  let best = -1;
  let bestAt = NaN;
  for (const t of after) {
    if (t - prev > best) {
      best = t - prev;
      bestAt = t;
    }
    prev = t;
  }
  return bestAt - at;
}

async function runSeries(cluster: TestCluster, names: string[], mode: FailoverMode, hotStandby: boolean, runs: number, log: (s: string) => void): Promise<FailoverSeries> {
  const sourceId = 'fo-src';
  const profileId = hotStandby ? `${PROFILE.id}-hs` : PROFILE.id;
  const client = await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/${sourceId}/${profileId}`);
  const gapsMs: number[] = [];
  const mediaGapsMs: number[] = [];
  try {
    await client.waitForBytes(30_000);
    for (let i = 0; i < runs; i++) {
      // Steady state first: a producer (and a standby, if wanted) and bytes flowing.
      const state = await until('a serving worker' + (hotStandby ? ' and a standby' : ''), async () => {
        const v = await variantState(cluster, sourceId);
        return v?.job && (!hotStandby || v.standby) ? v : undefined;
      });
      await client.waitForBytes(20_000);
      if (hotStandby) await Bun.sleep(1500); // the standby's FFmpeg past its start-up
      const serving = state.job!.workerId.replace(/^test-/, '');
      const proc = cluster.workers.get(serving)!;
      const segment = state.segment;
      const mark = client.total;
      const t = Date.now();
      proc.kill(mode);
      await until('output from the new producer', async () => {
        const v = await variantState(cluster, sourceId);
        return v && v.segment > segment && v.job?.workerId !== state.job!.workerId ? v : undefined;
      });
      await client.waitForBytes(40_000, client.total);
      await Bun.sleep(300);
      const gap = gapAfter(client.chunks, t);
      gapsMs.push(gap);
      const times = await videoPacketTimes(client.bytesAfter(Math.max(0, mark - 60_000)));
      mediaGapsMs.push(largestGap(times) * 1000);
      log(`  ${mode}${hotStandby ? ' hot standby' : ''} run ${i + 1}: ${gap.toFixed(0)} ms (media gap ${(largestGap(times) * 1000).toFixed(0)} ms)`);
      // Bring the worker back (same identity) so the next run has two again.
      await restoreWorker(cluster, serving, proc, mode);
    }
  } catch (err) {
    log(`failover bench failed; coordinator log tail:\n${cluster.coordinator.proc.rawTail.slice(-25).join('\n')}`);
    throw err;
  } finally {
    await client.close();
  }
  void names;
  return { mode, hotStandby, gapsMs, mediaGapsMs };
}

async function restoreWorker(cluster: TestCluster, name: string, proc: LoggedProcess, mode: FailoverMode): Promise<void> {
  if (mode === 'SIGSTOP') {
    const seen = cluster.coordinator.proc.lines.length;
    const back = cluster.coordinator.proc.waitForLog((l) => l.msg === 'worker registered' && l.workerId === `test-${name}`, 30_000, seen);
    proc.kill('SIGCONT');
    await back;
    return;
  }
  await proc.exited;
  // startWorker's own wait would match this worker's earlier registration: wait for a new one.
  const seen = cluster.coordinator.proc.lines.length;
  await cluster.startWorker(name);
  await cluster.coordinator.proc.waitForLog((l) => l.msg === 'worker registered' && l.workerId === `test-${name}`, 60_000, seen);
}

/** 4 s of the same test pattern the coordinator generates, as a file, for the local start-up runs. */
async function recordPattern(): Promise<Clip> {
  const path = `${MEDIA_DIR}/pattern-320x240-4s.ts`;
  if (!existsSync(path)) {
    mkdirSync(MEDIA_DIR, { recursive: true });
    const args = testPatternArgs(TINY_PATTERN_URL).filter((a) => a !== '-re');
    const out = args.indexOf('pipe:1');
    args.splice(out, 1, '-t', '4', '-y', path);
    const p = Bun.spawn(['ffmpeg', '-hide_banner', '-loglevel', 'error', ...args], { stdout: 'ignore', stderr: 'inherit' });
    if ((await p.exited) !== 0) throw new Error('could not record the test pattern');
  }
  const bytes = Bun.file(path).size;
  return { path, seconds: 4, frames: 100, bytes, bitrateKbps: Math.round((bytes * 8) / 4 / 1000) };
}

export async function benchFailover(o: { quick: boolean; log: (s: string) => void }): Promise<FailoverResult> {
  const runs = o.quick ? 3 : 10;
  // The coordinator's built-in test pattern: a live source whose timestamps never wrap.
  const clip = await recordPattern();
  // MAX_ATTEMPTS: each run is a failure of the same variant within 30 s (the product's
  // "healthy run" that resets the retry budget), so the default budget of 5 would end the series.
  const liveness = { ...FAST_LIVENESS, TVARR_KEEPALIVE_TIME_MS: '1000', TVARR_KEEPALIVE_TIMEOUT_MS: '1000', TVARR_MAX_ATTEMPTS: '100' };
  const cluster = benchCluster(liveness);
  const series: FailoverSeries[] = [];
  try {
    await cluster.startCoordinator();
    await Promise.all([cluster.startWorker('fa'), cluster.startWorker('fb')]);
    await cluster.createSource('fo-src', TINY_PATTERN_URL);
    await cluster.createProfile(PROFILE);
    await cluster.createProfile({ ...PROFILE, id: `${PROFILE.id}-hs`, name: 'failover 240p hot standby', hotStandby: true });
    for (const hotStandby of [false, true]) {
      for (const mode of ['SIGKILL', 'SIGSTOP'] as FailoverMode[]) {
        o.log(`failover: ${mode}, hot standby ${hotStandby ? 'on' : 'off'}, ${runs} runs`);
        series.push(await runSeries(cluster, ['fa', 'fb'], mode, hotStandby, runs, o.log));
        await Bun.sleep(1500); // the variant idles out before the next series
      }
    }
  } finally {
    await cluster.stop();
  }
  // FFmpeg start-up alone: the same command, fed the same clip at real time, to its first output byte.
  const input = new Uint8Array(readFileSync(clip.path));
  const ffmpegStartMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await runLocalFfmpeg(SPEC, input, { paceKbps: clip.bitrateKbps, stopAfterFirstByte: true });
    ffmpegStartMs.push(r.ttfbMs);
  }
  return { clip, liveness, series, ffmpegStartMs, runsEach: runs };
}
