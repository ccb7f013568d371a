// Concurrent claims against small limits: nobody exceeds a limit, everyone else is told
// why. Two layers, each proving something different:
// - in one process: 50 requests in flight at once through claimJob, as the HTTP layer
//   would issue them. Bun runs them one at a time (the claim is synchronous), so this
//   proves the count-and-insert is exact and that refusals carry reasons;
// - across processes: several Bun processes, each with its own SQLite connection,
//   claim and release against the same file at the same time. This is what proves
//   BEGIN IMMEDIATE: a guard trigger aborts any insert that would oversubscribe.
import { afterAll, describe, expect, test } from 'bun:test';
import { claimJob } from '../../coordinator/scheduler/claim-job';
import { explainCandidates, summarizeExclusions } from '../../coordinator/scheduler/explain-candidates';
import { loadWorkerFacts } from '../../coordinator/scheduler/load-worker-facts';
import { checkSlotDrift } from '../../coordinator/scheduler/check-slot-drift';
import { BUN } from '../helpers/processes';
import { addWorker, liveCounts, openTempDb } from './scheduler-fixtures';

const ROOT = new URL('../..', import.meta.url).pathname;
const NOW = 1_000_000;

// Three workers with small, different limits: capacity for h264 is 3 + 2 + 3 = 8.
const WORKERS = [
  { id: 'w-a', encoders: ['libx264', 'h264_nvenc'], maxJobs: 3, maxGpuJobs: 2, maxCpuJobs: 1 },
  { id: 'w-b', encoders: ['libx264'], maxJobs: 2, maxGpuJobs: 0, maxCpuJobs: 2 },
  { id: 'w-c', encoders: ['libx264', 'h264_vaapi'], maxJobs: 4, maxGpuJobs: 1, maxCpuJobs: 2 },
];
const CAPACITY = 8;

function expectWithinLimits(counts: ReturnType<typeof liveCounts>): void {
  for (const w of WORKERS) {
    const c = counts.get(w.id) ?? { total: 0, gpu: 0, cpu: 0 };
    expect(c.total).toBeLessThanOrEqual(w.maxJobs);
    expect(c.gpu).toBeLessThanOrEqual(w.maxGpuJobs);
    expect(c.cpu).toBeLessThanOrEqual(w.maxCpuJobs);
  }
}

describe('50 concurrent claims against 3 small workers', () => {
  const temp = openTempDb('claims');
  afterAll(() => temp.close());

  test('exactly the free slots are taken; the other 42 fail with the reason', async () => {
    for (const w of WORKERS) addWorker(temp.db, w);
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        await Promise.resolve(); // all 50 are in flight before the first claim runs
        const claim = claimJob(temp.db, { sourceId: 's', profileId: `p-${i}`, codec: 'h264', preference: null, attempt: 1, now: NOW });
        if (claim) return { ok: true as const, workerId: claim.candidate.workerId };
        const why = summarizeExclusions(explainCandidates(loadWorkerFacts(temp.db), { codec: 'h264', preference: null, now: NOW }));
        return { ok: false as const, why };
      }),
    );
    const placed = results.filter((r) => r.ok);
    const refused = results.filter((r) => !r.ok);
    expect(placed).toHaveLength(CAPACITY);
    expect(refused).toHaveLength(50 - CAPACITY);
    for (const r of refused) {
      expect(r.why).toContain('w-a (full: jobs 3/3)');
      expect(r.why).toContain('w-b (full: jobs 2/2)');
      expect(r.why).toContain('w-c (GPU slots full: 1/1; CPU slots full: 2/2)');
    }
    const counts = liveCounts(temp.db);
    expectWithinLimits(counts);
    expect(counts.get('w-a')).toEqual({ total: 3, gpu: 2, cpu: 1 });
    expect(counts.get('w-c')).toEqual({ total: 3, gpu: 1, cpu: 2 });
    expect(checkSlotDrift(temp.db)).toEqual({ stale: [], missing: [] });
  });
});

describe('claims from several processes on one SQLite file', () => {
  const temp = openTempDb('procs');
  afterAll(() => temp.close());

  // Each child opens its own connection, waits for "go" on stdin (so all start
  // together), then claims and releases in a tight loop and prints its tally.
  const CHILD = `
    import { openDatabase } from '${ROOT}coordinator/db/client';
    import { claimJob } from '${ROOT}coordinator/scheduler/claim-job';
    const db = openDatabase(process.env.DB_PATH);
    const tally = { placed: 0, refused: 0, released: 0, errors: [] };
    const mine = [];
    console.log('ready');
    for await (const _ of console) break;
    for (let i = 0; i < Number(process.env.ROUNDS); i++) {
      try {
        const c = claimJob(db, { sourceId: 's', profileId: 'p-' + process.pid + '-' + i, codec: 'h264', preference: null, attempt: 1, now: ${NOW} });
        if (c) { tally.placed++; mine.push(c.jobId); } else tally.refused++;
        if (mine.length && i % 3 === 2) {
          db.$client.run("UPDATE jobs SET state = 'completed' WHERE id = ?", [mine.shift()]);
          tally.released++;
        }
      } catch (err) { tally.errors.push(String(err)); }
    }
    console.log(JSON.stringify(tally));
    db.$client.close();
  `;

  test('no insert ever oversubscribes a worker, and no claim errors', async () => {
    for (const w of WORKERS) addWorker(temp.db, w);
    // Test-only guard: aborts any job insert that leaves a worker over a limit.
    temp.db.$client.run(`
      CREATE TRIGGER test_guard_oversubscription AFTER INSERT ON jobs
      BEGIN
        SELECT RAISE(ABORT, 'oversubscribed')
          FROM workers w
         WHERE w.id = NEW.worker_id
           AND ((SELECT count(*) FROM jobs j WHERE j.worker_id = w.id AND j.state IN ('pending', 'running')) > w.max_jobs
             OR (SELECT count(*) FROM jobs j WHERE j.worker_id = w.id AND j.state IN ('pending', 'running') AND j.kind = 'gpu') > w.max_gpu_jobs
             OR (SELECT count(*) FROM jobs j WHERE j.worker_id = w.id AND j.state IN ('pending', 'running') AND j.kind = 'cpu') > w.max_cpu_jobs);
      END`);
    const ROUNDS = 300;
    const children = Array.from({ length: 4 }, () =>
      Bun.spawn([BUN, '-e', CHILD], {
        cwd: ROOT,
        env: { ...process.env, DB_PATH: temp.path, ROUNDS: String(ROUNDS) },
        stdin: 'pipe',
        stdout: 'pipe',
        stderr: 'inherit',
      }),
    );
    try {
      const readers = children.map((c) => c.stdout.getReader());
      const decoder = new TextDecoder();
      const buffers = children.map(() => '');
      const readLine = async (i: number): Promise<string> => {
        for (;;) {
          const nl = buffers[i]!.indexOf('\n');
          if (nl >= 0) {
            const line = buffers[i]!.slice(0, nl);
            buffers[i] = buffers[i]!.slice(nl + 1);
            return line;
          }
          const { value, done } = await readers[i]!.read();
          if (done) throw new Error(`child ${i} exited early`);
          buffers[i] += decoder.decode(value, { stream: true });
        }
      };
      expect(await Promise.all(children.map((_, i) => readLine(i)))).toEqual(['ready', 'ready', 'ready', 'ready']);
      for (const c of children) {
        c.stdin.write('go\n');
        c.stdin.flush();
      }
      const tallies = (await Promise.all(children.map((_, i) => readLine(i)))).map(
        (l) => JSON.parse(l) as { placed: number; refused: number; released: number; errors: string[] },
      );
      for (const c of children) c.stdin.end();
      expect(await Promise.all(children.map((c) => c.exited))).toEqual([0, 0, 0, 0]);
      expect(tallies.flatMap((t) => t.errors)).toEqual([]);
      const placed = tallies.reduce((n, t) => n + t.placed, 0);
      const released = tallies.reduce((n, t) => n + t.released, 0);
      expect(placed + tallies.reduce((n, t) => n + t.refused, 0)).toBe(4 * ROUNDS);
      // Contention really happened: far more placements than capacity, and refusals.
      expect(placed).toBeGreaterThan(CAPACITY);
      expect(tallies.some((t) => t.refused > 0)).toBe(true);
      const counts = liveCounts(temp.db);
      expectWithinLimits(counts);
      const live = [...counts.values()].reduce((n, c) => n + c.total, 0);
      expect(live).toBe(placed - released);
      expect(checkSlotDrift(temp.db)).toEqual({ stale: [], missing: [] });
    } finally {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
      await Promise.all(children.map((c) => c.exited));
    }
  });
});
