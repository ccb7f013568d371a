// Hot standby: a second worker encodes the same source bytes; when the primary dies the
// client switches to the standby's output at its next keyframe. Measured in media time:
// the largest gap between video frames the client received is at most one GOP.
import { afterAll, describe, expect, test } from 'bun:test';
import { FAST_LIVENESS, TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { eventually } from '../helpers/processes';
import { largestGap, StreamRecorder, videoPacketTimes } from '../helpers/stream-recorder';

const GOP_SECONDS = TINY_H264_PROFILE.gopFrames / 25;
const FRAME = 1 / 25;

describe('hot standby', () => {
  const cluster = new TestCluster({ env: FAST_LIVENESS });
  let client: StreamRecorder | undefined;

  afterAll(async () => {
    await client?.close();
    await cluster.stop();
  });

  test('SIGKILL of the primary: no gap longer than one GOP', async () => {
    await cluster.startCoordinator();
    await Promise.all([cluster.startWorker('a'), cluster.startWorker('b')]);
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile({ ...TINY_H264_PROFILE, id: 'standby-240p', hotStandby: true });
    client = await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/pattern/standby-240p`);

    type Variants = { live: { job: { workerId: string; id: string } | null; standby: { workerId: string; bytesOut: number } | null }[] };
    // The standby is warm once it has produced output of its own (another process's
    // state: polled through the API with a deadline).
    const live = await eventually('the standby to produce output', async () => {
      const { body } = await cluster.coordinator.api<Variants>('/api/variants');
      const v = body.live[0];
      return v?.job && v.standby && v.standby.bytesOut > 0 ? { primary: v.job, standby: v.standby } : undefined;
    });
    const { primary, standby } = live;
    expect(standby.workerId).not.toBe(primary.workerId);
    await client.waitForBytes(60_000);

    const promoted = cluster.coordinator.proc.waitForMsg('hot standby promoted');
    const mark = client.total;
    cluster.workers.get(primary.workerId.replace(/^test-/, ''))!.kill('SIGKILL');
    const line = await promoted;
    expect(line.workerId).toBe(standby.workerId);
    await client.waitForBytes(100_000, mark);

    const times = await videoPacketTimes(client.all());
    expect(times.length).toBeGreaterThan(50);
    const gap = largestGap(times);
    expect(gap).toBeLessThanOrEqual(GOP_SECONDS + 2 * FRAME);

  });
});
