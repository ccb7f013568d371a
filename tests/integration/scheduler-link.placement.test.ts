// A job whose source a worker's link cannot carry goes to another capable worker, and
// the candidates explanation says why (scheduler/claim-job.ts linkFits,
// explain-candidates.ts link_too_slow). A real database with migrations applied, on
// both engines.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { linkCapacityKbps, linkCarries } from '../../common/job-lanes';
import { claimJob } from '../../coordinator/scheduler/claim-job';
import { explainCandidates } from '../../coordinator/scheduler/explain-candidates';
import { loadWorkerFacts } from '../../coordinator/scheduler/load-worker-facts';
import { addWorker, ENGINES, liveCounts, openTempStore, type TempStore } from './scheduler-fixtures';

const NOW = 1_000_000;
// 'w-far' ranks first (id order among equals) but sits 1 s away: ~5.5 Mbit/s per job.
const RTT: Record<string, number> = { 'w-far': 1000, 'w-near': 20 };
const SOURCE_KBPS = 8000;

const fits = (id: string) => linkCarries(RTT[id] ?? null, SOURCE_KBPS);

test('the model: 1 s RTT cannot carry 8 Mbit/s, 20 ms can', () => {
  expect(linkCapacityKbps(1000)).toBeLessThan(SOURCE_KBPS * 1.25);
  expect(fits('w-far')).toBe(false);
  expect(fits('w-near')).toBe(true);
});

describe.each(ENGINES)('placement by link capacity (%s)', (engine) => {
  let temp: TempStore;
  beforeAll(async () => {
    temp = await openTempStore('link', engine);
    await addWorker(temp.store, { id: 'w-far', encoders: ['libx264'], maxJobs: 2, maxGpuJobs: 0, maxCpuJobs: 2 });
    await addWorker(temp.store, { id: 'w-near', encoders: ['libx264'], maxJobs: 2, maxGpuJobs: 0, maxCpuJobs: 2 });
  });
  afterAll(() => temp.close());
  const claim = (linkFits?: (id: string) => boolean) =>
    claimJob(temp.store, { sourceId: 's', profileId: 'p', codec: 'h264', preference: null, attempt: 1, now: NOW, linkFits });
  const factsWithRtt = async () => (await loadWorkerFacts(temp.store)).map((f) => ({ ...f, rttMs: RTT[f.workerId] ?? null }));

  test('without link facts the far worker would win; with them the near one does', async () => {
    const facts = await loadWorkerFacts(temp.store);
    expect(explainCandidates(facts, { codec: 'h264', preference: null, now: NOW })[0]!.workerId).toBe('w-far');
    const job = await claim(fits);
    expect(job?.candidate.workerId).toBe('w-near');
  });

  test('the candidates explanation names the slow link, with RTT and capacity', async () => {
    const facts = await factsWithRtt();
    const rows = explainCandidates(facts, { codec: 'h264', preference: null, now: NOW, sourceKbps: SOURCE_KBPS });
    const far = rows.find((r) => r.workerId === 'w-far')!;
    expect(far.rank).toBeNull();
    expect(far.excluded?.code).toBe('link_too_slow');
    expect(far.excluded?.reason).toContain('RTT 1000 ms');
    expect(far.excluded?.reason).toContain('the source needs 8 Mbit/s');
    expect(far.rttMs).toBe(1000);
    expect(far.linkCapacityKbps).toBe(Math.round(linkCapacityKbps(1000)));
    expect(rows.find((r) => r.workerId === 'w-near')!.rank).toBe(1);
    // Unknown bitrate: links are not judged.
    expect(explainCandidates(facts, { codec: 'h264', preference: null, now: NOW })[0]!.workerId).toBe('w-far');
  });

  test('when only the slow link is left, the job still goes there (better late than nowhere)', async () => {
    // w-near is now full.
    expect((await claim(fits))?.candidate.workerId).toBe('w-near');
    const rows = explainCandidates(await factsWithRtt(), { codec: 'h264', preference: null, now: NOW, sourceKbps: SOURCE_KBPS });
    expect(rows.find((r) => r.workerId === 'w-near')!.excluded?.code).toBe('full');
    expect(rows.find((r) => r.workerId === 'w-far')!.rank).toBe(1);
    expect((await claim(fits))?.candidate.workerId).toBe('w-far');
    expect(Object.fromEntries(await liveCounts(temp.store))).toEqual({
      'w-near': { total: 2, gpu: 0, cpu: 2 },
      'w-far': { total: 1, gpu: 0, cpu: 1 },
    });
  });
});
