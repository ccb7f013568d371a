// The quarantine circuit breaker on a real database (both engines), driven by the same
// lifecycle events the coordinator emits, with a test clock: worker faults only, one loss
// event counts once, FFmpeg failures count only when the spec runs elsewhere, the last
// workers able to serve a codec are not removed while they are healthy for other jobs, and
// fault memory (worker_faults) outlives the watcher that recorded it.
import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import type { CoordinatorConfig } from '../../coordinator/config';
import type { CoreContext } from '../../coordinator/context';
import { CoordinatorEventBus } from '../../coordinator/events';
import { liftQuarantine, QuarantineWatcher, SPEC_PROVEN_MS, watchForQuarantine } from '../../coordinator/workers/quarantine';
import { getWorker } from '../../coordinator/workers/worker-store';
import type { Logger } from '../../common/log';
import { addWorker, ENGINES, openTempStore, type TempStore } from './scheduler-fixtures';

const WINDOW_MS = 120_000;

describe.each(ENGINES)('quarantine (%s)', (engine) => {
  let temp: TempStore;
  let ctx: CoreContext;
  let watcher: QuarantineWatcher;
  let now = 1_000_000;
  const logged: { msg: string; fields?: Record<string, unknown> }[] = [];

  function makeLogger(): Logger {
    const log = (msg: string, fields?: Record<string, unknown>) => void logged.push({ msg, fields });
    const logger: Logger = { debug: log, info: log, warn: log, error: log, child: () => logger };
    return logger;
  }

  beforeEach(async () => {
    temp = await openTempStore('quarantine', engine);
    logged.length = 0;
    now = 1_000_000;
    const liveness = { quarantineFailures: 3, quarantineWindowMs: WINDOW_MS, quarantineMs: 300_000 };
    ctx = {
      config: { liveness } as unknown as CoordinatorConfig,
      store: temp.store,
      events: new CoordinatorEventBus(),
      log: makeLogger(),
      clock: { now: () => now },
    };
    watcher = await watchForQuarantine(ctx);
  });

  afterEach(async () => {
    watcher.stop();
    await watcher.settled();
    await temp.close();
  });

  let seq = 0;
  /** A job row that ran on a worker from `startedAt` for `ranMs` (null: still running). */
  async function addJob(workerId: string, profileId: string, encoder: string, startedAt: number, ranMs: number | null, state = 'failed'): Promise<string> {
    const id = `job-${++seq}`;
    await ctx.store.db.insert(ctx.store.t.jobs).values({
      id, runId: id, sourceId: 'src', profileId, workerId, encoder, kind: 'cpu', attempt: 1,
      state: ranMs === null ? 'running' : state, createdAt: startedAt, startedAt, endedAt: ranMs === null ? null : startedAt + ranMs,
    });
    return id;
  }

  /** The worker's row, once every evaluation queued so far has run. */
  async function row(workerId: string) {
    await watcher.settled();
    return (await getWorker(ctx.store, workerId))!;
  }

  async function faultsOf(workerId: string, w = watcher) {
    await w.settled();
    return w.faultsOf(workerId);
  }

  async function faultRows(workerId: string) {
    await watcher.settled();
    const { workerFaults } = ctx.store.t;
    return ctx.store.db.select().from(workerFaults).where(eq(workerFaults.workerId, workerId));
  }

  async function lose(workerId: string, jobsCarried: number): Promise<void> {
    ctx.events.emit('worker:lost', { workerId, reason: 'connection closed' });
    for (let i = 0; i < jobsCarried; i++) {
      const jobId = await addJob(workerId, 'p', 'libx264', now - 10_000, 10_000);
      ctx.events.emit('job:ended', { jobId, workerId, state: 'failed', reason: 'worker lost: connection closed', cause: 'worker_lost' });
    }
  }

  test('one loss event counts once however many jobs it carried; the third within the window quarantines', async () => {
    await addWorker(ctx.store, { id: 'a', encoders: ['libx264'] });
    await addWorker(ctx.store, { id: 'b', encoders: ['libx264'] });
    await lose('a', 2);
    now += 10_000;
    await lose('a', 2);
    expect((await row('a')).quarantinedUntil).toBeNull();
    expect((await faultsOf('a')).faults).toBe(2);
    // Outside the window the first losses are forgotten.
    now += 125_000;
    await lose('a', 2);
    expect((await row('a')).quarantinedUntil).toBeNull();
    now += 1_000;
    await lose('a', 0);
    now += 1_000;
    await lose('a', 0);
    const quarantined = await row('a');
    expect(quarantined.quarantinedUntil).toBe(now + 300_000);
    expect(quarantined.quarantineReason).toContain('3 lost connections');
    // A quarantine consumes the faults that caused it, in memory and in the database.
    expect((await faultsOf('a')).faults).toBe(0);
    expect(await faultRows('a')).toEqual([]);
  });

  test('a loss while this coordinator\'s own event loop lags a heartbeat interval or more is not the worker\'s fault', async () => {
    await addWorker(ctx.store, { id: 'a', encoders: ['libx264'] });
    await addWorker(ctx.store, { id: 'b', encoders: ['libx264'] });
    let lagMs = 600;
    ctx.loopLag = { lagMs: () => lagMs, lateMs: () => 0 };
    (ctx.config.liveness as { heartbeatIntervalMs: number }).heartbeatIntervalMs = 250;
    // Its keepalive dropped us while we were starved (the fan-out bench's collapse): no fault, however often.
    for (let i = 0; i < 5; i++) ctx.events.emit('worker:lost', { workerId: 'a', reason: 'control stream ended' });
    expect((await faultsOf('a')).faults).toBe(0);
    expect((await row('a')).quarantinedUntil).toBeNull();
    expect(logged.some((l) => l.msg === 'worker loss not counted as a fault: this coordinator was lagging')).toBe(true);
    // With the loop keeping time again, a loss counts as before.
    lagMs = 5;
    ctx.events.emit('worker:lost', { workerId: 'a', reason: 'control stream ended' });
    expect((await faultsOf('a')).faults).toBe(1);
  });

  test('a drained worker leaving is not at fault', async () => {
    await addWorker(ctx.store, { id: 'a', encoders: ['libx264'] });
    await addWorker(ctx.store, { id: 'b', encoders: ['libx264'] });
    for (let i = 0; i < 5; i++) {
      ctx.events.emit('worker:state', { workerId: 'a', state: 'draining' });
      ctx.events.emit('worker:lost', { workerId: 'a', reason: 'control stream ended' });
    }
    expect((await faultsOf('a')).faults).toBe(0);
    // A drain that was resumed does not excuse a later loss.
    ctx.events.emit('worker:state', { workerId: 'a', state: 'draining' });
    ctx.events.emit('worker:state', { workerId: 'a', state: 'online' });
    ctx.events.emit('worker:lost', { workerId: 'a', reason: 'control stream ended' });
    expect((await faultsOf('a')).faults).toBe(1);
    expect((await faultRows('a')).map((r) => [r.kind, r.detail])).toEqual([['connection', 'control stream ended']]);
  });

  test('refusals, invalid specs and FFmpeg failing everywhere are not worker faults', async () => {
    await addWorker(ctx.store, { id: 'a', encoders: ['libx264'] });
    await addWorker(ctx.store, { id: 'b', encoders: ['libx264'] });
    for (let i = 0; i < 6; i++) {
      const w = i % 2 ? 'a' : 'b';
      const jobId = await addJob(w, 'bad-profile', 'libx264', now, 300);
      const cause = (['invalid_spec', 'rejected', 'stream', 'ffmpeg'] as const)[i % 4];
      ctx.events.emit('job:ended', { jobId, workerId: w, state: 'failed', reason: 'x', cause });
      now += 500;
    }
    await watcher.sweep(now);
    for (const w of ['a', 'b']) {
      expect((await row(w)).quarantinedUntil).toBeNull();
      expect((await faultsOf(w)).faults).toBe(0);
    }
  });

  test('an FFmpeg failure becomes a fault once the same spec runs on another worker, even later', async () => {
    ctx.config.liveness.quarantineFailures = 2;
    await addWorker(ctx.store, { id: 'broken', encoders: ['libx264'] });
    await addWorker(ctx.store, { id: 'healthy', encoders: ['libx264'] });
    for (let i = 0; i < 2; i++) {
      const jobId = await addJob('broken', 'h264-240p', 'libx264', now, 200);
      ctx.events.emit('job:ended', { jobId, workerId: 'broken', state: 'failed', reason: 'simulated encoder crash', cause: 'ffmpeg' });
      now += 1_000;
    }
    expect(await faultsOf('broken')).toEqual({ faults: 0, suspects: 2 });
    expect((await faultRows('broken')).map((r) => r.kind)).toEqual(['suspect', 'suspect']);
    // The same profile on another encoder proves nothing about this one.
    await addJob('healthy', 'h264-240p', 'h264_nvenc', now - 60_000, 50_000);
    // The same spec starts on another worker; it counts once it has run SPEC_PROVEN_MS.
    await addJob('healthy', 'h264-240p', 'libx264', now, null);
    await watcher.sweep(now);
    expect((await row('broken')).quarantinedUntil).toBeNull();
    now += SPEC_PROVEN_MS;
    await watcher.sweep(now);
    const broken = await row('broken');
    expect(broken.quarantinedUntil).toBe(now + 300_000);
    expect(broken.quarantineReason).toContain('2 failed jobs whose spec runs on other workers');
    expect(broken.quarantineReason).toContain('simulated encoder crash');
    expect((await row('healthy')).quarantinedUntil).toBeNull();
  });

  test('the last worker able to serve a codec is kept in service while healthy for other jobs; an admin lift forgets its faults', async () => {
    await addWorker(ctx.store, { id: 'only', encoders: ['libx264', 'mpeg2video'] });
    await addWorker(ctx.store, { id: 'other', encoders: ['mpeg2video'] });
    // It ran another job fine in the window.
    await addJob('only', 'h264-360p', 'libx264', now - 30_000, 20_000, 'cancelled');
    for (let i = 0; i < 3; i++) {
      await lose('only', 1);
      now += 1_000;
    }
    expect((await row('only')).quarantinedUntil).toBeNull();
    expect((await row('only')).quarantineReason).toMatch(/^not quarantined: last worker able to serve h264 and healthy for other jobs; 3 worker faults/);
    expect(logged.some((l) => l.msg === 'worker quarantine withheld')).toBe(true);

    await liftQuarantine(ctx, 'only');
    expect((await row('only')).quarantineReason).toBeNull();
    expect((await faultsOf('only')).faults).toBe(0);
    expect(await faultRows('only')).toEqual([]);

    // Once another worker can serve its codecs, the same faults quarantine it.
    await addWorker(ctx.store, { id: 'spare', encoders: ['libx264'] });
    for (let i = 0; i < 3; i++) {
      await lose('only', 0);
      now += 1_000;
    }
    expect((await row('only')).quarantinedUntil).toBeGreaterThan(now);
    await liftQuarantine(ctx, 'only');
    expect((await row('only')).quarantinedUntil).toBeNull();
    await expect(liftQuarantine(ctx, 'nobody')).rejects.toThrow(/not found/);
  });

  test('a worker that fails every job is quarantined even when it is the last one: it serves nothing anyway', async () => {
    await addWorker(ctx.store, { id: 'only', encoders: ['libx264'] });
    for (let i = 0; i < 3; i++) {
      await lose('only', 0);
      now += 1_000;
    }
    expect((await row('only')).quarantinedUntil).toBeGreaterThan(now);
  });

  test('fault memory survives a restart: a new watcher on the same store loads the faults in the window, and one more reaches the threshold', async () => {
    await addWorker(ctx.store, { id: 'a', encoders: ['libx264'] });
    await addWorker(ctx.store, { id: 'b', encoders: ['libx264'] });
    await lose('a', 1);
    now += 60_000;
    await lose('a', 0);
    expect((await faultsOf('a')).faults).toBe(2);
    // The coordinator restarts: its watcher (and all it held in memory) is gone.
    watcher.stop();
    await watcher.settled();
    now += 30_000; // both faults are still inside the 120 s window
    watcher = await watchForQuarantine(ctx);
    expect(await faultsOf('a')).toEqual({ faults: 2, suspects: 0 });
    expect((await row('a')).quarantinedUntil).toBeNull();
    await lose('a', 0);
    const quarantined = await row('a');
    expect(quarantined.quarantinedUntil).toBe(now + 300_000);
    expect(quarantined.quarantineReason).toContain('3 lost connections');
    // The quarantine consumed them: a second restart starts the worker with none.
    watcher.stop();
    watcher = await watchForQuarantine(ctx);
    expect((await faultsOf('a')).faults).toBe(0);
  });

  test('a restart restores only the faults still inside the window, and suspects as suspects', async () => {
    await addWorker(ctx.store, { id: 'a', encoders: ['libx264'] });
    await addWorker(ctx.store, { id: 'b', encoders: ['libx264'] });
    await lose('a', 0); // at T
    now += 100_000;
    await lose('a', 0); // at T + 100 s
    const jobId = await addJob('a', 'h264-240p', 'libx264', now, 200);
    ctx.events.emit('job:ended', { jobId, workerId: 'a', state: 'failed', reason: 'simulated encoder crash', cause: 'ffmpeg' });
    expect(await faultsOf('a')).toEqual({ faults: 2, suspects: 1 });
    watcher.stop();
    await watcher.settled();
    now += 30_000; // T + 130 s: the first loss has left the 120 s window
    const restarted = new QuarantineWatcher(ctx);
    await restarted.load();
    expect(await faultsOf('a', restarted)).toEqual({ faults: 1, suspects: 1 });
    // The suspect keeps its spec: once the spec runs elsewhere it becomes a fault there too.
    await addJob('b', 'h264-240p', 'libx264', now - SPEC_PROVEN_MS, null);
    restarted.start();
    watcher = restarted;
    await restarted.sweep(now);
    expect(await faultsOf('a')).toEqual({ faults: 2, suspects: 0 });
    expect((await faultRows('a')).map((r) => r.kind).sort()).toEqual(['connection', 'ffmpeg']);
    expect((await row('a')).quarantinedUntil).toBeNull();
  });

  test('several coordinators on one database: a worker that flaps between them is judged on all their losses, each counted once', async () => {
    if (engine !== 'postgres') return; // one coordinator per SQLite file
    await addWorker(ctx.store, { id: 'a', encoders: ['libx264'] });
    await addWorker(ctx.store, { id: 'b', encoders: ['libx264'] });
    // A second coordinator on the same database, with its own events and watcher.
    const other: CoreContext = { ...ctx, events: new CoordinatorEventBus(), clustered: true };
    ctx.clustered = true;
    const otherWatcher = await watchForQuarantine(other);
    try {
      // Lost by this one, then (it moved) by the other, then by this one again.
      ctx.events.emit('worker:lost', { workerId: 'a', reason: 'connection closed' });
      await watcher.settled();
      now += 5_000;
      other.events.emit('worker:lost', { workerId: 'a', reason: 'connection closed' });
      await otherWatcher.settled();
      expect((await row('a')).quarantinedUntil).toBeNull();
      expect(await faultRows('a')).toHaveLength(2);
      now += 5_000;
      ctx.events.emit('worker:lost', { workerId: 'a', reason: 'connection closed' });
      // Three losses in the window, two here and one there: the third quarantines.
      const quarantined = await row('a');
      expect(quarantined.quarantinedUntil).toBe(now + 300_000);
      expect(quarantined.quarantineReason).toContain('3 lost connections');
    } finally {
      otherWatcher.stop();
      await otherWatcher.settled();
      ctx.clustered = false;
    }
  });
});
