// The stored discontinuity sequence (coordinator/streams/hls/discontinuity-ledger.ts), on
// both engines: a run starts past every number an earlier run published, also from a
// second ledger on the same database (a restarted coordinator, or another one taking the
// source over); two coordinators starting runs at once never get one number twice; the
// numbers stay small (one per run and per discontinuity); an unreachable database leaves
// HLS going on from the process's own count.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Logger } from '../../common/log';
import { StoredDiscontinuityLedger } from '../../coordinator/streams/hls/discontinuity-ledger';
import { ENGINES, openTempStore, type TempStore } from './scheduler-fixtures';

function recordingLog(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const log: Logger & { warnings: string[] } = {
    warnings,
    debug: () => {},
    info: () => {},
    warn: (msg: string) => void warnings.push(msg),
    error: (msg: string) => void warnings.push(msg),
    child: () => log,
  } as unknown as Logger & { warnings: string[] };
  return log;
}

describe.each(ENGINES)('hls discontinuity ledger (%s)', (engine) => {
  let temp: TempStore;
  beforeAll(async () => {
    temp = await openTempStore('dseq', engine);
  });
  afterAll(async () => temp?.close());

  test('runs count up from 0; a discontinuity raises the next base past it; a second ledger (restart) goes on', async () => {
    const log = recordingLog();
    const first = new StoredDiscontinuityLedger(temp.store, log, () => 1_000);
    expect(await first.startRun('news')).toBe(0);
    expect(await first.startRun('news')).toBe(1);
    first.published('news', 3); // that run published discontinuity sequence 3
    expect(await first.startRun('news')).toBe(4);
    expect(await first.startRun('sport')).toBe(0); // one count per source
    const restarted = new StoredDiscontinuityLedger(temp.store, log, () => 2_000);
    expect(await restarted.startRun('news')).toBe(5);
    restarted.published('news', 2); // lower than stored: nothing goes back
    expect(await restarted.startRun('news')).toBe(6);
    expect(log.warnings).toEqual([]);
  });

  test('two coordinators starting runs of one source at once get distinct, consecutive bases', async () => {
    const log = recordingLog();
    const a = new StoredDiscontinuityLedger(temp.store, log, () => 3_000);
    const b = new StoredDiscontinuityLedger(temp.store, log, () => 3_000);
    const bases = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).startRun('race')));
    expect([...bases].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(log.warnings).toEqual([]);
  });

  test('an unreachable database: the run goes on from this process\'s count, logged', async () => {
    const log = recordingLog();
    const broken = { ...temp.store, db: new Proxy(temp.store.db, { get: () => () => { throw new Error('database down'); } }) };
    const ledger = new StoredDiscontinuityLedger(broken, log, () => 4_000);
    expect(await ledger.startRun('down')).toBe(0);
    ledger.published('down', 2);
    expect(await ledger.startRun('down')).toBe(3);
    expect(log.warnings).toContain('hls discontinuity sequence not stored; going on from this process');
  });
});
