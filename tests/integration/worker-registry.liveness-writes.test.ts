// The registry on a real SQLite file with a test clock: heartbeats faster than half the
// heartbeat interval cost no writes (liveness stays in memory), a silent session no
// longer blocks its id, and the pieces of the contract that are pure functions.
import { afterAll, describe, expect, test } from 'bun:test';
import { createLogger, setLogLevel } from '../../common/log';
import { resolveSlotLimits, clipText } from '../../common/worker-contract';
import { parseCoordinatorConfig } from '../../coordinator/config';
import type { CoreContext } from '../../coordinator/context';
import { openDatabase } from '../../coordinator/db/client';
import type { WorkerRegistration } from '../../coordinator/domain';
import { CoordinatorEventBus } from '../../coordinator/events';
import { certificateNames } from '../../coordinator/grpc/auth';
import { controlRateLimiter } from '../../coordinator/grpc/control-stream';
import { WorkerRegistry } from '../../coordinator/workers/worker-registry';
import { type ControlCall, WorkerSession } from '../../coordinator/workers/worker-session';
import { getWorker } from '../../coordinator/workers/worker-store';
import { makeTempDir } from '../helpers/media';

setLogLevel('silent');
const temp = makeTempDir('registry-writes');
afterAll(() => temp.cleanup());

function setup() {
  let now = 1_000_000;
  const config = parseCoordinatorConfig({ TVARR_DATABASE_PATH: `${temp.dir}/${Math.random()}.db`, TVARR_HEARTBEAT_INTERVAL_MS: '1000', TVARR_WORKER_LOSS_DEADLINE_MS: '5000' });
  const db = openDatabase(config.databasePath);
  const ctx: CoreContext = { config, db, events: new CoordinatorEventBus(), log: createLogger('test'), clock: { now: () => now } };
  const registry = new WorkerRegistry(ctx);
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
  // The session only writes to its call; this stand-in records that it was not touched.
  const call = () => ({ write: () => true, end: () => {}, destroy: () => {} }) as unknown as ControlCall;
  return { ctx, registry, reg, call, advance: (ms: number) => (now += ms), now: () => now };
}

const usage = (cpuPercent: number) => ({ cpuPercent, memoryUsedBytes: 0, memoryTotalBytes: 0, load1: 0, gpus: [] });

describe('worker registry', () => {
  test('heartbeats faster than half the interval are not written; liveness still counts them', () => {
    const t = setup();
    const s = new WorkerSession('w', 'w', t.call(), t.now());
    t.registry.register(t.reg('w'), s);
    for (let i = 1; i <= 100; i++) {
      t.advance(1); // 100 heartbeats within 100 ms
      t.registry.heartbeat(s, usage(i));
    }
    expect(s.lastSeenAt).toBe(t.now());
    expect(getWorker(t.ctx.db, 'w')!.usage).toBeNull(); // none written: all inside 500 ms of registration
    t.advance(500);
    t.registry.heartbeat(s, usage(101));
    expect((getWorker(t.ctx.db, 'w')!.usage as { cpuPercent: number }).cpuPercent).toBe(101);
    t.advance(10);
    t.registry.heartbeat(s, usage(102));
    expect((getWorker(t.ctx.db, 'w')!.usage as { cpuPercent: number }).cpuPercent).toBe(101);
  });

  test('a second session is refused while the first is alive, and replaces it once the first is silent past the deadline', () => {
    const t = setup();
    const first = new WorkerSession('w', 'w', t.call(), t.now());
    t.registry.register(t.reg('w'), first);
    t.advance(4000);
    expect(() => t.registry.register(t.reg('w'), new WorkerSession('w', 'w', t.call(), t.now()))).toThrow('already connected');
    expect(t.registry.get('w')).toBe(first);
    t.advance(1001); // 5001 ms of silence > the 5000 ms deadline
    const second = new WorkerSession('w', 'w', t.call(), t.now());
    t.registry.register(t.reg('w'), second);
    expect(t.registry.get('w')).toBe(second);
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
