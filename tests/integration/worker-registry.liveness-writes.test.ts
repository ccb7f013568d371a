// The registry on a real database (both engines) with a test clock. Liveness lives in
// memory: heartbeats from any number of sessions write no row; flushTouches writes every
// worker that is due (not written for TOUCH_PERSIST_MS) once, all in one batch; the live
// values are served from the session at once; a lost worker's row goes offline with its
// last liveness. Also: a silent session no longer blocks its id, and the pieces of the
// contract that are pure functions.
import { afterAll, describe, expect, test } from 'bun:test';
import { LARGE_FLEET_STEADY_PING_MS, SAMPLES_AFTER_WARMUP, STEADY_INTERVAL_MS } from '../../coordinator/workers/link-stats';
import { DEFAULT_LIVENESS, heartbeatIntervalForFleet, LARGE_FLEET_HEARTBEAT_INTERVAL_MS, LARGE_FLEET_WORKERS } from '../../common/liveness';
import { createLogger, setLogLevel } from '../../common/log';
import { resolveSlotLimits, clipText } from '../../common/worker-contract';
import { parseCoordinatorConfig } from '../../coordinator/config';
import type { CoreContext } from '../../coordinator/context';
import type { WorkerRegistration } from '../../coordinator/domain';
import { CoordinatorEventBus } from '../../coordinator/events';
import { certificateNames } from '../../coordinator/grpc/auth';
import { controlRateLimiter } from '../../coordinator/grpc/control-stream';
import { TOUCH_PERSIST_MS, WorkerRegistry } from '../../coordinator/workers/worker-registry';
import { type ControlCall, WorkerSession } from '../../coordinator/workers/worker-session';
import { getWorker } from '../../coordinator/workers/worker-store';
import { eventually } from '../helpers/processes';
import { ENGINES, openTempStore, type TempStore } from './scheduler-fixtures';

setLogLevel('silent');

const usage = (cpuPercent: number) => ({ cpuPercent, memoryUsedBytes: 0, memoryTotalBytes: 0, load1: 0, gpus: [] });
const cpuOf = (u: unknown) => (u as { cpuPercent: number } | null)?.cpuPercent ?? null;

describe.each(ENGINES)('worker registry (%s)', (engine) => {
  const opened: TempStore[] = [];
  const registries: WorkerRegistry[] = [];
  afterAll(async () => {
    for (const r of registries) r.stop();
    for (const t of opened) await t.close();
  });

  async function setup() {
    let now = 1_000_000;
    const temp = await openTempStore('registry-writes', engine);
    opened.push(temp);
    const config = parseCoordinatorConfig({ TVARR_HEARTBEAT_INTERVAL_MS: '1000', TVARR_WORKER_LOSS_DEADLINE_MS: '5000' });
    const ctx: CoreContext = { config, store: temp.store, events: new CoordinatorEventBus(), log: createLogger('test'), clock: { now: () => now } };
    // Not started: no sweep, prune or flush timer runs; the test calls each itself.
    const registry = new WorkerRegistry(ctx);
    registries.push(registry);
    await registry.init();
    const reg = (id: string): WorkerRegistration => ({
      id,
      name: id,
      version: 't',
      hostname: 'h',
      address: 'a',
      ffmpegVersion: 'f',
      encoders: [{ name: 'libx264', codec: 'h264', kind: 'cpu', family: 'software' }],
      rejectedEncoders: [],
      gpus: [],
      limits: { maxJobs: 1, maxGpuJobs: 0, maxCpuJobs: 1 },
      speedFps: 1,
      activeJobs: [],
      draining: false,
    });
    // The session only writes to its call; this stand-in takes whatever it is given.
    const call = () => ({ write: () => true, end: () => {}, destroy: () => {} }) as unknown as ControlCall;
    const connect = async (id: string) => {
      const session = new WorkerSession(id, id, call(), now);
      await registry.register(reg(id), session);
      return session;
    };
    const row = async (id: string) => (await getWorker(ctx.store, id))!;
    return { ctx, registry, reg, call, connect, row, advance: (ms: number) => (now += ms), now: () => now };
  }

  test('heartbeats from many sessions write no row until a flush; one flush writes each due worker once, in one batch', async () => {
    const { ctx, registry, connect, row, advance, now } = await setup();
    const early = Array.from({ length: 10 }, (_, i) => `early-${i}`);
    const late = Array.from({ length: 10 }, (_, i) => `late-${i}`);
    const t0 = now();
    const sessions = [];
    for (const id of early) sessions.push(await connect(id));
    advance(200_000);
    const t1 = now();
    for (const id of late) sessions.push(await connect(id));
    expect(registry.writes).toEqual({ registrations: 20, touchBatches: 0, touchedRows: 0, losses: 0 });
    const writesBefore = ctx.store.queries.writes;

    // 50 rounds of heartbeats from all 20 sessions, one a second: 1,000 heartbeats.
    for (let round = 1; round <= 50; round++) {
      advance(1_000);
      for (const s of sessions) registry.heartbeat(s, usage(round));
    }
    // Nothing written: not a statement, not a row.
    expect(ctx.store.queries.writes).toBe(writesBefore);
    for (const id of early) expect([(await row(id)).lastSeenAt, (await row(id)).usage]).toEqual([t0, null]);
    for (const id of late) expect([(await row(id)).lastSeenAt, (await row(id)).usage]).toEqual([t1, null]);
    // The live values are there at once, from memory.
    for (const id of [...early, ...late]) expect(registry.live(id)).toEqual({ lastSeenAt: now(), usage: usage(50) });
    // No worker is due yet (the last row write is less than TOUCH_PERSIST_MS old): a flush writes nothing.
    expect(await registry.flushTouches(now())).toBe(0);
    expect(ctx.store.queries.writes).toBe(writesBefore);

    // TOUCH_PERSIST_MS after the early registrations: those ten are due, the late ones are not.
    advance(t0 + TOUCH_PERSIST_MS - now());
    for (const s of sessions) registry.heartbeat(s, usage(51));
    const beforeFlush = ctx.store.queries.writes;
    expect(await registry.flushTouches(now())).toBe(10);
    expect(registry.writes).toMatchObject({ touchBatches: 1, touchedRows: 10 });
    // One transaction: its BEGIN and one UPDATE per due worker.
    expect(ctx.store.queries.writes - beforeFlush).toBe(1 + 10);
    for (const id of early) expect([(await row(id)).lastSeenAt, cpuOf((await row(id)).usage)]).toEqual([now(), 51]);
    for (const id of late) expect([(await row(id)).lastSeenAt, (await row(id)).usage]).toEqual([t1, null]);
    // Each due worker once: flushing again at once writes nothing.
    expect(await registry.flushTouches(now())).toBe(0);
    expect(registry.writes).toMatchObject({ touchBatches: 1, touchedRows: 10 });

    // TOUCH_PERSIST_MS after the late registrations: now only those are due.
    advance(t1 + TOUCH_PERSIST_MS - now());
    for (const s of sessions) registry.heartbeat(s, usage(52));
    expect(await registry.flushTouches(now())).toBe(10);
    expect(registry.writes).toMatchObject({ registrations: 20, touchBatches: 2, touchedRows: 20, losses: 0 });
    for (const id of late) expect([(await row(id)).lastSeenAt, cpuOf((await row(id)).usage)]).toEqual([now(), 52]);
    for (const id of early) expect(cpuOf((await row(id)).usage)).toBe(51);

    // persistMs 0 (the flush at shutdown): every connected worker, still one batch.
    expect(await registry.flushTouches(now(), 0)).toBe(20);
    expect(registry.writes).toMatchObject({ touchBatches: 3, touchedRows: 40 });
    for (const id of early) expect(cpuOf((await row(id)).usage)).toBe(52);
  });

  test('a lost worker leaves memory at once and its row goes offline with its last liveness', async () => {
    const { ctx, registry, connect, row, advance, now } = await setup();
    const closed = await connect('closed');
    const silent = await connect('silent');
    advance(1_000);
    registry.heartbeat(closed, usage(7));
    registry.heartbeat(silent, usage(8));
    const lastSeen = now();

    // The control stream ends: lost at once.
    const lostClosed = ctx.events.waitFor('worker:lost', (e) => e.workerId === 'closed');
    registry.disconnected(closed, 'control stream ended');
    expect((await lostClosed).reason).toBe('control stream ended');
    expect(registry.live('closed')).toBeNull();
    expect(registry.get('closed')).toBeUndefined();
    // The offline write is retried in the background until it lands; no event says when.
    const offline = await eventually('the closed worker offline', async () => {
      const r = await row('closed');
      return r.state === 'offline' && r;
    }, 10_000);
    expect(offline.lastSeenAt).toBe(lastSeen);

    // The other one goes silent: the sweep finds it past the 5 s deadline.
    advance(5_001);
    expect(registry.live('silent')).toEqual({ lastSeenAt: lastSeen, usage: usage(8) });
    const lostSilent = ctx.events.waitFor('worker:lost', (e) => e.workerId === 'silent');
    registry.sweepStale(now());
    expect((await lostSilent).reason).toContain('no message for 5001 ms');
    expect(silent.closed).toBe(true);
    expect(registry.live('silent')).toBeNull();
    const silentRow = await eventually('the silent worker offline', async () => {
      const r = await row('silent');
      return r.state === 'offline' && r;
    }, 10_000);
    expect(silentRow.lastSeenAt).toBe(lastSeen);
    expect(registry.writes).toMatchObject({ registrations: 2, losses: 2, touchBatches: 0 });
    // A lost session is no longer flushed.
    expect(await registry.flushTouches(now(), 0)).toBe(0);
  });

  test('the sweep finds the silent sessions whatever their order of registration, and only them', async () => {
    // The sweep reads sessions oldest message first and stops at the first recent one:
    // a message must move its session behind the silent ones.
    const { registry, connect, advance, now } = await setup();
    const ids = Array.from({ length: 6 }, (_, i) => `order-${i}`);
    const sessions = [];
    for (const id of ids) sessions.push(await connect(id));
    advance(3000);
    // The first, third and fifth talk; the others stay silent.
    for (const i of [0, 2, 4]) registry.heartbeat(sessions[i]!, usage(i));
    advance(2500); // silent ones: 5.5 s > 5 s deadline; talkers: 2.5 s
    registry.sweepStale(now());
    expect(ids.filter((id) => registry.get(id) !== undefined)).toEqual(['order-0', 'order-2', 'order-4']);
    advance(3000); // now the talkers are past it too
    registry.sweepStale(now());
    expect(ids.filter((id) => registry.get(id) !== undefined)).toEqual([]);
  });

  test('a large fleet is asked for half the heartbeats, with the same loss deadline; a set interval is kept', async () => {
    const { ctx, registry, connect } = await setup(); // TVARR_HEARTBEAT_INTERVAL_MS set: 1000 whatever the size
    for (let i = 0; i < LARGE_FLEET_WORKERS - 1; i++) await connect(`big-${i}`);
    expect(registry.steadyPingIntervalFor()).toBe(STEADY_INTERVAL_MS);
    expect(registry.samplePingsFor()).toBe(SAMPLES_AFTER_WARMUP);
    await connect(`big-${LARGE_FLEET_WORKERS - 1}`);
    expect(registry.heartbeatIntervalFor()).toBe(1000);
    // RTT pings once the samples are in: seldom from the same size on, whatever the heartbeat setting.
    expect(registry.steadyPingIntervalFor()).toBe(LARGE_FLEET_STEADY_PING_MS);
    expect(registry.samplePingsFor()).toBe(0);
    const unset = { ...parseCoordinatorConfig({}).liveness };
    ctx.config = { ...ctx.config, liveness: unset };
    expect(registry.heartbeatIntervalFor()).toBe(LARGE_FLEET_HEARTBEAT_INTERVAL_MS);
    expect(unset.workerLossDeadlineMs).toBe(DEFAULT_LIVENESS.workerLossDeadlineMs);
    // A coordinator restarted under that fleet knows its size from the database at once.
    const again = new WorkerRegistry(ctx);
    registries.push(again);
    await again.init();
    expect(again.heartbeatIntervalFor()).toBe(LARGE_FLEET_HEARTBEAT_INTERVAL_MS);
    expect(again.steadyPingIntervalFor()).toBe(LARGE_FLEET_STEADY_PING_MS);
  });

  test('a second session is refused while the first is alive, and replaces it once the first is silent past the deadline', async () => {
    const { registry, reg, call, connect, advance, now } = await setup();
    const first = await connect('w');
    advance(4000);
    await expect(registry.register(reg('w'), new WorkerSession('w', 'w', call(), now()))).rejects.toThrow('already connected');
    expect(registry.get('w')).toBe(first);
    advance(1001); // 5001 ms of silence > the 5000 ms deadline
    const second = new WorkerSession('w', 'w', call(), now());
    expect(await registry.register(reg('w'), second)).toEqual({ reconnect: true });
    expect(registry.get('w')).toBe(second);
    expect(first.closed).toBe(true);
  });
});

describe('contract helpers', () => {
  test('slot fields: both 0 = each up to max_jobs; one 0 = that class disabled', () => {
    expect(resolveSlotLimits({ maxJobs: 2, maxGpuJobs: 0, maxCpuJobs: 0 })).toEqual({ maxJobs: 2, maxGpuJobs: 2, maxCpuJobs: 2 });
    expect(resolveSlotLimits({ maxJobs: 4, maxGpuJobs: 4, maxCpuJobs: 0 })).toEqual({ maxJobs: 4, maxGpuJobs: 4, maxCpuJobs: 0 });
  });

  test('clipText keeps at most n characters', () => {
    expect(clipText('x'.repeat(5000), 1024)).toHaveLength(1024);
    expect(clipText('short', 1024)).toBe('short');
  });

  test('certificate names: CN and DNS/URI SANs, not IP SANs', () => {
    const cert = { subject: { CN: 'w-cn' }, subjectaltname: 'DNS:w-dns, IP Address:10.0.0.1, URI:spiffe://tvarr/w' } as never;
    expect(certificateNames(cert)).toEqual(['w-cn', 'w-dns', 'spiffe://tvarr/w']);
  });

  test('heartbeat interval by fleet size: the default below the threshold, 500 ms above, never under 2.5 per deadline', () => {
    const d = { heartbeatIntervalMs: 250, workerLossDeadlineMs: 1250 };
    expect(heartbeatIntervalForFleet(d, LARGE_FLEET_WORKERS - 1)).toBe(250);
    expect(heartbeatIntervalForFleet(d, LARGE_FLEET_WORKERS)).toBe(500);
    expect(heartbeatIntervalForFleet({ ...d, heartbeatIntervalFixed: true }, 5000)).toBe(250);
    expect(heartbeatIntervalForFleet({ heartbeatIntervalMs: 250, workerLossDeadlineMs: 1000 }, 5000)).toBe(400);
    expect(heartbeatIntervalForFleet({ heartbeatIntervalMs: 250, workerLossDeadlineMs: 500 }, 5000)).toBe(250);
  });

  test('control rate limiter: a burst, then the refill rate', () => {
    let now = 0;
    const take = controlRateLimiter(() => now, 10, 100);
    let ok = 0;
    for (let i = 0; i < 20; i++) if (take()) ok++;
    expect(ok).toBe(10);
    now += 50; // 5 tokens at 100/s
    ok = 0;
    for (let i = 0; i < 20; i++) if (take()) ok++;
    expect(ok).toBe(5);
  });
});
