// Hot standby at the default liveness settings: a second worker encodes the same source,
// its keyframes on the source's keyframes like the primary's, and its last seconds of
// output are held. When the primary is lost (SIGKILL twice, then a partition by SIGSTOP)
// the client goes on from the standby at the frame after the last one it got: its
// recording has no hole longer than two frame intervals, no frame twice, and decodes
// without an error. Every step waits for the coordinator's log lines, the API or the
// client's bytes, never for the clock.
import { afterAll, expect, test } from 'bun:test';
import { ContinuityChecker } from '../../common/mpegts';
import { PTS_HZ } from '../../coordinator/streams/splice-point';
import { TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { decodeErrors } from '../helpers/media';
import { eventually } from '../helpers/processes';
import { StreamRecorder, videoPtsSteps } from '../helpers/stream-recorder';

const FRAME_TICKS = PTS_HZ / 25;
const PROFILE = { ...TINY_H264_PROFILE, id: 'standby-240p', hotStandby: true };
// No liveness variables: the defaults from common/liveness.ts are what is tested.
const cluster = new TestCluster();
let client: StreamRecorder | undefined;

afterAll(async () => {
  await client?.close();
  await cluster.stop();
});

type Variants = { live: { job: { workerId: string } | null; standby: { workerId: string; bytesOut: number } | null }[] };

const startWorker = (name: string) => cluster.startWorker(name, { TVARR_PROBE_TIMEOUT_MS: '30000' }, { registerTimeoutMs: 300_000 });

/** The serving worker and a standby that has made output of its own (polled through the API). */
function warmPair(on: TestCluster = cluster): Promise<{ primary: string; standby: string }> {
  return eventually(
    'a warm standby',
    async () => {
      const v = (await on.coordinator.api<Variants>('/api/variants')).body.live[0];
      return v?.job && v.standby && v.standby.bytesOut > 0 ? { primary: v.job.workerId, standby: v.standby.workerId } : undefined;
    },
    180_000,
  );
}

/** Signals the primary's worker; waits for the standby's promotion, its splice, and output at the client. */
async function failOver(signal: 'SIGKILL' | 'SIGSTOP'): Promise<string> {
  const { primary, standby } = await warmPair();
  expect(standby).not.toBe(primary);
  const log = cluster.coordinator.proc;
  const from = log.lines.length;
  const promoted = log.waitForLog((l) => l.msg === 'hot standby promoted', 90_000, from);
  const spliced = log.waitForLog((l) => l.msg === 'failover spliced' && l.at === 'frame', 90_000, from);
  const name = primary.replace(/^test-/, '');
  cluster.workers.get(name)!.kill(signal);
  expect((await promoted).workerId).toBe(standby);
  await spliced;
  await client!.waitForBytes(100_000, client!.total, 90_000);
  return name;
}

/** The recording decodes cleanly, counters are valid, and video PTS step forward by at most two frames. */
async function expectNoFrameMissingOrRepeated(all: Uint8Array): Promise<void> {
  const bytes = all.subarray(0, all.length - (all.length % 188));
  expect(await decodeErrors(bytes)).toBe('');
  expect(new ContinuityChecker().check(bytes)).toEqual([]);
  // Video presentation timestamps: each later than the one before (the profile has no
  // B-frames, so stream order is presentation order), and no step over two frames.
  const { steps, notForward } = videoPtsSteps(bytes);
  expect(notForward).toEqual([]);
  expect(steps.length).toBeGreaterThan(150);
  expect(Math.max(...steps)).toBeLessThanOrEqual(2 * FRAME_TICKS);
}

test('hot standby: through two SIGKILLs and a SIGSTOP the client misses no frame and gets none twice', async () => {
  await cluster.startCoordinator();
  await Promise.all(['a', 'b', 'c'].map(startWorker));
  await cluster.createSource('pattern', TINY_PATTERN_URL);
  await cluster.createProfile(PROFILE);
  client = await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/pattern/${PROFILE.id}`);
  await client.waitForBytes(100_000, 0, 90_000);

  const first = await failOver('SIGKILL');
  await startWorker(first); // a third worker again, for the next standby
  const second = await failOver('SIGKILL');
  await startWorker(second);
  const partitioned = await failOver('SIGSTOP');
  cluster.workers.get(partitioned)!.kill('SIGCONT');

  await client.close();
  await expectNoFrameMissingOrRepeated(client.all());
}, 900_000);

// No standby ready when the primary is lost (its worker is the only other one, and the
// next standby is not retried for a minute): the replacement is dispatched at once, fed
// from the source GOP, and because its keyframes are the source's too it also joins at
// the frame after the last one delivered, not at a keyframe.
test('a hot-standby variant with no standby ready: the replacement also joins at the next frame', async () => {
  const solo = new TestCluster({ env: { TVARR_RETRY_BACKOFF_MAX_MS: '60000' } });
  let recorder: StreamRecorder | undefined;
  try {
    await solo.startCoordinator();
    const oneJob = { TVARR_MAX_JOBS: '1', TVARR_MAX_CPU_JOBS: '1', TVARR_PROBE_TIMEOUT_MS: '30000' };
    await Promise.all(['a', 'b'].map((n) => solo.startWorker(n, oneJob, { registerTimeoutMs: 300_000 })));
    await solo.createSource('pattern', TINY_PATTERN_URL);
    await solo.createProfile(PROFILE);
    recorder = await StreamRecorder.open(`${solo.coordinator.httpUrl}/stream/pattern/${PROFILE.id}`);
    const log = solo.coordinator.proc;
    const pair = await warmPair(solo);
    await recorder.waitForBytes(100_000, 0, 90_000);

    // 1. The primary dies: the standby takes over; no worker is left for a new standby.
    let from = log.lines.length;
    const noStandby = log.waitForLog((l) => l.msg === 'no hot standby available', 60_000, from);
    solo.workers.get(pair.primary.replace(/^test-/, ''))!.kill('SIGKILL');
    await noStandby;
    // 2. The killed worker comes back (free, one slot); the next standby is a minute away.
    const restarted = pair.primary.replace(/^test-/, '');
    await solo.startWorker(restarted, oneJob, { registerTimeoutMs: 300_000 });
    await recorder.waitForBytes(100_000, recorder.total, 90_000);
    // 3. The serving worker dies with no standby: a plain failover to the restarted one.
    from = log.lines.length;
    const resumed = log.waitForLog((l) => l.msg === 'variant resumed on a new worker', 60_000, from);
    const spliced = log.waitForLog((l) => l.msg === 'failover spliced' && l.at === 'frame', 60_000, from);
    solo.workers.get(pair.standby.replace(/^test-/, ''))!.kill('SIGKILL');
    expect((await resumed).workerId).toBe(pair.primary);
    await spliced;
    expect(log.lines.slice(from).some((l) => l.msg === 'hot standby promoted')).toBe(false);
    await recorder.waitForBytes(100_000, recorder.total, 90_000);
    await recorder.close();
    await expectNoFrameMissingOrRepeated(recorder.all());
  } finally {
    await recorder?.close();
    await solo.stop();
  }
}, 900_000);
