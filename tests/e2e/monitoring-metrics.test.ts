// /metrics against a real cluster. A live job's normal end in this product is its last
// client leaving: after the idle grace the attempt ends as `cancelled` (a source that
// ends is reconnected by the upstream, so live jobs never reach `completed` here).
// Failure is real: SIGKILL the worker running a job; the coordinator fails the attempt
// and reassigns the run. Then the coordinator is killed and restarted on the same
// SQLite file and the counters are still there.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { parsePrometheusText, sampleValue, type MetricFamily } from '../helpers/prometheus-text';

type Families = Map<string, MetricFamily>;

describe('Prometheus metrics move with real jobs and survive a restart', () => {
  const cluster = new TestCluster();
  const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];

  beforeAll(async () => {
    await cluster.startCoordinator();
    await Promise.all([cluster.startWorker('m1'), cluster.startWorker('m2')]);
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);
  });

  afterAll(async () => {
    for (const r of readers) await r.cancel().catch(() => {});
    await cluster.stop();
  });

  async function scrape(): Promise<Families> {
    const res = await fetch(`${cluster.coordinator.httpUrl}/metrics`);
    expect(res.status).toBe(200);
    return parsePrometheusText(await res.text());
  }
  const value = (f: Families, name: string, labels: Record<string, string> = {}) => sampleValue(f, name, labels) ?? 0;

  /** Opens a client and keeps reading until the stream ends or the test cancels it. */
  async function openClient(variant: string): Promise<{ done: Promise<number>; reader: ReadableStreamDefaultReader<Uint8Array> }> {
    const res = await fetch(`${cluster.coordinator.httpUrl}/stream/${variant}`);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    readers.push(reader);
    const done = (async () => {
      let n = 0;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return n;
          n += value.byteLength;
        }
      } catch {
        return n;
      }
    })();
    return { done, reader };
  }

  test('the last client leaves: the job ends (cancelled) and its counter and the bytes relayed go up', async () => {
    const before = await scrape();
    const res = await fetch(`${cluster.coordinator.httpUrl}/stream/pattern/${TINY_H264_PROFILE.id}`);
    expect(res.status).toBe(200);
    // Read until real output has arrived (no time limit: the machine may be busy), then leave.
    const reader = res.body!.getReader();
    let received = 0;
    while (received < 10_000) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.byteLength;
    }
    expect(received).toBeGreaterThanOrEqual(10_000);
    await reader.cancel();
    const ended = await cluster.coordinator.proc.waitForMsg('job ended', 30_000, (l) => l.state === 'cancelled');
    expect(ended.reason).toBe('no clients left');
    expect(typeof ended.jobId).toBe('string');
    expect(typeof ended.workerId).toBe('string');
    const after = await scrape();
    expect(value(after, 'tvarr_jobs_cancelled_total')).toBe(value(before, 'tvarr_jobs_cancelled_total') + 1);
    expect(value(after, 'tvarr_worker_jobs_cancelled_total', { worker: String(ended.workerId) })).toBe(1);
    expect(value(after, 'tvarr_jobs_failed_total')).toBe(value(before, 'tvarr_jobs_failed_total'));
    expect(value(after, 'tvarr_relayed_bytes_total', { direction: 'to_worker' })).toBeGreaterThan(value(before, 'tvarr_relayed_bytes_total', { direction: 'to_worker' }));
    expect(value(after, 'tvarr_relayed_bytes_total', { direction: 'from_worker' })).toBeGreaterThan(10_000);
    expect(value(after, 'tvarr_scheduler_selection_seconds_count', { result: 'claimed' })).toBeGreaterThanOrEqual(1);
    expect(value(after, 'tvarr_encoding_sessions_by_kind', { kind: 'cpu' })).toBe(0);
    expect(value(after, 'tvarr_clients_connected')).toBe(0);
    expect(value(after, 'tvarr_workers_online')).toBe(2);
  });

  test('SIGKILL of the worker running a job: jobs_failed and jobs_reassigned go up; sessions and clients show it', async () => {
    const before = await scrape();
    await openClient(`pattern/${TINY_H264_PROFILE.id}`);
    const running = await cluster.coordinator.api<{ workers: { id: string; jobs: { variant: string }[] }[] }>('/api/cluster');
    const busy = running.body.workers.find((w) => w.jobs.some((j) => j.variant === `pattern/${TINY_H264_PROFILE.id}`))!;
    expect(busy).toBeDefined();
    const during = await scrape();
    expect(value(during, 'tvarr_encoding_sessions', { worker: busy.id, kind: 'cpu' })).toBe(1);
    expect(value(during, 'tvarr_encoding_sessions_by_kind', { kind: 'cpu' })).toBe(1);
    expect(value(during, 'tvarr_clients_connected')).toBe(1);

    const name = busy.id.replace(/^test-/, '');
    const mark = cluster.coordinator.proc.lines.length;
    cluster.workers.get(name)!.kill('SIGKILL');
    const failed = await cluster.coordinator.proc.waitForLog((l) => l.msg === 'job ended' && l.state === 'failed' && l.workerId === busy.id, 30_000, mark);
    expect(String(failed.reason).length).toBeGreaterThan(0); // job stream dropped or worker lost, whichever is seen first
    await cluster.coordinator.proc.waitForLog((l) => l.msg === 'worker lost' && l.workerId === busy.id, 30_000, mark);
    await cluster.coordinator.proc.waitForLog((l) => l.msg === 'variant resumed on a new worker', 60_000, mark);

    const after = await scrape();
    expect(value(after, 'tvarr_jobs_failed_total')).toBe(value(before, 'tvarr_jobs_failed_total') + 1);
    expect(value(after, 'tvarr_worker_jobs_failed_total', { worker: busy.id })).toBe(1);
    expect(value(after, 'tvarr_jobs_reassigned_total')).toBe(value(before, 'tvarr_jobs_reassigned_total') + 1);
    expect(value(after, 'tvarr_worker_losses_total')).toBe(value(before, 'tvarr_worker_losses_total') + 1);
    expect(value(after, 'tvarr_workers_online')).toBe(1);
  });

  test('counters survive a coordinator restart on the same SQLite file', async () => {
    // Let the live job end first (last client leaves -> cancelled) so nothing moves during the restart.
    const mark = cluster.coordinator.proc.lines.length;
    for (const r of readers.splice(0)) await r.cancel().catch(() => {});
    await cluster.coordinator.proc.waitForLog((l) => l.msg === 'job ended' && l.state === 'cancelled', 30_000, mark);
    const before = await scrape();
    const names = ['tvarr_jobs_completed_total', 'tvarr_jobs_failed_total', 'tvarr_jobs_cancelled_total', 'tvarr_jobs_reassigned_total', 'tvarr_worker_losses_total'];

    // A crash, not a clean stop: counters are written when each event happens.
    cluster.coordinator.proc.kill('SIGKILL');
    await cluster.coordinator.proc.exited;
    await cluster.startCoordinator();
    const after = await scrape();
    for (const name of names) expect({ name, value: value(after, name) }).toEqual({ name, value: value(before, name) });
    expect(value(after, 'tvarr_jobs_cancelled_total')).toBeGreaterThanOrEqual(1);
    expect(value(after, 'tvarr_jobs_failed_total')).toBeGreaterThanOrEqual(1);
    expect(value(after, 'tvarr_relayed_bytes_total', { direction: 'from_worker' })).toBe(value(before, 'tvarr_relayed_bytes_total', { direction: 'from_worker' }));
  });
});
