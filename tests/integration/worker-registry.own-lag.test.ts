// Worker liveness when the coordinator's own event loop is what stalls: an in-process
// coordinator on real gRPC (its loop is this test's: a busy-wait here blocks it) and a
// fleet of idle workers in another process (tests/helpers/fake-fleet.ts), at the default
// liveness (heartbeat 250 ms, loss deadline 1,250 ms, a sweep every 62 ms).
//   - A block of twice the loss deadline: the heartbeats sent meanwhile sit unread in our
//     sockets; the sweep that runs when the block ends leaves the block out, so no worker
//     is lost. (The old sweep skipped a late tick, which passed this too; kept as a guard.)
//   - A loop that lags all the time (300 ms busy, a breath, again), so every sweep tick is
//     late: a worker that has really gone silent is still found, by the sweep, with only our
//     lag added to the deadline. The old sweep skipped every tick more than 3 intervals
//     late, so under this lag it found nobody (only gRPC keepalive would, later, and only
//     when the connection itself is dead).
//   - With the loop keeping time, a silent worker is found within the deadline plus a
//     sweep, as before.
// The fleet's workers keep their connection up and answer keepalive pings when silenced
// (SIGUSR1), so only the sweep can find them: what is measured is the sweep.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createLogger, setLogLevel } from '../../common/log';
import { DEFAULT_LIVENESS } from '../../common/liveness';
import { parseCoordinatorConfig } from '../../coordinator/config';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/start-coordinator';
import { FleetProcess } from '../helpers/fleet-process';
import { makeTempDir } from '../helpers/media';
import { freshDatabaseEnv } from './scheduler-fixtures';

const DEADLINE = DEFAULT_LIVENESS.workerLossDeadlineMs;

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // the coordinator's event loop is blocked: this is the point
  }
}

/** Keeps the event loop lagging: `chunkMs` busy, then one turn of the loop (timers, sockets), for `totalMs`. */
async function lagFor(totalMs: number, chunkMs: number, until: () => boolean = () => false): Promise<void> {
  const end = performance.now() + totalMs;
  while (performance.now() < end && !until()) {
    busyWait(chunkMs);
    await new Promise((r) => setTimeout(r, 0));
  }
}

describe('worker liveness while the coordinator itself lags', () => {
  const temp = makeTempDir('registry-own-lag');
  let c: RunningCoordinator;
  const fleets: FleetProcess[] = [];
  const lost: { workerId: string; reason: string; at: number }[] = [];

  beforeAll(async () => {
    setLogLevel('silent');
    const config = parseCoordinatorConfig({
      ...(await freshDatabaseEnv('sqlite', temp.dir, 'own_lag')),
      TVARR_HTTP_HOST: '127.0.0.1',
      TVARR_HTTP_PORT: '0',
      TVARR_GRPC_HOST: '127.0.0.1',
      TVARR_GRPC_PORT: '0',
      TVARR_ADMIN_TOKEN: 'admin-token-0123456789',
    });
    c = await startCoordinator(config, createLogger('coordinator'));
    c.ctx.events.on('worker:lost', ({ workerId, reason }) => lost.push({ workerId, reason, at: performance.now() }));
  });

  afterAll(async () => {
    for (const f of fleets) await f.kill().catch(() => {});
    await c?.stop();
    temp.cleanup();
  });

  async function fleet(prefix: string, count = 3): Promise<FleetProcess> {
    const f = new FleetProcess(`127.0.0.1:${c.grpcPort}`, count, prefix);
    fleets.push(f);
    await f.waitFor((e) => e.event === 'registered' && e.count === count, 60_000);
    // A few heartbeat rounds: every session has been seen since its registration.
    const start = (await f.waitFor((e) => e.event === 'heartbeats', 30_000, false)).total!;
    await f.waitFor((e) => e.event === 'heartbeats' && e.total! >= start + 2 * count, 30_000, false);
    return f;
  }

  const lostOf = (prefix: string) => lost.filter((l) => l.workerId.startsWith(`${prefix}-`));

  test(`a ${2 * DEADLINE} ms block (twice the loss deadline) loses no worker whose heartbeats were queued`, async () => {
    const f = await fleet('queued');
    busyWait(2 * DEADLINE);
    // The sweep's ticks after the block, and the queued heartbeats read: two deadlines.
    await Bun.sleep(2 * DEADLINE);
    expect(lostOf('queued')).toEqual([]);
    expect(f.lost()).toEqual([]);
    for (let i = 0; i < 3; i++) expect(c.registry.get(`queued-${String(i).padStart(5, '0')}`)?.closed).toBe(false);
    await f.kill();
  }, 120_000);

  test('under a lasting lag (every sweep tick late), a silent worker is still found by the sweep, within the deadline plus our lag', async () => {
    const f = await fleet('silent');
    let stop = false;
    const lagging = lagFor(8_000, 300, () => stop);
    await Bun.sleep(500); // lagging now: a timer fires every ~300 ms
    const silencedAt = performance.now();
    await f.silence();
    const found = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (lostOf('silent').length === 3) clearInterval(check), resolve();
      }, 20);
    });
    await Promise.race([found, lagging]);
    const foundWhileLagging = lostOf('silent').length === 3 && performance.now() - silencedAt < 7_000;
    stop = true;
    await lagging;
    expect(foundWhileLagging).toBe(true);
    for (const l of lostOf('silent')) {
      expect(l.reason).toStartWith('no message for');
      // The deadline, a heartbeat interval, and our loop's lag (300 ms turns) and some slack.
      expect(l.at - silencedAt).toBeLessThan(DEADLINE + 250 + 3 * 300 + 1_000);
    }
    await f.kill();
  }, 120_000);

  test('with the loop keeping time, a silent worker is found within the deadline and a sweep, as before', async () => {
    const f = await fleet('prompt');
    const silencedAt = performance.now();
    await f.silence();
    const deadline = performance.now() + 10_000;
    while (lostOf('prompt').length < 3 && performance.now() < deadline) await Bun.sleep(20);
    expect(lostOf('prompt')).toHaveLength(3);
    for (const l of lostOf('prompt')) {
      expect(l.reason).toStartWith('no message for');
      expect(l.at - silencedAt).toBeLessThan(DEFAULT_LIVENESS.detectionBoundMs + 250 + 500);
    }
    await f.kill();
  }, 120_000);
});
