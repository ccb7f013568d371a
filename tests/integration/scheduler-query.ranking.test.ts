// The ranked candidate query against a real database (migrations and triggers applied),
// on both engines: the seed's three examples, the tie-breaks, the per-kind slot limits,
// and agreement between the SQL order, the TypeScript explanation and the jobs table.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import type { Store } from '../../coordinator/db/store';
import { checkSlotDrift } from '../../coordinator/scheduler/check-slot-drift';
import { claimJob } from '../../coordinator/scheduler/claim-job';
import { explainCandidates } from '../../coordinator/scheduler/explain-candidates';
import { listCandidateWorkers } from '../../coordinator/scheduler/list-candidate-workers';
import { loadWorkerFacts } from '../../coordinator/scheduler/load-worker-facts';
import { quarantineWorker, setWorkerState } from '../../coordinator/workers/worker-store';
import { addLiveJobs, addWorker, ENGINES, openTempStore, type TempStore, type WorkerSpec } from './scheduler-fixtures';

const NOW = 1_000_000;

describe.each(ENGINES)('the candidate query (%s)', (engine) => {
  let temp: TempStore;
  let store: Store;
  beforeAll(async () => {
    temp = await openTempStore('ranking', engine);
    store = temp.store;
  });
  afterAll(() => temp.close());

  beforeEach(async () => {
    await store.db.delete(store.t.jobs);
    await store.db.delete(store.t.workers);
  });

  function ranked(codec: string, preference: string | null = null) {
    return listCandidateWorkers(store, { codec, preference, now: NOW });
  }

  /** Worker ids in ranking order, one entry per worker (its best encoder). */
  async function rankedWorkers(codec: string, preference: string | null = null): Promise<string[]> {
    const seen: string[] = [];
    for (const c of await ranked(codec, preference)) if (!seen.includes(c.workerId)) seen.push(c.workerId);
    return seen;
  }

  const explain = async (codec: string, preference: string | null, now = NOW) => explainCandidates(await loadWorkerFacts(store), { codec, preference, now });

  describe('the seed examples', () => {
    const cases: {
      name: string;
      workers: WorkerSpec[];
      load?: [string, 'gpu' | 'cpu', number][];
      codec: string;
      preference: string | null;
      expectWorker: string;
      expectEncoder: string;
      expectOnly?: string[];
    }[] = [
      {
        name: 'encoder match: a job that needs hevc_vaapi qualifies only the vaapi worker',
        workers: [
          { id: 'w-nvidia', encoders: ['libx264', 'h264_nvenc', 'libx265', 'hevc_nvenc'] },
          { id: 'w-intel', encoders: ['libx264', 'h264_vaapi', 'libx265', 'hevc_vaapi'] },
          { id: 'w-cpu', encoders: ['libx264', 'libx265'] },
        ],
        codec: 'hevc',
        preference: 'hevc_vaapi',
        expectWorker: 'w-intel',
        expectEncoder: 'hevc_vaapi',
        expectOnly: ['w-intel'],
      },
      {
        name: 'capacity: a full 4/4 worker is skipped',
        workers: [
          { id: 'w-full', encoders: ['libx264', 'h264_nvenc'], maxJobs: 4, maxGpuJobs: 4, maxCpuJobs: 4, speedFps: 900 },
          { id: 'w-free', encoders: ['libx264', 'h264_nvenc'], maxJobs: 4, maxGpuJobs: 4, maxCpuJobs: 4, speedFps: 100 },
        ],
        load: [['w-full', 'gpu', 4], ['w-free', 'gpu', 3]],
        codec: 'h264',
        preference: null,
        expectWorker: 'w-free',
        expectEncoder: 'h264_nvenc',
        expectOnly: ['w-free'],
      },
      {
        name: 'hardware preference: hevc_nvenc beats libx265',
        workers: [
          // the CPU worker is idle and faster: GPU still ranks first
          { id: 'w-cpu', encoders: ['libx265'], speedFps: 500 },
          { id: 'w-gpu', encoders: ['libx265', 'hevc_nvenc'], speedFps: 50 },
        ],
        load: [['w-gpu', 'gpu', 2]],
        codec: 'hevc',
        preference: null,
        expectWorker: 'w-gpu',
        expectEncoder: 'hevc_nvenc',
      },
    ];

    for (const c of cases) {
      test(c.name, async () => {
        for (const w of c.workers) await addWorker(store, w);
        for (const [id, kind, n] of c.load ?? []) await addLiveJobs(store, id, kind, n);
        const [best] = await ranked(c.codec, c.preference);
        expect(best?.workerId).toBe(c.expectWorker);
        expect(best?.encoder).toBe(c.expectEncoder);
        if (c.expectOnly) expect(await rankedWorkers(c.codec, c.preference)).toEqual(c.expectOnly);
        // The explanation ranks it first, and the claim takes the same worker.
        expect((await explain(c.codec, c.preference))[0]).toMatchObject({ workerId: c.expectWorker, rank: 1 });
        const claimed = await claimJob(store, { sourceId: 's', profileId: 'p', codec: c.codec, preference: c.preference, attempt: 1, now: NOW });
        expect(claimed?.candidate.workerId).toBe(c.expectWorker);
      });
    }

    test('explanations name why the others were excluded', async () => {
      await addWorker(store, { id: 'w-nvidia', encoders: ['libx265', 'hevc_nvenc'] });
      await addWorker(store, { id: 'w-intel', encoders: ['libx265', 'hevc_vaapi'] });
      await addWorker(store, { id: 'w-h264', encoders: ['libx264'] });
      await addWorker(store, { id: 'w-full', encoders: ['hevc_vaapi'], maxJobs: 4 });
      await addLiveJobs(store, 'w-full', 'gpu', 4);
      const out = await explain('hevc', 'hevc_vaapi');
      expect(out.map((o) => [o.workerId, o.rank, o.excluded?.code ?? null])).toEqual([
        ['w-intel', 1, null],
        ['w-full', null, 'full'],
        ['w-h264', null, 'no_encoder'],
        ['w-nvidia', null, 'preference_mismatch'],
      ]);
      expect(out.find((o) => o.workerId === 'w-full')!.excluded!.reason).toBe('full: jobs 4/4');
    });
  });

  describe('ties', () => {
    test('lower load ratio wins among GPU candidates, whatever the speed', async () => {
      await addWorker(store, { id: 'w-a', encoders: ['h264_nvenc'], maxJobs: 4, speedFps: 900 });
      await addWorker(store, { id: 'w-b', encoders: ['h264_nvenc'], maxJobs: 8, speedFps: 10 });
      await addLiveJobs(store, 'w-a', 'gpu', 2); // 2/4 = 0.5
      await addLiveJobs(store, 'w-b', 'gpu', 3); // 3/8 = 0.375
      expect(await rankedWorkers('h264')).toEqual(['w-b', 'w-a']);
    });

    test('equal load ratio: the faster worker wins', async () => {
      await addWorker(store, { id: 'w-a', encoders: ['libx264'], maxJobs: 4, speedFps: 120 });
      await addWorker(store, { id: 'w-b', encoders: ['libx264'], maxJobs: 8, speedFps: 240 });
      await addLiveJobs(store, 'w-a', 'cpu', 1); // 0.25
      await addLiveJobs(store, 'w-b', 'cpu', 2); // 0.25
      expect(await rankedWorkers('h264')).toEqual(['w-b', 'w-a']);
    });

    test('equal load and speed: stable id order, the same on every call', async () => {
      for (const id of ['w-c', 'w-a', 'w-b']) await addWorker(store, { id, encoders: ['libx264'], speedFps: 100 });
      const first = await rankedWorkers('h264');
      expect(first).toEqual(['w-a', 'w-b', 'w-c']);
      for (let i = 0; i < 5; i++) expect(await rankedWorkers('h264')).toEqual(first);
    });

    test('ids compare byte by byte on both engines: upper case, digits and "-" before lower case', async () => {
      // A locale collation would put "w-B" after "w-a" and "w-10" after "w-9"; SQLite's
      // BINARY and PostgreSQL's COLLATE "C" both compare bytes, as compareOffers does.
      for (const id of ['w-a', 'w-B', 'w-9', 'w-10', 'w_a']) await addWorker(store, { id, encoders: ['libx264'], speedFps: 100 });
      const expected = ['w-10', 'w-9', 'w-B', 'w-a', 'w_a'];
      expect(await rankedWorkers('h264')).toEqual(expected);
      expect((await explain('h264', null)).map((e) => e.workerId)).toEqual(expected);
    });

    test('a worker with two GPU encoders for a codec offers them in name order', async () => {
      await addWorker(store, { id: 'w-a', encoders: ['hevc_vaapi', 'hevc_nvenc', 'libx265'] });
      expect((await ranked('hevc')).map((c) => c.encoder)).toEqual(['hevc_nvenc', 'hevc_vaapi', 'libx265']);
    });
  });

  describe('slot limits per kind', () => {
    test('GPU slots full: the worker still takes CPU work, ranked after GPU offers', async () => {
      await addWorker(store, { id: 'w-mixed', encoders: ['libx264', 'h264_nvenc'], maxJobs: 6, maxGpuJobs: 2, maxCpuJobs: 4 });
      await addWorker(store, { id: 'w-cpu', encoders: ['libx264'], maxJobs: 6, maxCpuJobs: 4 });
      await addLiveJobs(store, 'w-mixed', 'gpu', 2);
      const offers = await ranked('h264');
      expect(offers.map((o) => `${o.workerId}:${o.encoder}`)).toEqual(['w-cpu:libx264', 'w-mixed:libx264']);
      const gpuOnly = await explain('h264', 'gpu');
      expect(gpuOnly.find((o) => o.workerId === 'w-mixed')!.excluded).toEqual({ code: 'gpu_slots_full', reason: 'GPU slots full: 2/2' });
      expect(await listCandidateWorkers(store, { codec: 'h264', preference: 'gpu', now: NOW })).toEqual([]);
    });

    test('CPU slots full: only the GPU encoder is offered', async () => {
      await addWorker(store, { id: 'w-mixed', encoders: ['libx264', 'h264_nvenc'], maxJobs: 6, maxGpuJobs: 2, maxCpuJobs: 1 });
      await addLiveJobs(store, 'w-mixed', 'cpu', 1);
      expect((await ranked('h264')).map((o) => o.encoder)).toEqual(['h264_nvenc']);
      const cpuOnly = await explain('h264', 'cpu');
      expect(cpuOnly[0]!.excluded).toEqual({ code: 'cpu_slots_full', reason: 'CPU slots full: 1/1' });
    });

    test('both kinds full while total has room: excluded with both reasons', async () => {
      await addWorker(store, { id: 'w-mixed', encoders: ['libx264', 'h264_nvenc'], maxJobs: 10, maxGpuJobs: 1, maxCpuJobs: 1 });
      await addLiveJobs(store, 'w-mixed', 'cpu', 1);
      await addLiveJobs(store, 'w-mixed', 'gpu', 1);
      expect(await ranked('h264')).toEqual([]);
      const [row] = await explain('h264', null);
      expect(row!.excluded).toEqual({ code: 'gpu_and_cpu_slots_full', reason: 'GPU slots full: 1/1; CPU slots full: 1/1' });
    });

    test('the total limit applies even when the kind has room', async () => {
      await addWorker(store, { id: 'w-a', encoders: ['h264_nvenc'], maxJobs: 2, maxGpuJobs: 4, maxCpuJobs: 4 });
      await addLiveJobs(store, 'w-a', 'gpu', 2);
      expect(await ranked('h264')).toEqual([]);
    });

    test('finished jobs free their slot; pending ones hold it', async () => {
      const { jobs } = store.t;
      await addWorker(store, { id: 'w-a', encoders: ['libx264'], maxJobs: 1, maxCpuJobs: 1 });
      const [id] = await addLiveJobs(store, 'w-a', 'cpu', 1, 'pending');
      expect(await ranked('h264')).toEqual([]);
      await store.db.update(jobs).set({ state: 'running' }).where(eq(jobs.id, id!));
      expect(await ranked('h264')).toEqual([]);
      await store.db.update(jobs).set({ state: 'failed', failureReason: 'test' }).where(eq(jobs.id, id!));
      expect(await rankedWorkers('h264')).toEqual(['w-a']);
    });
  });

  describe('worker state', () => {
    test('offline, draining and quarantined workers are excluded, quarantine only until it expires', async () => {
      await addWorker(store, { id: 'w-off', encoders: ['libx264'], state: 'offline' });
      await addWorker(store, { id: 'w-drain', encoders: ['libx264'], state: 'draining' });
      await addWorker(store, { id: 'w-quar', encoders: ['libx264'] });
      await addWorker(store, { id: 'w-ok', encoders: ['libx264'] });
      await quarantineWorker(store, 'w-quar', NOW + 60_000, 'failed 3 jobs');
      expect(await rankedWorkers('h264')).toEqual(['w-ok']);
      const later = await listCandidateWorkers(store, { codec: 'h264', preference: null, now: NOW + 60_000 });
      expect(later.map((c) => c.workerId)).toEqual(['w-ok', 'w-quar']);
      const out = await explain('h264', null);
      const reasons = Object.fromEntries(out.map((o) => [o.workerId, o.excluded?.reason ?? `rank ${o.rank}`]));
      expect(reasons).toEqual({
        'w-ok': 'rank 1',
        'w-off': 'offline',
        'w-drain': 'draining: takes no new jobs',
        'w-quar': `quarantined until ${new Date(NOW + 60_000).toISOString()} (failed 3 jobs)`,
      });
      expect(await setWorkerState(store, 'w-drain', 'online')).toBe(true);
      expect(await rankedWorkers('h264')).toEqual(['w-drain', 'w-ok']);
    });

    test('excludeWorkerIds skips a worker (the dispatch loop after a refusal)', async () => {
      await addWorker(store, { id: 'w-a', encoders: ['libx264'] });
      await addWorker(store, { id: 'w-b', encoders: ['libx264'] });
      const rest = await listCandidateWorkers(store, { codec: 'h264', preference: null, now: NOW, excludeWorkerIds: ['w-a'] });
      expect(rest.map((c) => c.workerId)).toEqual(['w-b']);
    });
  });

  describe('the read model stays equal to the jobs table', () => {
    test('the drift check notices a row the triggers did not write', async () => {
      const slots = store.t.schedulerSlots;
      await addWorker(store, { id: 'w-a', encoders: ['libx264'] });
      expect(await checkSlotDrift(store)).toEqual({ stale: [], missing: [] });
      await store.db.update(slots).set({ jobs: 99 }).where(eq(slots.workerId, 'w-a'));
      const drift = await checkSlotDrift(store);
      expect(drift.stale.length).toBeGreaterThan(0);
      expect(drift.missing.length).toBeGreaterThan(0);
    });

    // A small deterministic PRNG so a failure reproduces.
    function rng(seed: number) {
      let s = seed >>> 0;
      return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
    }
    const ENCODER_SETS = [
      ['libx264', 'libx265'],
      ['libx264', 'h264_nvenc', 'libx265', 'hevc_nvenc'],
      ['libx264', 'h264_vaapi', 'hevc_vaapi'],
      ['h264_qsv', 'hevc_qsv', 'libx265'],
    ];

    for (const seed of [1, 2, 3]) {
      test(`random workload (seed ${seed}): SQL order == explanation order, no drift after every kind of write`, async () => {
        const { jobs, workerEncoders, workers } = store.t;
        const rand = rng(seed);
        const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
        const ids = Array.from({ length: 30 }, (_, i) => `w-${String(i).padStart(2, '0')}`);
        for (const id of ids) {
          await addWorker(store, {
            id,
            encoders: pick(ENCODER_SETS),
            maxJobs: 1 + Math.floor(rand() * 6),
            maxGpuJobs: Math.floor(rand() * 4),
            maxCpuJobs: Math.floor(rand() * 4),
            speedFps: pick([50, 100, 150]),
          });
        }
        let claimed = 0;
        for (let step = 0; step < 200; step++) {
          const r = rand();
          const codec = pick(['h264', 'hevc']);
          const preference = pick([null, null, 'gpu', 'cpu', 'nvenc', 'hevc_vaapi']);
          if (r < 0.55) {
            // Profile ids in step order: the picks below read jobs in that order on both engines.
            const profileId = `p-${String(step).padStart(3, '0')}`;
            if (await claimJob(store, { sourceId: 's', profileId, codec, preference, attempt: 1, now: NOW })) claimed++;
          } else if (r < 0.8) {
            const live = await store.db.select({ id: jobs.id }).from(jobs).where(eq(jobs.state, 'running')).orderBy(jobs.profileId);
            const pending = await store.db.select({ id: jobs.id }).from(jobs).where(eq(jobs.state, 'pending')).orderBy(jobs.profileId);
            if (pending.length && rand() < 0.5) await store.db.update(jobs).set({ state: 'running' }).where(eq(jobs.id, pick(pending).id));
            else if (live.length) await store.db.update(jobs).set({ state: pick(['completed', 'failed', 'cancelled']) }).where(eq(jobs.id, pick(live).id));
          } else if (r < 0.87) {
            await setWorkerState(store, pick(ids), pick(['online', 'online', 'draining', 'offline']));
          } else if (r < 0.92) {
            await quarantineWorker(store, pick(ids), NOW + (rand() < 0.5 ? -1 : 1) * 1000, 'test');
          } else if (r < 0.96) {
            await addWorker(store, { id: pick(ids), encoders: pick(ENCODER_SETS), maxJobs: 1 + Math.floor(rand() * 6), maxGpuJobs: 2, maxCpuJobs: 2 });
          } else {
            const victim = pick(ids);
            await store.db.delete(workerEncoders).where(eq(workerEncoders.workerId, victim));
          }
          if (step % 20 === 0) expect(await checkSlotDrift(store)).toEqual({ stale: [], missing: [] });
          // The SQL ranking and the explanation agree on the order of workers.
          const explained = (await explain(codec, preference)).filter((e) => e.rank !== null).map((e) => `${e.workerId}:${e.encoder}`);
          const sqlOrder: string[] = [];
          for (const c of await listCandidateWorkers(store, { codec, preference, now: NOW, limit: 1000 })) {
            if (!sqlOrder.some((s) => s.startsWith(`${c.workerId}:`))) sqlOrder.push(`${c.workerId}:${c.encoder}`);
          }
          expect(sqlOrder).toEqual(explained);
        }
        // The workload really placed jobs (the comparison above ran against loaded workers).
        expect(claimed).toBeGreaterThan(10);
        expect(await checkSlotDrift(store)).toEqual({ stale: [], missing: [] });
        // Deleting a worker removes its rows (cascade through worker_encoders).
        await store.db.delete(workers).where(eq(workers.id, ids[0]!));
        expect(await checkSlotDrift(store)).toEqual({ stale: [], missing: [] });
      });
    }
  });
});
