// When failover cannot succeed: a lone worker dies (the run gives up after its retry
// budget and the client gets a clean end), and a worker whose FFmpeg fails every job
// while the same spec runs on other workers (quarantined, the job runs elsewhere; an
// admin can lift it).
import { afterEach, describe, expect, test } from 'bun:test';
import { chmodSync, writeFileSync } from 'node:fs';
import { FAST_LIVENESS, startPatternCluster, TEST_ENGINES, TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { ffprobeBytes } from '../helpers/media';
import { cutAtKeyframe, StreamRecorder } from '../helpers/stream-recorder';

type Variants = {
  live: { job: { workerId: string } | null }[];
  recentlyEnded: { variant: string; reason: string }[];
};

// Once per store engine: the SQLite file and PostgreSQL (issue 22).
describe.each(TEST_ENGINES)('failover limits (%s)', (engine) => {
  let cluster: TestCluster;
  let client: StreamRecorder | undefined;

  afterEach(async () => {
    await client?.close();
    client = undefined;
    await cluster.stop();
  });

  test('the only worker dies: after the retry budget the client gets a clean end and the API says why', async () => {
    cluster = await startPatternCluster(['only'], { env: { ...FAST_LIVENESS, TVARR_MAX_ATTEMPTS: '3' }, engine });
    client = await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/pattern/h264-240p`);
    await client.waitForBytes(20_000);

    const gaveUp = cluster.coordinator.proc.waitForMsg('variant failed');
    cluster.workers.get('only')!.kill('SIGKILL');
    const line = await gaveUp;
    expect(String(line.reason)).toContain('gave up after 3 failed attempts');
    expect(await client.finished).toBe('end');

    const { body } = await cluster.coordinator.api<Variants>('/api/variants');
    expect(body.live).toHaveLength(0);
    expect(body.recentlyEnded[0]!.variant).toBe('pattern/h264-240p');
    expect(body.recentlyEnded[0]!.reason).toContain('no online worker');
    const { body: jobs } = await cluster.coordinator.api<{ state: string; failureReason: string }[]>('/api/jobs?workerId=test-only');
    expect(jobs[0]!.state).toBe('failed');
    expect(jobs[0]!.failureReason.length).toBeGreaterThan(0);
  });

  test('a worker whose FFmpeg fails every job while the same spec runs elsewhere is quarantined, and the job runs elsewhere', async () => {
    cluster = new TestCluster({ env: { ...FAST_LIVENESS, TVARR_MAX_ATTEMPTS: '50', TVARR_QUARANTINE_FAILURES: '2' }, engine });
    // A real process standing in for a broken FFmpeg install: it passes the probe (which
    // does not read stdin) and crashes on every job (which reads pipe:0).
    const broken = `${cluster.temp.dir}/ffmpeg-that-crashes-on-jobs`;
    writeFileSync(
      broken,
      '#!/bin/sh\ncase " $* " in *" pipe:0 "*) echo "simulated encoder crash" >&2; exit 1;; esac\nexec ffmpeg "$@"\n',
    );
    chmodSync(broken, 0o755);
    await cluster.startCoordinator();
    // The same spec (profile h264-240p on libx264) runs on a healthy worker: FFmpeg failing
    // on it elsewhere is that worker's fault, not the spec's.
    await cluster.startWorker('healthy');
    for (const id of ['pattern', 'pattern2', 'pattern3']) await cluster.createSource(id, TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);
    client = await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/pattern/h264-240p`);
    await client.waitForBytes(20_000);
    const second = await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/pattern2/h264-240p`);
    await second.waitForBytes(20_000);

    // The healthy worker is full (2 of 2): the third variant can only go to the broken one.
    await cluster.startWorker('broken', { TVARR_FFMPEG_PATH: broken });
    const quarantined = cluster.coordinator.proc.waitForLog((l) => l.msg === 'worker quarantined' && l.workerId === 'test-broken', 90_000);
    // Like a player, retry while the coordinator answers 503 (every attempt failed at start).
    let isQuarantined = false;
    void quarantined.then(() => (isQuarantined = true));
    let third: StreamRecorder | null = null;
    while (!isQuarantined && !third) {
      third = await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/pattern3/h264-240p`).catch(() => null);
      if (!third) await Promise.race([quarantined, Bun.sleep(200)]);
    }
    await quarantined;
    const { body: w } = await cluster.coordinator.api<{ quarantinedUntil: number | null; quarantineReason: string | null }>(
      '/api/workers/test-broken',
    );
    expect(w.quarantinedUntil).toBeGreaterThan(Date.now());
    expect(w.quarantineReason).toContain('failed jobs whose spec runs on other workers');
    expect(w.quarantineReason).toContain('simulated encoder crash');
    const { body: healthy } = await cluster.coordinator.api<{ quarantinedUntil: number | null }>('/api/workers/test-healthy');
    expect(healthy.quarantinedUntil).toBeNull();

    await cluster.startWorker('healthy2');
    const thirdClient = third ?? (await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/pattern3/h264-240p`));
    try {
      await thirdClient.waitForBytes(150_000);
      const probe = await ffprobeBytes(cutAtKeyframe(thirdClient.all(), 0));
      expect(probe.streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('h264');
      const { body } = await cluster.coordinator.api<{ live: { variant: string; job: { workerId: string } | null }[] }>('/api/variants');
      expect(body.live.find((v) => v.variant === 'pattern3/h264-240p')!.job!.workerId).toBe('test-healthy2');
    } finally {
      await thirdClient.close();
      await second.close();
    }
    const { body: failed } = await cluster.coordinator.api<{ failureReason: string }[]>('/api/jobs?workerId=test-broken&state=failed');
    expect(failed.length).toBeGreaterThanOrEqual(2);
    expect(failed[0]!.failureReason).toContain('simulated encoder crash');

    // The admin lifts it (documented in OpenAPI): schedulable again, fault count restarted.
    const lifted = await cluster.coordinator.api<{ quarantinedUntil: number | null; quarantineReason: string | null }>(
      '/api/workers/test-broken/unquarantine',
      { method: 'POST' },
    );
    expect(lifted.status).toBe(200);
    expect([lifted.body.quarantinedUntil, lifted.body.quarantineReason]).toEqual([null, null]);
    const anonymous = await fetch(`${cluster.coordinator.httpUrl}/api/workers/test-broken/unquarantine`, { method: 'POST' });
    expect(anonymous.status).toBe(401);
    const { body: spec } = await cluster.coordinator.api<{ paths: Record<string, unknown> }>('/openapi/json');
    expect(Object.keys(spec.paths)).toContain('/api/workers/{id}/unquarantine');
  }, 240_000);
});
