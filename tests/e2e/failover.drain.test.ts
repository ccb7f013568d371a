// Drain with a client watching: through the admin API and by SIGTERM to the worker.
// The job moves to the other worker and the client's connection never drops.
import { afterEach, describe, expect, test } from 'bun:test';
import { startPatternCluster, TestCluster } from '../helpers/cluster';
import { ffprobeBytes } from '../helpers/media';
import { cutAtKeyframe, StreamRecorder } from '../helpers/stream-recorder';

type Variants = { live: { job: { workerId: string; id: string } | null }[] };
type WorkerView = { id: string; state: string; activeJobs: number };

describe('drain', () => {
  let cluster: TestCluster;
  let client: StreamRecorder | undefined;

  afterEach(async () => {
    await client?.close();
    client = undefined;
    await cluster.stop();
  });

  async function streaming(): Promise<{ workerId: string; name: string }> {
    cluster = await startPatternCluster(['a', 'b']);
    client = await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/pattern/h264-240p`);
    await client.waitForBytes(20_000);
    const { body } = await cluster.coordinator.api<Variants>('/api/variants');
    const workerId = body.live[0]!.job!.workerId;
    return { workerId, name: workerId.replace(/^test-/, '') };
  }

  async function expectPlayingFrom(otherThan: string): Promise<void> {
    const mark = client!.total;
    await client!.waitForBytes(150_000, mark);
    const probe = await ffprobeBytes(cutAtKeyframe(client!.all(), mark));
    expect(probe.streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('h264');
    const { body } = await cluster.coordinator.api<Variants>('/api/variants');
    expect(body.live[0]!.job!.workerId).not.toBe(otherThan);
    expect(client!.status).toBe(200);
  }

  test('POST /api/workers/:id/drain moves the job without dropping the client; the worker stays idle until resumed', async () => {
    const serving = await streaming();
    const jobEnded = cluster.coordinator.proc.waitForLog((l) => l.msg === 'job ended' && l.workerId === serving.workerId);
    const res = await cluster.coordinator.api<WorkerView>(`/api/workers/${serving.workerId}/drain`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(res.body.state).toBe('draining');
    const ended = await jobEnded;
    expect(ended.state).toBe('cancelled');
    await expectPlayingFrom(serving.workerId);

    const { body: drained } = await cluster.coordinator.api<WorkerView>(`/api/workers/${serving.workerId}`);
    expect(drained.state).toBe('draining');
    expect(drained.activeJobs).toBe(0);
    expect(cluster.workers.get(serving.name)!.proc.exitCode).toBeNull();
    const resumed = await cluster.coordinator.api<WorkerView>(`/api/workers/${serving.workerId}/resume`, { method: 'POST' });
    expect(resumed.body.state).toBe('online');
    const again = await cluster.coordinator.api<{ error: { code: string } }>(`/api/workers/${serving.workerId}/resume`, { method: 'POST' });
    expect(again.status).toBe(409);
  });

  test('SIGTERM to the serving worker: the job moves, the client stays, then the worker exits', async () => {
    const serving = await streaming();
    const proc = cluster.workers.get(serving.name)!;
    const draining = cluster.coordinator.proc.waitForLog((l) => l.msg === 'worker draining' && l.workerId === serving.workerId);
    proc.kill('SIGTERM');
    await draining;
    expect(await proc.exited).toBe(0);
    await expectPlayingFrom(serving.workerId);
    const { body: jobs } = await cluster.coordinator.api<{ workerId: string; state: string; failureReason: string | null }[]>(
      `/api/jobs?workerId=${serving.workerId}`,
    );
    expect(jobs[0]!.state).toBe('cancelled');
    expect(jobs[0]!.failureReason).toContain('draining');
  });
});
