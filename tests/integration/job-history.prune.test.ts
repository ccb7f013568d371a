// Job history retention on a real database (both engines) with the test's own clock:
// ended attempts older than TVARR_JOB_HISTORY_RETENTION_HOURS are deleted in the
// background (in batches), live and recent ones stay, and the persisted counters do not move.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createLogger, setLogLevel } from '../../common/log';
import { parseCoordinatorConfig } from '../../coordinator/config';
import type { Clock } from '../../coordinator/context';
import { startJobHistoryPruner } from '../../coordinator/jobs/job-history-pruner';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/start-coordinator';
import { makeTempDir } from '../helpers/media';
import { eventually } from '../helpers/processes';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text';
import { ENGINES, freshDatabaseEnv } from './scheduler-fixtures';

setLogLevel('silent');
const HOUR = 3_600_000;

describe.each(ENGINES)('job history retention (%s)', (engine) => {
  const temp = makeTempDir('job-history');
  let database: Record<string, string>;
  let now = Date.UTC(2026, 0, 1);
  const clock: Clock = { now: () => now };
  let running: RunningCoordinator | null = null;

  beforeAll(async () => {
    database = await freshDatabaseEnv(engine, temp.dir, 'job_history');
  });

  async function start(): Promise<RunningCoordinator> {
    const config = parseCoordinatorConfig({
      ...database,
      TVARR_GRPC_ENABLED: 'false',
      TVARR_HTTP_HOST: '127.0.0.1',
      TVARR_HTTP_PORT: '0',
      TVARR_ADMIN_TOKEN: 'job-history-admin-token',
      TVARR_JOB_HISTORY_RETENTION_HOURS: '24',
      TVARR_QUARANTINE_WINDOW_MS: '60000',
    });
    running = await startCoordinator(config, createLogger('test'), clock);
    return running;
  }

  async function stop(): Promise<void> {
    await running?.stop();
    running = null;
  }

  afterAll(async () => {
    await stop();
    temp.cleanup();
  });

  async function insertJobs(c: RunningCoordinator, prefix: string, count: number, row: { state: string; endedAt: number | null; createdAt: number }): Promise<void> {
    const rows = Array.from({ length: count }, (_, i) => ({
      id: `${prefix}-${i}`,
      runId: `${prefix}-0`,
      sourceId: 'src',
      profileId: 'prof',
      workerId: null,
      state: row.state,
      attempt: i + 1,
      createdAt: row.createdAt,
      endedAt: row.endedAt,
    }));
    const { db, t } = c.ctx.store;
    for (let i = 0; i < rows.length; i += 200) await db.insert(t.jobs).values(rows.slice(i, i + 200));
  }

  const jobIds = async (c: RunningCoordinator) => {
    const { db, t } = c.ctx.store;
    return (await db.select({ id: t.jobs.id }).from(t.jobs)).map((r) => r.id).sort();
  };

  async function completedCounter(c: RunningCoordinator): Promise<number | undefined> {
    const text = await (await fetch(`http://127.0.0.1:${c.httpPort}/metrics`)).text();
    return sampleValue(parsePrometheusText(text), 'tvarr_jobs_completed_total');
  }

  test('ended attempts past the retention are pruned in the background; live and recent rows and the counters stay', async () => {
    let c = await start();
    expect(c.ctx.store.engine).toBe(engine);
    await insertJobs(c, 'old', 1_200, { state: 'completed', endedAt: now - 30 * HOUR, createdAt: now - 31 * HOUR });
    await insertJobs(c, 'old-failed', 3, { state: 'failed', endedAt: now - 25 * HOUR, createdAt: now - 26 * HOUR });
    await insertJobs(c, 'recent', 3, { state: 'cancelled', endedAt: now - 2 * HOUR, createdAt: now - 3 * HOUR });
    // A live attempt older than the retention (a day-long stream) is never pruned.
    await insertJobs(c, 'live', 1, { state: 'running', endedAt: null, createdAt: now - 40 * HOUR });
    for (let i = 0; i < 7; i++) c.ctx.events.emit('job:ended', { jobId: `old-${i}`, workerId: 'w1', state: 'completed', reason: null });
    expect(await completedCounter(c)).toBe(7);

    // A pass with a short interval, as the coordinator's own pruner runs, on the test's clock.
    const passes: number[] = [];
    let firstPass!: () => void;
    const pruned = new Promise<void>((resolve) => (firstPass = resolve));
    const pruner = startJobHistoryPruner(c.ctx, {
      retentionMs: 24 * HOUR,
      intervalMs: 20,
      onPruned: (n) => {
        passes.push(n);
        firstPass();
      },
    });
    await pruned;
    pruner.stop();
    expect(passes).toEqual([1_203]);
    // 'live' stays running; the failed 'old-failed' rows were past the retention too.
    expect(await jobIds(c)).toEqual(['live-0', 'recent-0', 'recent-1', 'recent-2']);
    expect(await completedCounter(c)).toBe(7);

    // The coordinator prunes on its own: a day later (restart), the recent rows have aged out.
    await stop();
    now += 24 * HOUR;
    c = await start();
    await eventually('the coordinator pruned the aged rows', async () => (await jobIds(c)).length === 1, 10_000);
    expect(await jobIds(c)).toEqual(['live-0']);
    expect(await completedCounter(c)).toBe(7);
  });
});

test('a retention shorter than the quarantine window is refused at start-up', () => {
  expect(() => parseCoordinatorConfig({ TVARR_JOB_HISTORY_RETENTION_HOURS: '1', TVARR_QUARANTINE_WINDOW_MS: String(2 * HOUR) })).toThrow(
    'TVARR_JOB_HISTORY_RETENTION_HOURS',
  );
  expect(() => parseCoordinatorConfig({ TVARR_JOB_HISTORY_RETENTION_HOURS: '0' })).toThrow('TVARR_JOB_HISTORY_RETENTION_HOURS');
});
