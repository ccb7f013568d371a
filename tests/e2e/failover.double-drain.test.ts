// Concurrent drains of a busy worker (issue 12, point 4): one handover per job however
// many drain requests arrive, drain of a draining worker changes nothing, and after the
// last client leaves no job stays running and no FFmpeg is left on any worker.
import { afterEach, describe, expect, test } from 'bun:test';
import { startPatternCluster, TestCluster } from '../helpers/cluster';
import { childrenNamed, eventually } from '../helpers/processes';
import { StreamRecorder } from '../helpers/stream-recorder';

type Variants = { live: { job: { workerId: string; id: string } | null }[]; recentlyEnded: { reason: string }[] };
type WorkerView = { id: string; state: string };
type JobView = { id: string; state: string; workerId: string; attempt: number; runId: string };

describe('double drain', () => {
  let cluster: TestCluster;
  let client: StreamRecorder | undefined;

  afterEach(async () => {
    await client?.close();
    client = undefined;
    await cluster.stop();
  });

  test('two concurrent drains of a busy worker give one handover; nothing runs after the last client leaves', async () => {
    const threeJobs = { TVARR_MAX_JOBS: '3', TVARR_MAX_CPU_JOBS: '3' };
    cluster = await startPatternCluster([{ name: 'a', env: threeJobs }, { name: 'b', env: threeJobs }]);
    client = await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/pattern/h264-240p`);
    await client.waitForBytes(20_000);
    const { body: before } = await cluster.coordinator.api<Variants>('/api/variants');
    const serving = before.live[0]!.job!.workerId;

    const oldJobEnded = cluster.coordinator.proc.waitForLog((l) => l.msg === 'job ended' && l.workerId === serving, 60_000);
    const drains = await Promise.all(
      [1, 2, 3].map(() => cluster.coordinator.api<WorkerView>(`/api/workers/${serving}/drain`, { method: 'POST' })),
    );
    for (const d of drains) {
      expect(d.status).toBe(200);
      expect(d.body.state).toBe('draining');
    }
    expect((await oldJobEnded).state).toBe('cancelled');
    // The client keeps playing from the other worker.
    await client.waitForBytes(50_000);
    expect(client.status).toBe(200);

    // One handover: the run has exactly two attempts, the old one and its replacement.
    const { body: jobs } = await cluster.coordinator.api<JobView[]>('/api/jobs?limit=100');
    expect(jobs.length).toBe(2);
    expect(jobs.filter((j) => j.state === 'running').length).toBe(1);
    expect(jobs.filter((j) => j.workerId === serving).map((j) => j.state)).toEqual(['cancelled']);

    // A later drain of the draining worker is a no-op: no new attempt, same state.
    const again = await cluster.coordinator.api<WorkerView>(`/api/workers/${serving}/drain`, { method: 'POST' });
    expect(again.status).toBe(200);
    expect(again.body.state).toBe('draining');
    expect((await cluster.coordinator.api<JobView[]>('/api/jobs?limit=100')).body.length).toBe(2);

    await client.close();
    client = undefined;
    await cluster.coordinator.proc.waitForLog((l) => l.msg === 'job ended' && l.reason === 'no clients left', 30_000);
    const workerPids = [...cluster.workers.values()].map((w) => w.pid);
    await eventually('no live job and no FFmpeg on any worker', async () => {
      const { body } = await cluster.coordinator.api<JobView[]>('/api/jobs?limit=100');
      const live = body.filter((j) => j.state === 'running' || j.state === 'pending');
      const ffmpegs = workerPids.flatMap((pid) => childrenNamed(pid, 'ffmpeg'));
      return live.length === 0 && ffmpegs.length === 0;
    }, 20_000);
    const { body: after } = await cluster.coordinator.api<Variants>('/api/variants');
    expect(after.live).toEqual([]);
  });
});
