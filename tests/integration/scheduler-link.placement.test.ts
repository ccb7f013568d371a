// A job whose source a worker's link cannot carry goes to another capable worker, and
// the candidates explanation says why (scheduler/claim-job.ts linkFits,
// explain-candidates.ts link_too_slow). Real SQLite file with migrations applied.
import { afterAll, describe, expect, test } from 'bun:test';
import { linkCapacityKbps, linkCarries } from '../../common/job-lanes';
import { claimJob } from '../../coordinator/scheduler/claim-job';
import { explainCandidates } from '../../coordinator/scheduler/explain-candidates';
import { loadWorkerFacts } from '../../coordinator/scheduler/load-worker-facts';
import { addWorker, openTempDb } from './scheduler-fixtures';

const NOW = 1_000_000;
// 'w-far' ranks first (id order among equals) but sits 1 s away: ~5.5 Mbit/s per job.
const RTT: Record<string, number> = { 'w-far': 1000, 'w-near': 20 };
const SOURCE_KBPS = 8000;

describe('placement by link capacity', () => {
  const temp = openTempDb('link');
  afterAll(() => temp.close());
  addWorker(temp.db, { id: 'w-far', encoders: ['libx264'], maxJobs: 2, maxGpuJobs: 0, maxCpuJobs: 2 });
  addWorker(temp.db, { id: 'w-near', encoders: ['libx264'], maxJobs: 2, maxGpuJobs: 0, maxCpuJobs: 2 });
  const fits = (id: string) => linkCarries(RTT[id] ?? null, SOURCE_KBPS);
  const claim = (linkFits?: (id: string) => boolean) =>
    claimJob(temp.db, { sourceId: 's', profileId: 'p', codec: 'h264', preference: null, attempt: 1, now: NOW, linkFits });

  test('the model: 1 s RTT cannot carry 8 Mbit/s, 20 ms can', () => {
    expect(linkCapacityKbps(1000)).toBeLessThan(SOURCE_KBPS * 1.25);
    expect(fits('w-far')).toBe(false);
    expect(fits('w-near')).toBe(true);
  });

  test('without link facts the far worker would win; with them the near one does', () => {
    const facts = loadWorkerFacts(temp.db);
    expect(explainCandidates(facts, { codec: 'h264', preference: null, now: NOW })[0]!.workerId).toBe('w-far');
    const job = claim(fits);
    expect(job?.candidate.workerId).toBe('w-near');
  });

  test('the candidates explanation names the slow link, with RTT and capacity', () => {
    const facts = loadWorkerFacts(temp.db).map((f) => ({ ...f, rttMs: RTT[f.workerId] ?? null }));
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

  test('when only the slow link is left, the job still goes there (better late than nowhere)', () => {
    // w-near is now full.
    claim(fits);
    const facts = loadWorkerFacts(temp.db).map((f) => ({ ...f, rttMs: RTT[f.workerId] ?? null }));
    const rows = explainCandidates(facts, { codec: 'h264', preference: null, now: NOW, sourceKbps: SOURCE_KBPS });
    expect(rows.find((r) => r.workerId === 'w-near')!.excluded?.code).toBe('full');
    expect(rows.find((r) => r.workerId === 'w-far')!.rank).toBe(1);
    expect(claim(fits)?.candidate.workerId).toBe('w-far');
  });
});
