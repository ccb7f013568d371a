// The quarantine circuit breaker on a real SQLite file, driven by the same lifecycle
// events the coordinator emits, with a test clock: worker faults only, one loss event
// counts once, FFmpeg failures count only when the spec runs elsewhere, and the last
// workers able to serve a codec are not removed while they are healthy for other jobs.
import { afterEach, beforeEach, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import type { CoordinatorConfig } from '../../coordinator/config';
import type { CoreContext } from '../../coordinator/context';
import { jobs, workers } from '../../coordinator/db/client';
import { CoordinatorEventBus } from '../../coordinator/events';
import { liftQuarantine, QuarantineWatcher, SPEC_PROVEN_MS } from '../../coordinator/workers/quarantine';
import type { Logger } from '../../common/log';
import { addWorker, openTempDb } from './scheduler-fixtures';

let temp: ReturnType<typeof openTempDb>;
let ctx: CoreContext;
let watcher: QuarantineWatcher;
let now = 1_000_000;
const logged: { msg: string; fields?: Record<string, unknown> }[] = [];

function makeLogger(): Logger {
  const log = (msg: string, fields?: Record<string, unknown>) => void logged.push({ msg, fields });
  const logger: Logger = { debug: log, info: log, warn: log, error: log, child: () => logger };
  return logger;
}

beforeEach(() => {
  temp = openTempDb('quarantine');
  logged.length = 0;
  now = 1_000_000;
  const liveness = { quarantineFailures: 3, quarantineWindowMs: 120_000, quarantineMs: 300_000 };
  ctx = {
    config: { liveness } as unknown as CoordinatorConfig,
    db: temp.db,
    events: new CoordinatorEventBus(),
    log: makeLogger(),
    clock: { now: () => now },
  };
  watcher = new QuarantineWatcher(ctx);
  watcher.start();
});

afterEach(() => {
  watcher.stop();
  temp.close();
});

let seq = 0;
/** A job row that ran on a worker from `startedAt` for `ranMs` (null: still running). */
function addJob(workerId: string, profileId: string, encoder: string, startedAt: number, ranMs: number | null, state = 'failed'): string {
  const id = `job-${++seq}`;
  ctx.db
    .insert(jobs)
    .values({
      id, runId: id, sourceId: 'src', profileId, workerId, encoder, kind: 'cpu', attempt: 1,
      state: ranMs === null ? 'running' : state, createdAt: startedAt, startedAt, endedAt: ranMs === null ? null : startedAt + ranMs,
    })
    .run();
  return id;
}

function row(workerId: string) {
  return ctx.db.select().from(workers).where(eq(workers.id, workerId)).get()!;
}

function lose(workerId: string, jobsCarried: number): void {
  ctx.events.emit('worker:lost', { workerId, reason: 'connection closed' });
  for (let i = 0; i < jobsCarried; i++) {
    const jobId = addJob(workerId, 'p', 'libx264', now - 10_000, 10_000);
    ctx.events.emit('job:ended', { jobId, workerId, state: 'failed', reason: 'worker lost: connection closed', cause: 'worker_lost' });
  }
}

test('one loss event counts once however many jobs it carried; the third within the window quarantines', () => {
  addWorker(ctx.db, { id: 'a', encoders: ['libx264'] });
  addWorker(ctx.db, { id: 'b', encoders: ['libx264'] });
  lose('a', 2);
  now += 10_000;
  lose('a', 2);
  expect(row('a').quarantinedUntil).toBeNull();
  expect(watcher.faultsOf('a').faults).toBe(2);
  // Outside the window the first losses are forgotten.
  now += 125_000;
  lose('a', 2);
  expect(row('a').quarantinedUntil).toBeNull();
  now += 1_000;
  lose('a', 0);
  now += 1_000;
  lose('a', 0);
  expect(row('a').quarantinedUntil).toBe(now + 300_000);
  expect(row('a').quarantineReason).toContain('3 lost connections');
});

test('a drained worker leaving is not at fault', () => {
  addWorker(ctx.db, { id: 'a', encoders: ['libx264'] });
  addWorker(ctx.db, { id: 'b', encoders: ['libx264'] });
  for (let i = 0; i < 5; i++) {
    ctx.events.emit('worker:state', { workerId: 'a', state: 'draining' });
    ctx.events.emit('worker:lost', { workerId: 'a', reason: 'control stream ended' });
  }
  expect(watcher.faultsOf('a').faults).toBe(0);
  // A drain that was resumed does not excuse a later loss.
  ctx.events.emit('worker:state', { workerId: 'a', state: 'draining' });
  ctx.events.emit('worker:state', { workerId: 'a', state: 'online' });
  ctx.events.emit('worker:lost', { workerId: 'a', reason: 'control stream ended' });
  expect(watcher.faultsOf('a').faults).toBe(1);
});

test('refusals, invalid specs and FFmpeg failing everywhere are not worker faults', () => {
  addWorker(ctx.db, { id: 'a', encoders: ['libx264'] });
  addWorker(ctx.db, { id: 'b', encoders: ['libx264'] });
  for (let i = 0; i < 6; i++) {
    const w = i % 2 ? 'a' : 'b';
    const jobId = addJob(w, 'bad-profile', 'libx264', now, 300);
    const cause = (['invalid_spec', 'rejected', 'stream', 'ffmpeg'] as const)[i % 4];
    ctx.events.emit('job:ended', { jobId, workerId: w, state: 'failed', reason: 'x', cause });
    now += 500;
  }
  watcher.sweep(now);
  for (const w of ['a', 'b']) {
    expect(row(w).quarantinedUntil).toBeNull();
    expect(watcher.faultsOf(w).faults).toBe(0);
  }
});

test('an FFmpeg failure becomes a fault once the same spec runs on another worker, even later', () => {
  ctx.config.liveness.quarantineFailures = 2;
  addWorker(ctx.db, { id: 'broken', encoders: ['libx264'] });
  addWorker(ctx.db, { id: 'healthy', encoders: ['libx264'] });
  for (let i = 0; i < 2; i++) {
    const jobId = addJob('broken', 'h264-240p', 'libx264', now, 200);
    ctx.events.emit('job:ended', { jobId, workerId: 'broken', state: 'failed', reason: 'simulated encoder crash', cause: 'ffmpeg' });
    now += 1_000;
  }
  expect(watcher.faultsOf('broken')).toEqual({ faults: 0, suspects: 2 });
  // The same profile on another encoder proves nothing about this one.
  addJob('healthy', 'h264-240p', 'h264_nvenc', now - 60_000, 50_000);
  // The same spec starts on another worker; it counts once it has run SPEC_PROVEN_MS.
  addJob('healthy', 'h264-240p', 'libx264', now, null);
  watcher.sweep(now);
  expect(row('broken').quarantinedUntil).toBeNull();
  now += SPEC_PROVEN_MS;
  watcher.sweep(now);
  expect(row('broken').quarantinedUntil).toBe(now + 300_000);
  expect(row('broken').quarantineReason).toContain('2 failed jobs whose spec runs on other workers');
  expect(row('broken').quarantineReason).toContain('simulated encoder crash');
  expect(row('healthy').quarantinedUntil).toBeNull();
});

test('the last worker able to serve a codec is kept in service while healthy for other jobs; an admin lift forgets its faults', () => {
  addWorker(ctx.db, { id: 'only', encoders: ['libx264', 'mpeg2video'] });
  addWorker(ctx.db, { id: 'other', encoders: ['mpeg2video'] });
  // It ran another job fine in the window.
  addJob('only', 'h264-360p', 'libx264', now - 30_000, 20_000, 'cancelled');
  for (let i = 0; i < 3; i++) {
    lose('only', 1);
    now += 1_000;
  }
  expect(row('only').quarantinedUntil).toBeNull();
  expect(row('only').quarantineReason).toMatch(/^not quarantined: last worker able to serve h264 and healthy for other jobs; 3 worker faults/);
  expect(logged.some((l) => l.msg === 'worker quarantine withheld')).toBe(true);

  liftQuarantine(ctx, 'only');
  expect(row('only').quarantineReason).toBeNull();
  expect(watcher.faultsOf('only').faults).toBe(0);

  // Once another worker can serve its codecs, the same faults quarantine it.
  addWorker(ctx.db, { id: 'spare', encoders: ['libx264'] });
  for (let i = 0; i < 3; i++) {
    lose('only', 0);
    now += 1_000;
  }
  expect(row('only').quarantinedUntil).toBeGreaterThan(now);
  liftQuarantine(ctx, 'only');
  expect(row('only').quarantinedUntil).toBeNull();
  expect(() => liftQuarantine(ctx, 'nobody')).toThrow(/not found/);
});

test('a worker that fails every job is quarantined even when it is the last one: it serves nothing anyway', () => {
  addWorker(ctx.db, { id: 'only', encoders: ['libx264'] });
  for (let i = 0; i < 3; i++) {
    lose('only', 0);
    now += 1_000;
  }
  expect(row('only').quarantinedUntil).toBeGreaterThan(now);
});
