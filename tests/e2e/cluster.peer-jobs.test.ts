// A job owned by one coordinator runs on a worker attached to another (issue 23): the
// owner's own worker is full, so it places the job on a worker whose Control stream a
// peer holds. The peer passes StartJob on; the worker opens the job stream to the owner
// directly (StartJob.job_stream_address); the worker's JobEnded comes back to the owner
// through the peer. When the peer dies, the worker moves its Control stream to the owner
// and the job goes on without a break (its owner is alive); the job is cancelled again
// over the worker's new Control stream.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { FAST_LIVENESS, TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL, type CoordinatorHandle } from '../helpers/cluster';
import { ffprobeBytes } from '../helpers/media';
import { childrenNamed, eventually, freePort, type LoggedProcess } from '../helpers/processes';
import { cutAtKeyframe, StreamRecorder } from '../helpers/stream-recorder';

const SECOND_PROFILE = { ...TINY_H264_PROFILE, id: 'h264-240p-b', name: 'H.264 240p (second)', videoBitrateKbps: 300 };

interface JobRow {
  id: string;
  state: string;
  sourceId: string;
  profileId: string;
  workerId: string;
  coordinatorId: string | null;
  failureReason: string | null;
}

interface WorkerRow {
  id: string;
  state: string;
  coordinatorId?: string | null;
}

describe('cluster: a job owned by one coordinator on a worker attached to another', () => {
  const cluster = new TestCluster({ engine: 'postgres', env: { ...FAST_LIVENESS, TVARR_CLUSTER_LEASE_MS: '1000' } });
  let a: CoordinatorHandle;
  let b: CoordinatorHandle;
  let onB: LoggedProcess;
  const viewers: StreamRecorder[] = [];

  const jobsOf = async (profileId: string, state?: string) =>
    (await a.api<JobRow[]>(`/api/jobs${state ? `?state=${state}` : ''}`)).body.filter((j) => j.sourceId === 'pattern' && j.profileId === profileId);

  beforeAll(async () => {
    // B's worker lists B and A (it moves to A when B is gone); A starts after it registered
    // on B, so it cannot have picked A first (a worker starts its list at a random entry).
    const aPorts = { http: await freePort(), grpc: await freePort() };
    b = await cluster.startCoordinator({ TVARR_COORDINATOR_ID: 'coord-b' });
    onB = await cluster.startWorker('on-b', { TVARR_COORDINATOR_URL: `${b.grpcAddress},127.0.0.1:${aPorts.grpc}` });
    a = await cluster.startCoordinator({ TVARR_COORDINATOR_ID: 'coord-a' }, aPorts);
    // A's own worker takes one job at most: the second variant cannot go there.
    await cluster.startWorker('on-a', { TVARR_MAX_JOBS: '1', TVARR_MAX_CPU_JOBS: '1' });
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);
    await cluster.createProfile(SECOND_PROFILE);
  }, 180_000);

  afterAll(async () => {
    for (const v of viewers) await v.close().catch(() => {});
    await cluster.stop();
  });

  test("A's second variant runs on B's worker: owned by A, its stream to A, its media plays", async () => {
    const first = await StreamRecorder.open(`${a.httpUrl}/stream/pattern/${TINY_H264_PROFILE.id}`);
    viewers.push(first);
    await first.waitForBytes(30_000);
    expect((await jobsOf(TINY_H264_PROFILE.id, 'running'))[0]?.workerId).toBe('test-on-a');

    const bLog = b.proc.lines.length;
    const second = await StreamRecorder.open(`${a.httpUrl}/stream/pattern/${SECOND_PROFILE.id}`);
    viewers.push(second);
    await second.waitForBytes(60_000);
    const [job] = await jobsOf(SECOND_PROFILE.id, 'running');
    expect(job?.workerId).toBe('test-on-b');
    expect(job?.coordinatorId).toBe('coord-a');
    // B holds the worker's Control stream and passed StartJob on; A got the job stream.
    const workers = (await a.api<WorkerRow[]>('/api/workers')).body;
    expect(workers.find((w) => w.id === 'test-on-b')?.coordinatorId).toBe('coord-b');
    await b.proc.waitForLog((l) => l.msg === 'cluster: job of a peer started on a worker held here' && l.jobId === job!.id, 5_000, bLog);
    await a.proc.waitForLog((l) => l.msg === 'job placed on a worker of another coordinator' && l.jobId === job!.id, 5_000);
    const probe = await ffprobeBytes(cutAtKeyframe(second.all(), 0));
    expect(probe.streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('h264');
    // One job per variant in the whole cluster, seen from either coordinator.
    expect((await b.api<JobRow[]>('/api/jobs?state=running')).body.filter((j) => j.sourceId === 'pattern').length).toBe(2);
  });

  test('the internal job endpoints: 401 without the cluster secret; with it, nothing the job rows do not back', async () => {
    const post = (path: string, body: unknown, secret?: string) =>
      fetch(`${b.httpUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(secret ? { 'x-tvarr-cluster-secret': secret } : {}) }, body: JSON.stringify(body) });
    const start = { ownerId: 'coord-a', workerId: 'test-on-b', startJob: { job_id: 'made-up', attempt: 0, spec: {}, stream_lanes: 0, job_stream_address: '127.0.0.1:1' } };
    // The admin token is not the cluster secret either.
    for (const secret of [undefined, 'wrong', cluster.coordinator.adminToken]) {
      expect((await post('/internal/worker-command', start, secret)).status).toBe(401);
      expect((await post('/internal/job-report', { jobId: 'x', attempt: 0, workerId: 'test-on-b' }, secret)).status).toBe(401);
    }
    const sql = new Bun.SQL(await cluster.postgresUrl());
    const [{ value: secret }] = await sql`select value from settings where key = 'cluster_secret'`;
    await sql.close();
    // A job nobody claimed is never started; a worker held elsewhere is not reachable here.
    const made = await post('/internal/worker-command', start, secret);
    expect(made.status).toBe(409);
    expect((await post('/internal/worker-command', { ...start, workerId: 'test-on-a' }, secret)).status).toBe(404);
    expect((await post('/internal/worker-command', { ...start, extra: 1 }, secret)).status).toBe(422);
    // A report about a job that is not the owner's live attempt changes nothing.
    const report = await post('/internal/job-report', { jobId: 'made-up', attempt: 0, workerId: 'test-on-b', ended: { state: 'failed', reason: 'x' } }, secret);
    expect(await report.json()).toEqual({ accepted: false });
    expect((await jobsOf(SECOND_PROFILE.id, 'running')).length).toBe(1);
  });

  test("the worker's end report reaches the owner through the peer: its FFmpeg killed, the owner records the worker's reason at once", async () => {
    const [job] = await jobsOf(SECOND_PROFILE.id, 'running');
    const ffmpeg = childrenNamed(onB.proc.pid, 'ffmpeg');
    expect(ffmpeg.length).toBe(1);
    process.kill(ffmpeg[0]!, 'SIGKILL');
    // The worker says so on Control (to B); B passes it to A. Without that, A would only
    // see the job stream end and write "job stream ended without an end report".
    const ended = await eventually('the attempt ended', async () => (await jobsOf(SECOND_PROFILE.id)).find((j) => j.id === job!.id && j.state === 'failed'), 15_000);
    expect(ended.failureReason).not.toContain('without an end report');
    expect(ended.failureReason).toMatch(/ffmpeg|signal|code/i);
    // The variant goes on: a new attempt (its viewer stays connected), again on B's worker.
    const next = await eventually('a new attempt', async () => (await jobsOf(SECOND_PROFILE.id, 'running'))[0], 30_000);
    expect(next.workerId).toBe('test-on-b');
    expect(next.coordinatorId).toBe('coord-a');
  });

  test("an admin cancel on A reaches the worker through B: that FFmpeg stops, the variant goes on with a new attempt", async () => {
    const [job] = await jobsOf(SECOND_PROFILE.id, 'running');
    const [pid] = childrenNamed(onB.proc.pid, 'ffmpeg');
    expect(pid).toBeDefined();
    const res = await a.api(`/api/jobs/${job!.id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    // Only B can tell the worker: without the relay its FFmpeg would run on unseen.
    await eventually('the cancelled FFmpeg gone', () => !childrenNamed(onB.proc.pid, 'ffmpeg').includes(pid!), 15_000);
    const next = await eventually('a new attempt', async () => (await jobsOf(SECOND_PROFILE.id, 'running')).find((j) => j.id !== job!.id), 30_000);
    expect(next.workerId).toBe('test-on-b');
  });

  test("B dies: its worker moves to A and A's job on it goes on, the same attempt, no break for the viewer", async () => {
    const [job] = await jobsOf(SECOND_PROFILE.id, 'running');
    const second = viewers[1]!;
    await second.waitForBytes(50_000, undefined, 30_000);
    const killedAt = Date.now();
    const aLog = a.proc.lines.length;
    b.proc.kill('SIGKILL');
    await a.proc.waitForLog((l) => l.msg === 'worker registered' && l.workerId === 'test-on-b', 30_000, aLog);
    await second.waitForBytes(100_000, undefined, 30_000);
    // Never cancelled on the move: the same attempt still runs, now held by A.
    const still = await jobsOf(SECOND_PROFILE.id, 'running');
    expect(still.map((j) => j.id)).toEqual([job!.id]);
    const workers = (await a.api<WorkerRow[]>('/api/workers')).body;
    expect(workers.find((w) => w.id === 'test-on-b')?.coordinatorId).toBe('coord-a');
    // The job stream went to A all along: the viewer's media never stopped for the move
    // (a new attempt would be a new FFmpeg's start: the job id above already says none
    // came; this bound only allows for a loaded machine).
    expect(second.largestSilenceSince(killedAt)).toBeLessThan(2500);
  });

  test("the viewer leaves: A cancels the job over the worker's new Control stream", async () => {
    const [job] = await jobsOf(SECOND_PROFILE.id, 'running');
    await viewers[1]!.close();
    const ended = await eventually('the job cancelled', async () => (await jobsOf(SECOND_PROFILE.id)).find((j) => j.id === job!.id && j.state !== 'running'), 15_000);
    expect(ended.state).toBe('cancelled');
    await eventually('its FFmpeg gone', () => childrenNamed(onB.proc.pid, 'ffmpeg').length === 0, 15_000);
  });
});
