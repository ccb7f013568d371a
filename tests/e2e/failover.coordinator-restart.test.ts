// Coordinator SIGKILL and restart on the same database (the SQLite file, then PostgreSQL):
// workers reconnect by themselves, nothing durable is lost, and a client reconnecting
// gets its stream again.
import { afterAll, describe, expect, test } from 'bun:test';
import { FAST_LIVENESS, TEST_ENGINES, TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { ffprobeBytes } from '../helpers/media';
import { cutAtKeyframe, StreamRecorder } from '../helpers/stream-recorder';

type JobView = { id: string; state: string; failureReason: string | null };

describe.each(TEST_ENGINES)('coordinator restart (%s)', (engine) => {
  const cluster = new TestCluster({ env: FAST_LIVENESS, engine });
  const clients: StreamRecorder[] = [];

  afterAll(async () => {
    for (const c of clients) await c.close();
    await cluster.stop();
  });

  test('SIGKILL + restart: workers come back online without a restart of their own; state is intact', async () => {
    const first = await cluster.startCoordinator();
    const workerA = await cluster.startWorker('a');
    const workerB = await cluster.startWorker('b');
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);
    const client = await StreamRecorder.open(`${first.httpUrl}/stream/pattern/h264-240p`);
    clients.push(client);
    await client.waitForBytes(20_000);
    const { body: before } = await first.api<JobView[]>('/api/jobs');
    expect(before[0]!.state).toBe('running');

    const ports = { http: Number(new URL(first.httpUrl).port), grpc: Number(first.grpcAddress.split(':')[1]) };
    first.proc.kill('SIGKILL');
    await first.proc.exited;
    expect(await client.finished).not.toBe('closed'); // the old process's clients are cut off

    const second = await cluster.startCoordinator({}, ports);
    await Promise.all(
      ['test-a', 'test-b'].map((id) => second.proc.waitForLog((l) => l.msg === 'worker registered' && l.workerId === id, 60_000)),
    );
    expect(workerA.proc.exitCode).toBeNull();
    expect(workerB.proc.exitCode).toBeNull();

    const { body: workers } = await second.api<{ id: string; state: string }[]>('/api/workers');
    expect(workers.map((w) => [w.id, w.state]).sort()).toEqual([
      ['test-a', 'online'],
      ['test-b', 'online'],
    ]);
    const { body: sources } = await second.api<{ id: string }[]>('/api/sources');
    expect(sources.map((s) => s.id)).toEqual(['pattern']);
    const { body: profiles } = await second.api<{ id: string }[]>('/api/profiles');
    expect(profiles.map((p) => p.id)).toEqual(['h264-240p']);
    const { body: old } = await second.api<JobView>(`/api/jobs/${before[0]!.id}`);
    expect(old.state).toBe('failed');
    expect(old.failureReason).toBe('coordinator restarted');

    const again = await StreamRecorder.open(`${second.httpUrl}/stream/pattern/h264-240p`);
    clients.push(again);
    await again.waitForBytes(100_000);
    const probe = await ffprobeBytes(cutAtKeyframe(again.all(), 0));
    expect(probe.streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('h264');
  });
});
