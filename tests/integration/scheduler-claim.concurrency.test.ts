// Concurrent claims against small limits: nobody exceeds a limit, everyone else is told
// why. Two layers, each proving something different, on both engines:
// - in one process: 50 requests in flight at once through claimJob, as the HTTP layer
//   would issue them. On SQLite their transactions take turns on the one connection; on
//   PostgreSQL they really overlap on the pool, serialized by the claim lock. This proves
//   the count-and-insert is exact and that refusals carry reasons;
// - across processes: four Bun processes, each with its own connection (SQLite: the same
//   file; PostgreSQL: the same database, like coordinators sharing one), claim and release
//   as fast as they can. This is what proves BEGIN IMMEDIATE and the advisory claim lock:
//   a guard trigger aborts any insert that would oversubscribe, no claim may error (a
//   deadlock or a busy database would be one), and no claim is lost.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import type { Engine, Store } from '../../coordinator/db/store';
import { checkSlotDrift } from '../../coordinator/scheduler/check-slot-drift';
import { claimJob } from '../../coordinator/scheduler/claim-job';
import { explainCandidates, summarizeExclusions } from '../../coordinator/scheduler/explain-candidates';
import { loadWorkerFacts } from '../../coordinator/scheduler/load-worker-facts';
import { BUN } from '../helpers/processes';
import { addWorker, ENGINES, liveCounts, openTempStore, type LiveCounts, type TempStore } from './scheduler-fixtures';

const ROOT = new URL('../..', import.meta.url).pathname;
const NOW = 1_000_000;

// Three workers with small, different limits: capacity for h264 is 3 + 2 + 3 = 8.
const WORKERS = [
  { id: 'w-a', encoders: ['libx264', 'h264_nvenc'], maxJobs: 3, maxGpuJobs: 2, maxCpuJobs: 1 },
  { id: 'w-b', encoders: ['libx264'], maxJobs: 2, maxGpuJobs: 0, maxCpuJobs: 2 },
  { id: 'w-c', encoders: ['libx264', 'h264_vaapi'], maxJobs: 4, maxGpuJobs: 1, maxCpuJobs: 2 },
];
const CAPACITY = 8;

function expectWithinLimits(counts: LiveCounts): void {
  for (const w of WORKERS) {
    const c = counts.get(w.id) ?? { total: 0, gpu: 0, cpu: 0 };
    expect(c.total).toBeLessThanOrEqual(w.maxJobs);
    expect(c.gpu).toBeLessThanOrEqual(w.maxGpuJobs);
    expect(c.cpu).toBeLessThanOrEqual(w.maxCpuJobs);
  }
}

async function countJobs(store: Store): Promise<number> {
  const [row] = await store.db.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(store.t.jobs);
  return row?.n ?? 0;
}

/**
 * Test-only guard: aborts any job insert that leaves a worker over a limit, counted from
 * the jobs table (not the read model the claim uses). On PostgreSQL it first takes a
 * per-worker lock of its own, so that a concurrent insert on the same worker, had the
 * claim lock let one through, is counted once the first commits (under READ COMMITTED
 * each statement of the function sees what committed before it): the guard cannot be
 * fooled by two uncommitted inserts that each see only the other's absence.
 */
async function installOversubscriptionGuard(store: Store, engine: Engine): Promise<void> {
  const over = (alias: string) => sql.raw(`
    ((SELECT count(*) FROM jobs j WHERE j.worker_id = ${alias}.id AND j.state IN ('pending', 'running')) > ${alias}.max_jobs
      OR (SELECT count(*) FROM jobs j WHERE j.worker_id = ${alias}.id AND j.state IN ('pending', 'running') AND j.kind = 'gpu') > ${alias}.max_gpu_jobs
      OR (SELECT count(*) FROM jobs j WHERE j.worker_id = ${alias}.id AND j.state IN ('pending', 'running') AND j.kind = 'cpu') > ${alias}.max_cpu_jobs)`);
  if (engine === 'sqlite') {
    await store.rows(sql`
      CREATE TRIGGER test_guard_oversubscription AFTER INSERT ON jobs
      BEGIN
        SELECT RAISE(ABORT, 'oversubscribed') FROM workers w WHERE w.id = NEW.worker_id AND ${over('w')};
      END`);
    return;
  }
  await store.rows(sql`
    CREATE FUNCTION test_guard_oversubscription() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_advisory_xact_lock(hashtextextended('test.guard:' || NEW.worker_id, 0));
      IF EXISTS (SELECT 1 FROM workers w WHERE w.id = NEW.worker_id AND ${over('w')}) THEN
        RAISE EXCEPTION 'oversubscribed';
      END IF;
      RETURN NULL;
    END $$`);
  await store.rows(sql`
    CREATE TRIGGER test_guard_oversubscription AFTER INSERT ON jobs
      FOR EACH ROW EXECUTE FUNCTION test_guard_oversubscription()`);
}

describe.each(ENGINES)('50 concurrent claims against 3 small workers (%s)', (engine) => {
  let temp: TempStore;
  beforeAll(async () => {
    temp = await openTempStore('claims', engine);
  });
  afterAll(() => temp.close());

  test('exactly the free slots are taken; the other 42 fail with the reason', async () => {
    const { store } = temp;
    for (const w of WORKERS) await addWorker(store, w);
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        await Promise.resolve(); // all 50 are in flight before the first claim runs
        const claim = await claimJob(store, { sourceId: 's', profileId: `p-${i}`, codec: 'h264', preference: null, attempt: 1, now: NOW });
        if (claim) return { ok: true as const, workerId: claim.candidate.workerId };
        // A refusal was decided under the claim lock after every placement committed, so
        // this read (outside the transaction) sees all of them.
        const why = summarizeExclusions(explainCandidates(await loadWorkerFacts(store), { codec: 'h264', preference: null, now: NOW }));
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
    const counts = await liveCounts(store);
    expectWithinLimits(counts);
    expect(counts.get('w-a')).toEqual({ total: 3, gpu: 2, cpu: 1 });
    expect(counts.get('w-b')).toEqual({ total: 2, gpu: 0, cpu: 2 });
    expect(counts.get('w-c')).toEqual({ total: 3, gpu: 1, cpu: 2 });
    expect(await countJobs(store)).toBe(CAPACITY);
    expect(await checkSlotDrift(store)).toEqual({ stale: [], missing: [] });
  });
});

describe.each(ENGINES)('claims from several processes on one %s database', (engine) => {
  let temp: TempStore;
  beforeAll(async () => {
    temp = await openTempStore('procs', engine);
  });
  afterAll(() => temp.close());

  // Each child opens its own store on the same database (as a coordinator would from its
  // environment), waits for "go" on stdin (so all start together), then claims and
  // releases in a tight loop and prints its tally.
  const CHILD = `
    import { eq } from 'drizzle-orm';
    import { openStore } from '${ROOT}coordinator/db/open-store';
    import { claimJob } from '${ROOT}coordinator/scheduler/claim-job';
    const store = await openStore({ databasePath: process.env.TVARR_DATABASE_PATH, databaseUrl: process.env.TVARR_DATABASE_URL || undefined });
    const { jobs } = store.t;
    const tally = { engine: store.engine, placed: 0, refused: 0, released: 0, errors: [] };
    const mine = [];
    console.log('ready');
    for await (const _ of console) break;
    for (let i = 0; i < Number(process.env.ROUNDS); i++) {
      try {
        const c = await claimJob(store, { sourceId: 's', profileId: 'p-' + process.pid + '-' + i, codec: 'h264', preference: null, attempt: 1, now: ${NOW} });
        if (c) { tally.placed++; mine.push(c.jobId); } else tally.refused++;
        if (mine.length && i % 3 === 2) {
          await store.db.update(jobs).set({ state: 'completed' }).where(eq(jobs.id, mine.shift()));
          tally.released++;
        }
      } catch (err) { tally.errors.push(String(err)); }
    }
    console.log(JSON.stringify(tally));
    await store.close();
  `;

  test('no insert ever oversubscribes a worker, no claim errors or deadlocks, and no claim is lost', async () => {
    const { store } = temp;
    for (const w of WORKERS) await addWorker(store, w);
    await installOversubscriptionGuard(store, engine);
    const ROUNDS = 300;
    const children = Array.from({ length: 4 }, () =>
      Bun.spawn([BUN, '-e', CHILD], {
        cwd: ROOT,
        env: { ...process.env, TVARR_DATABASE_URL: '', ...temp.env, ROUNDS: String(ROUNDS) },
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
        (l) => JSON.parse(l) as { engine: Engine; placed: number; refused: number; released: number; errors: string[] },
      );
      for (const c of children) c.stdin.end();
      expect(await Promise.all(children.map((c) => c.exited))).toEqual([0, 0, 0, 0]);
      // Every child ran on this test's engine (not a default SQLite file of its own).
      expect(tallies.map((t) => t.engine)).toEqual([engine, engine, engine, engine]);
      expect(tallies.flatMap((t) => t.errors)).toEqual([]);
      const placed = tallies.reduce((n, t) => n + t.placed, 0);
      const released = tallies.reduce((n, t) => n + t.released, 0);
      expect(placed + tallies.reduce((n, t) => n + t.refused, 0)).toBe(4 * ROUNDS);
      // Contention really happened: far more placements than capacity, and refusals.
      expect(placed).toBeGreaterThan(CAPACITY);
      expect(tallies.some((t) => t.refused > 0)).toBe(true);
      // No claim lost: every placement reported is a committed row, and nothing more.
      expect(await countJobs(store)).toBe(placed);
      const counts = await liveCounts(store);
      expectWithinLimits(counts);
      const live = [...counts.values()].reduce((n, c) => n + c.total, 0);
      expect(live).toBe(placed - released);
      expect(await checkSlotDrift(store)).toEqual({ stale: [], missing: [] });
    } finally {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
      await Promise.all(children.map((c) => c.exited));
    }
  });
});
