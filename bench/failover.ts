// Failover gap: ms from SIGKILL (connection drops) or SIGSTOP (a partition: the socket
// stays open, messages stop) of the serving worker to the first byte of the new producer
// at a connected client; the first failover of a variant, repeated ones (each after the
// variant has been healthy for HEALTHY_RUN_MS, 5 s), partitions, and hot standby. Compared
// with FFmpeg start-up alone, measured in the same run: a fresh FFmpeg with the worker's
// command on the same input, fed at real time from a keyframe, to its first output byte.
//
// "First new byte": the client's chunks are timestamped on arrival; after the signal the
// old producer's last bytes may still trickle in, then nothing, then the new producer.
// The new output starts after the longest silence following the signal. The media side is
// read from the client's recording: the largest step between successive video PTS across
// the splice (what is missing) and how many video frames came twice (what repeated).
//
// Short on purpose (one cluster, four workers started once, ~2-3 minutes on a loaded
// 2-core machine): `bun bench/failover.ts --settings=default|fast [--runs=N]` prints JSON.
import { readFileSync } from 'node:fs';
import { existsSync, mkdirSync } from 'node:fs';
import { testPatternArgs } from '../coordinator/streams/source-input';
import { PTS_HZ } from '../coordinator/streams/splice-point';
import { FAST_LIVENESS, type TestCluster, TINY_PATTERN_URL } from '../tests/helpers/cluster';
import { StreamRecorder, videoPesPts } from '../tests/helpers/stream-recorder';
import type { TranscodeSpec } from '../worker/runner/transcode-spec';
import { benchCluster, type Clip, MEDIA_DIR, runLocalFfmpeg } from './common';

const PROFILE = {
  id: 'fo-240p', name: 'failover 240p', videoCodec: 'h264', width: 320, height: 240, videoBitrateKbps: 400,
  audioCodec: 'aac', audioBitrateKbps: 64, gopFrames: 25, preset: 'ultrafast',
};
const SPEC: TranscodeSpec = {
  encoder: 'libx264', width: 320, height: 240, videoBitrateKbps: 400, audioCodec: 'aac', audioBitrateKbps: 64, gopFrames: 25, preset: 'ultrafast',
};
const WORKERS = ['fa', 'fb', 'fc', 'fd'];
// Past HEALTHY_RUN_MS (coordinator/streams/variant-run.ts, 5 s): a repeated failover is one of a healthy variant.
const HEALTHY_WAIT_MS = 5_500;

export type FailoverMode = 'SIGKILL' | 'SIGSTOP';
export type Settings = 'default' | 'fast';

export interface FailoverSeries {
  mode: FailoverMode;
  hotStandby: boolean;
  /** 'first' failover of the variant, or 'repeated' (after it was healthy again) */
  case: 'first' | 'repeated';
  gapsMs: number[];
  /** largest step between successive video PTS across the splice, ms */
  mediaGapsMs: number[];
  /** video frames the client got twice across the splice */
  repeatedFrames: number[];
}

export interface FailoverResult {
  clip: Clip;
  settings: Settings;
  liveness: Record<string, string>;
  series: FailoverSeries[];
  ffmpegStartMs: number[];
  runsEach: number;
}

interface VariantsView {
  live: { sourceId: string; profileId: string; job: { workerId: string } | null; standby: { workerId: string } | null; segment: number }[];
}

async function variantState(cluster: TestCluster, profileId: string) {
  const { body } = await cluster.coordinator.api<VariantsView>('/api/variants');
  return body.live.find((v) => v.profileId === profileId);
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
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

/** Largest video PTS step (ms) and frames seen twice, in a recording cut on packets. */
function mediaAcross(bytes: Uint8Array): { gapMs: number; repeated: number } {
  const seen = new Set<number>();
  let last = -1;
  let gap = 0;
  let repeated = 0;
  for (const { pts } of videoPesPts(bytes)) {
    if (seen.has(pts)) repeated++;
    seen.add(pts);
    if (last >= 0 && pts > last) gap = Math.max(gap, pts - last);
    last = Math.max(last, pts);
  }
  return { gapMs: (gap * 1000) / PTS_HZ, repeated };
}

/** Starts a worker and waits for its new registration (probing takes a minute on a loaded machine). */
async function startWorker(cluster: TestCluster, name: string): Promise<void> {
  await cluster.startWorker(name, { TVARR_PROBE_TIMEOUT_MS: '30000' }, { registerTimeoutMs: 300_000 });
}

async function failOnce(
  cluster: TestCluster,
  client: StreamRecorder,
  profileId: string,
  mode: FailoverMode,
  hotStandby: boolean,
): Promise<{ gapMs: number; mediaGapMs: number; repeated: number; worker: string }> {
  const state = await until('a serving worker' + (hotStandby ? ' and a standby' : ''), async () => {
    const v = await variantState(cluster, profileId);
    return v?.job && (!hotStandby || v.standby) ? v : undefined;
  });
  await client.waitForBytes(20_000, client.total, 60_000);
  const serving = state.job!.workerId.replace(/^test-/, '');
  const proc = cluster.workers.get(serving)!;
  const mark = client.total;
  const t = Date.now();
  proc.kill(mode);
  await until('output from the new producer', async () => {
    const v = await variantState(cluster, profileId);
    return v && v.segment > state.segment && v.job?.workerId !== state.job!.workerId ? v : undefined;
  });
  await client.waitForBytes(60_000, client.total, 60_000);
  const gapMs = gapAfter(client.chunks, t);
  const media = mediaAcross(client.bytesAfter(Math.max(0, mark - 30_000)));
  return { gapMs, mediaGapMs: media.gapMs, repeated: media.repeated, worker: serving };
}

async function rejoin(cluster: TestCluster, name: string): Promise<void> {
  const log = cluster.coordinator.proc;
  const back = log.waitForLog((l) => l.msg === 'worker registered' && l.workerId === `test-${name}`, 60_000, log.lines.length);
  cluster.workers.get(name)!.kill('SIGCONT');
  await back;
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

export async function benchFailover(o: { quick: boolean; log: (s: string) => void; settings?: Settings; runs?: number }): Promise<FailoverResult> {
  const settings = o.settings ?? 'default';
  const runs = o.runs ?? (o.quick ? 2 : 3);
  const clip = await recordPattern();
  const liveness: Record<string, string> = settings === 'fast' ? { ...FAST_LIVENESS } : {};
  const cluster = benchCluster(liveness);
  const add = (series: FailoverSeries[], mode: FailoverMode, hotStandby: boolean, c: FailoverSeries['case']) => {
    let s = series.find((x) => x.mode === mode && x.hotStandby === hotStandby && x.case === c);
    if (!s) series.push((s = { mode, hotStandby, case: c, gapsMs: [], mediaGapsMs: [], repeatedFrames: [] }));
    return s;
  };
  const series: FailoverSeries[] = [];
  const record = (s: FailoverSeries, r: { gapMs: number; mediaGapMs: number; repeated: number }) => {
    s.gapsMs.push(r.gapMs);
    s.mediaGapsMs.push(r.mediaGapMs);
    s.repeatedFrames.push(r.repeated);
    o.log(`  ${s.mode}${s.hotStandby ? ' hot standby' : ''} (${s.case}): ${r.gapMs.toFixed(0)} ms to new bytes; media gap ${r.mediaGapMs.toFixed(0)} ms, ${r.repeated} frames repeated`);
  };
  let client: StreamRecorder | undefined;
  try {
    await cluster.startCoordinator();
    await Promise.all(WORKERS.map((n) => startWorker(cluster, n)));
    await cluster.createSource('fo-src', TINY_PATTERN_URL);
    await cluster.createProfile(PROFILE);
    await cluster.createProfile({ ...PROFILE, id: `${PROFILE.id}-hs`, name: 'failover 240p hot standby', hotStandby: true });
    client = await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/fo-src/${PROFILE.id}`);
    await client.waitForBytes(30_000, 0, 90_000);
    // SIGKILL: the variant's first failover, then one after it has been healthy again.
    record(add(series, 'SIGKILL', false, 'first'), await failOnce(cluster, client, PROFILE.id, 'SIGKILL', false));
    await Bun.sleep(HEALTHY_WAIT_MS);
    record(add(series, 'SIGKILL', false, 'repeated'), await failOnce(cluster, client, PROFILE.id, 'SIGKILL', false));
    // SIGSTOP (partition), each after a healthy period; the frozen worker comes back.
    for (let i = 0; i < runs; i++) {
      await Bun.sleep(HEALTHY_WAIT_MS);
      const r = await failOnce(cluster, client, PROFILE.id, 'SIGSTOP', false);
      record(add(series, 'SIGSTOP', false, i === 0 ? 'first' : 'repeated'), r);
      await rejoin(cluster, r.worker);
    }
    await client.close();
    // Hot standby: two live workers left; SIGSTOP first (the worker comes back), then SIGKILL.
    client = await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/fo-src/${PROFILE.id}-hs`);
    await client.waitForBytes(30_000, 0, 90_000);
    for (const mode of ['SIGSTOP', 'SIGKILL'] as FailoverMode[]) {
      await until('the standby past its start-up', async () => (await variantState(cluster, `${PROFILE.id}-hs`))?.standby);
      await Bun.sleep(1500); // its FFmpeg past start-up
      const r = await failOnce(cluster, client, `${PROFILE.id}-hs`, mode, true);
      record(add(series, mode, true, 'first'), r);
      if (mode === 'SIGSTOP') await rejoin(cluster, r.worker);
    }
  } catch (err) {
    o.log(`failover bench failed; coordinator log tail:\n${cluster.coordinator?.proc.rawTail.slice(-25).join('\n')}`);
    throw err;
  } finally {
    await client?.close();
    await cluster.stop();
  }
  // FFmpeg start-up alone: the same command, fed the same clip at real time, to its first output byte.
  const input = new Uint8Array(readFileSync(clip.path));
  const ffmpegStartMs: number[] = [];
  for (let i = 0; i < Math.max(3, runs); i++) {
    const r = await runLocalFfmpeg(SPEC, input, { paceKbps: clip.bitrateKbps, stopAfterFirstByte: true });
    ffmpegStartMs.push(r.ttfbMs);
  }
  return { clip, settings, liveness, series, ffmpegStartMs, runsEach: runs };
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  return { n: s.length, p50: Math.round(q(50)), p90: Math.round(q(90)), max: Math.round(s.at(-1)!) };
}

if (import.meta.main) {
  const arg = (k: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.split('=')[1];
  const r = await benchFailover({ quick: true, log: (s) => console.error(s), settings: (arg('settings') as Settings) ?? 'default', runs: Number(arg('runs') ?? 2) });
  const ff = stats(r.ffmpegStartMs);
  console.log(
    JSON.stringify({
      settings: r.settings,
      liveness: r.liveness,
      ffmpegStart: ff,
      series: r.series.map((s) => ({
        case: `${s.mode}${s.hotStandby ? ' hot standby' : ''} ${s.case}`,
        gap: stats(s.gapsMs),
        overFfmpegP50Ms: stats(s.gapsMs).p50 - ff.p50,
        mediaGapMs: stats(s.mediaGapsMs),
        repeatedFrames: s.repeatedFrames,
      })),
    }),
  );
  process.exit(0);
}
