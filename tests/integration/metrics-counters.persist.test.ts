// Monitoring in process: lifecycle events move the persisted counters, /metrics parses
// as Prometheus text, and the counters come back after a restart on the same SQLite file.
import { afterAll, expect, test } from 'bun:test';
import { createLogger, setLogLevel } from '../../common/log';
import { parseCoordinatorConfig } from '../../coordinator/config';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/start-coordinator';
import { makeTempDir } from '../helpers/media';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text';

setLogLevel('silent');
const temp = makeTempDir('metrics');
const dbPath = `${temp.dir}/coordinator.db`;
let running: RunningCoordinator | null = null;

async function start(): Promise<RunningCoordinator> {
  const config = parseCoordinatorConfig({ TVARR_DATABASE_PATH: dbPath, TVARR_GRPC_ENABLED: 'false', TVARR_HTTP_HOST: '127.0.0.1', TVARR_HTTP_PORT: '0' });
  running = await startCoordinator(config, createLogger('test'));
  return running;
}

async function scrape(c: RunningCoordinator) {
  const res = await fetch(`http://127.0.0.1:${c.httpPort}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return parsePrometheusText(await res.text());
}

afterAll(async () => {
  await running?.stop();
  temp.cleanup();
});

test('events move the counters; /metrics is valid Prometheus text with every promised family', async () => {
  const c = await start();
  const before = await scrape(c);
  for (const family of [
    'tvarr_jobs_completed_total',
    'tvarr_jobs_failed_total',
    'tvarr_jobs_reassigned_total',
    'tvarr_encoding_sessions',
    'tvarr_encoding_sessions_by_kind',
    'tvarr_workers_online',
    'tvarr_relayed_bytes_total',
    'tvarr_clients_connected',
    'tvarr_scheduler_selection_seconds',
  ]) {
    expect(before.has(family)).toBe(true);
  }
  expect(before.get('tvarr_jobs_completed_total')!.type).toBe('counter');
  expect(before.get('tvarr_scheduler_selection_seconds')!.type).toBe('histogram');
  expect(sampleValue(before, 'tvarr_jobs_completed_total')).toBe(0);

  const { events } = c.ctx;
  events.emit('job:ended', { jobId: 'j1', workerId: 'w1', state: 'completed', reason: null });
  events.emit('job:ended', { jobId: 'j2', workerId: 'w1', state: 'failed', reason: 'worker lost' });
  events.emit('job:ended', { jobId: 'j3', workerId: 'w2', state: 'failed', reason: 'ffmpeg exited with code 1' });
  events.emit('job:ended', { jobId: 'j4', workerId: 'w2', state: 'cancelled', reason: 'no clients left' });
  events.emit('job:reassigned', { runId: 'r1', fromJobId: 'j2', attempt: 2 });
  events.emit('bytes:relayed', { workerId: 'w1', bytesIn: 1000, bytesOut: 400 });
  events.emit('scheduler:selected', { durationMs: 0.2, found: true });
  events.emit('scheduler:selected', { durationMs: 0.1, found: false });

  const after = await scrape(c);
  expect(sampleValue(after, 'tvarr_jobs_completed_total')).toBe(1);
  expect(sampleValue(after, 'tvarr_jobs_failed_total')).toBe(2);
  expect(sampleValue(after, 'tvarr_jobs_cancelled_total')).toBe(1);
  expect(sampleValue(after, 'tvarr_jobs_reassigned_total')).toBe(1);
  expect(sampleValue(after, 'tvarr_worker_jobs_failed_total', { worker: 'w2' })).toBe(1);
  expect(sampleValue(after, 'tvarr_relayed_bytes_total', { direction: 'to_worker' })).toBe(1000);
  expect(sampleValue(after, 'tvarr_relayed_bytes_total', { direction: 'from_worker' })).toBe(400);
  expect(sampleValue(after, 'tvarr_scheduler_selection_seconds_count', { result: 'claimed' })).toBe(1);
  expect(sampleValue(after, 'tvarr_scheduler_selection_seconds_count', { result: 'none' })).toBe(1);

  const summary = (await (await fetch(`http://127.0.0.1:${c.httpPort}/api/metrics`)).json()) as {
    counters: Record<string, number>;
    perWorker: Record<string, Record<string, number>>;
  };
  expect(summary.counters.jobs_failed).toBe(2);
  expect(summary.perWorker.w1!.jobs_completed).toBe(1);
});

test('counters survive a restart on the same database; the histogram starts afresh', async () => {
  await running!.stop();
  running = null;
  const c = await start();
  const families = await scrape(c);
  expect(sampleValue(families, 'tvarr_jobs_completed_total')).toBe(1);
  expect(sampleValue(families, 'tvarr_jobs_failed_total')).toBe(2);
  expect(sampleValue(families, 'tvarr_jobs_reassigned_total')).toBe(1);
  expect(sampleValue(families, 'tvarr_worker_jobs_completed_total', { worker: 'w1' })).toBe(1);
  expect(sampleValue(families, 'tvarr_relayed_bytes_total', { direction: 'to_worker' })).toBe(1000);
  c.ctx.events.emit('job:ended', { jobId: 'j5', workerId: 'w1', state: 'completed', reason: null });
  expect(sampleValue(await scrape(c), 'tvarr_jobs_completed_total')).toBe(2);
  const cluster = (await (await fetch(`http://127.0.0.1:${c.httpPort}/api/cluster`)).json()) as { totals: { jobsCompleted: number; jobsFailed: number } };
  expect(cluster.totals).toMatchObject({ jobsCompleted: 2, jobsFailed: 2 });
});

test('the Transcoders page is served at / and /transcoders with a CSP that forbids inline script', async () => {
  const c = running!;
  for (const path of ['/', '/transcoders']) {
    const res = await fetch(`http://127.0.0.1:${c.httpPort}${path}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    expect(html).toContain('src="/transcoders/app.js"');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    expect(html).not.toMatch(/https?:\/\//); // nothing from another origin
  }
  const js = await (await fetch(`http://127.0.0.1:${c.httpPort}/transcoders/app.js`)).text();
  expect(js).not.toMatch(/\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write/); // text nodes only
});

test('TVARR_METRICS_PER_WORKER=false: no series labelled by worker, the cluster-wide ones stay', async () => {
  await running?.stop();
  const config = parseCoordinatorConfig({
    TVARR_DATABASE_PATH: `${temp.dir}/per-worker-off.db`,
    TVARR_GRPC_ENABLED: 'false',
    TVARR_HTTP_HOST: '127.0.0.1',
    TVARR_HTTP_PORT: '0',
    TVARR_METRICS_PER_WORKER: 'false',
  });
  const c = (running = await startCoordinator(config, createLogger('test')));
  c.ctx.events.emit('job:ended', { jobId: 'j1', workerId: 'w1', state: 'completed', reason: null });
  const text = await (await fetch(`http://127.0.0.1:${c.httpPort}/metrics`)).text();
  const families = parsePrometheusText(text);
  expect(sampleValue(families, 'tvarr_jobs_completed_total')).toBe(1);
  expect(families.has('tvarr_worker_jobs_completed_total')).toBe(false);
  expect(text).not.toMatch(/\{[^}]*worker="/);
});
