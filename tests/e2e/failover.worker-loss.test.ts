// Worker loss with a client watching: SIGKILL (connection drops) and SIGSTOP (a
// partition: the socket stays open, heartbeats stop). The client's HTTP response must
// survive both, and the output must resume from another worker.
import { afterEach, describe, expect, test } from 'bun:test';
import { startPatternCluster, TestCluster } from '../helpers/cluster';
import { decodeErrors, ffprobeBytes } from '../helpers/media';
import { childrenNamed, eventually } from '../helpers/processes';
import { cutAtKeyframe, StreamRecorder } from '../helpers/stream-recorder';

interface VariantsView {
  live: { variant: string; job: { id: string; workerId: string; attempt: number } | null; segment: number }[];
}
interface JobView {
  id: string;
  runId: string;
  workerId: string;
  state: string;
  attempt: number;
  failureReason: string | null;
}

async function servingWorker(cluster: TestCluster): Promise<{ workerId: string; jobId: string; name: string }> {
  const { body } = await cluster.coordinator.api<VariantsView>('/api/variants');
  const job = body.live[0]?.job;
  if (!job) throw new Error('no live variant');
  return { workerId: job.workerId, jobId: job.id, name: job.workerId.replace(/^test-/, '') };
}

async function jobHistory(cluster: TestCluster, jobId: string): Promise<JobView[]> {
  const { body: first } = await cluster.coordinator.api<JobView>(`/api/jobs/${jobId}`);
  const { body: all } = await cluster.coordinator.api<JobView[]>('/api/jobs?limit=1000');
  return all.filter((j) => j.runId === first.runId).sort((a, b) => a.attempt - b.attempt);
}

describe('failover on worker loss', () => {
  let cluster: TestCluster;
  let client: StreamRecorder | undefined;

  afterEach(async () => {
    await client?.close();
    client = undefined;
    await cluster.stop();
  });

  async function startStreaming(): Promise<void> {
    cluster = await startPatternCluster(['a', 'b']);
    client = await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/pattern/h264-240p`);
    await client.waitForBytes(20_000);
  }

  test('SIGKILL of the serving worker: the client stays connected and output resumes from the other worker', async () => {
    await startStreaming();
    const serving = await servingWorker(cluster);
    const resumed = cluster.coordinator.proc.waitForMsg('variant resumed on a new worker');
    cluster.workers.get(serving.name)!.kill('SIGKILL');
    const line = await resumed;
    expect(line.workerId).not.toBe(serving.workerId);

    const mark = client!.total;
    await client!.waitForBytes(60_000, mark);
    const after = client!.bytesAfter(mark);
    const probe = await ffprobeBytes(after);
    expect(probe.formatName).toBe('mpegts');
    expect(probe.streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('h264');

    const history = await jobHistory(cluster, serving.jobId);
    expect(history[0]!.state).toBe('failed');
    expect(history[0]!.workerId).toBe(serving.workerId);
    expect(history[0]!.failureReason).toMatch(/worker lost|job stream (cancelled|error)/);
    const current = history.at(-1)!;
    expect(current.state).toBe('running');
    expect(current.attempt).toBeGreaterThan(1);
    expect(current.workerId).not.toBe(serving.workerId);
  });

  test('partition (SIGSTOP): the job moves after the deadline; after SIGCONT late output is ignored and the worker rejoins', async () => {
    await startStreaming();
    const serving = await servingWorker(cluster);
    const proc = cluster.workers.get(serving.name)!;
    const lost = cluster.coordinator.proc.waitForMsg('worker lost', 30_000, (l) => l.workerId === serving.workerId);
    const resumed = cluster.coordinator.proc.waitForMsg('variant resumed on a new worker');
    expect(childrenNamed(proc.pid, 'ffmpeg')).toHaveLength(1);
    proc.kill('SIGSTOP');
    const lostLine = await lost;
    expect(String(lostLine.reason).length).toBeGreaterThan(0);
    await resumed;
    const mark = client!.total;
    await client!.waitForBytes(40_000, mark);

    const seen = cluster.coordinator.proc.lines.length;
    const rejoined = cluster.coordinator.proc.waitForLog((l) => l.msg === 'worker registered' && l.workerId === serving.workerId, 30_000, seen);
    proc.kill('SIGCONT');
    await rejoined;

    // Its FFmpeg for the lost job is gone (no event crosses processes: poll /proc with a deadline).
    await eventually('the partitioned worker to stop its orphaned FFmpeg', () => childrenNamed(proc.pid, 'ffmpeg').length === 0);
    // The old attempt stays failed: nothing the old worker sent after its loss changed it.
    const history = await jobHistory(cluster, serving.jobId);
    expect(history[0]!.state).toBe('failed');
    const { body: workers } = await cluster.coordinator.api<{ id: string; state: string }[]>('/api/workers');
    expect(workers.find((w) => w.id === serving.workerId)?.state).toBe('online');
    // And what the client gets after the rejoin is still one clean stream.
    const mark2 = client!.total;
    await client!.waitForBytes(150_000, mark2); // a few GOPs at 400 kbit/s
    expect(await decodeErrors(cutAtKeyframe(client!.all(), mark2))).toBe('');
    const { body: variants } = await cluster.coordinator.api<VariantsView>('/api/variants');
    expect(variants.live[0]!.job!.workerId).not.toBe(serving.workerId);
  });
});
