// The ranked candidate query against a real SQLite file (migrations and triggers
// applied): the seed's three examples, the tie-breaks, the per-kind slot limits, and
// agreement between the SQL order, the TypeScript explanation and the jobs table.
import { afterAll, beforeEach, describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import { jobs, workerEncoders, workers } from '../../coordinator/db/client';
import { checkSlotDrift } from '../../coordinator/scheduler/check-slot-drift';
import { claimJob } from '../../coordinator/scheduler/claim-job';
import { explainCandidates } from '../../coordinator/scheduler/explain-candidates';
import { listCandidateWorkers } from '../../coordinator/scheduler/list-candidate-workers';
import { loadWorkerFacts } from '../../coordinator/scheduler/load-worker-facts';
import { quarantineWorker, setWorkerState } from '../../coordinator/workers/worker-store';
import { addLiveJobs, addWorker, openTempDb, type WorkerSpec } from './scheduler-fixtures';

const temp = openTempDb('ranking');
const { db } = temp;
afterAll(() => temp.close());

const NOW = 1_000_000;

function reset(): void {
  db.delete(jobs).run();
  db.delete(workers).run();
}

function ranked(codec: string, preference: string | null = null) {
  return listCandidateWorkers(db, { codec, preference, now: NOW });
}

/** Worker ids in ranking order, one entry per worker (its best encoder). */
function rankedWorkers(codec: string, preference: string | null = null): string[] {
  const seen: string[] = [];
  for (const c of ranked(codec, preference)) if (!seen.includes(c.workerId)) seen.push(c.workerId);
  return seen;
}

beforeEach(reset);

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
    test(c.name, () => {
      for (const w of c.workers) addWorker(db, w);
      for (const [id, kind, n] of c.load ?? []) addLiveJobs(db, id, kind, n);
      const [best] = ranked(c.codec, c.preference);
      expect(best?.workerId).toBe(c.expectWorker);
      expect(best?.encoder).toBe(c.expectEncoder);
      if (c.expectOnly) expect(rankedWorkers(c.codec, c.preference)).toEqual(c.expectOnly);
      // The claim takes the same worker, and the explanation ranks it first.
      const claimed = claimJob(db, { sourceId: 's', profileId: 'p', codec: c.codec, preference: c.preference, attempt: 1, now: NOW });
      expect(claimed?.candidate.workerId).toBe(c.expectWorker);
    });
  }

  test('explanations name why the others were excluded', () => {
    addWorker(db, { id: 'w-nvidia', encoders: ['libx265', 'hevc_nvenc'] });
    addWorker(db, { id: 'w-intel', encoders: ['libx265', 'hevc_vaapi'] });
    addWorker(db, { id: 'w-h264', encoders: ['libx264'] });
    addWorker(db, { id: 'w-full', encoders: ['hevc_vaapi'], maxJobs: 4 });
    addLiveJobs(db, 'w-full', 'gpu', 4);
    const out = explainCandidates(loadWorkerFacts(db), { codec: 'hevc', preference: 'hevc_vaapi', now: NOW });
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
  test('lower load ratio wins among GPU candidates, whatever the speed', () => {
    addWorker(db, { id: 'w-a', encoders: ['h264_nvenc'], maxJobs: 4, speedFps: 900 });
    addWorker(db, { id: 'w-b', encoders: ['h264_nvenc'], maxJobs: 8, speedFps: 10 });
    addLiveJobs(db, 'w-a', 'gpu', 2); // 2/4 = 0.5
    addLiveJobs(db, 'w-b', 'gpu', 3); // 3/8 = 0.375
    expect(rankedWorkers('h264')).toEqual(['w-b', 'w-a']);
  });

  test('equal load ratio: the faster worker wins', () => {
    addWorker(db, { id: 'w-a', encoders: ['libx264'], maxJobs: 4, speedFps: 120 });
    addWorker(db, { id: 'w-b', encoders: ['libx264'], maxJobs: 8, speedFps: 240 });
    addLiveJobs(db, 'w-a', 'cpu', 1); // 0.25
    addLiveJobs(db, 'w-b', 'cpu', 2); // 0.25
    expect(rankedWorkers('h264')).toEqual(['w-b', 'w-a']);
  });

  test('equal load and speed: stable id order, the same on every call', () => {
    for (const id of ['w-c', 'w-a', 'w-b']) addWorker(db, { id, encoders: ['libx264'], speedFps: 100 });
    const first = rankedWorkers('h264');
    expect(first).toEqual(['w-a', 'w-b', 'w-c']);
    for (let i = 0; i < 5; i++) expect(rankedWorkers('h264')).toEqual(first);
  });

  test('a worker with two GPU encoders for a codec offers them in name order', () => {
    addWorker(db, { id: 'w-a', encoders: ['hevc_vaapi', 'hevc_nvenc', 'libx265'] });
    expect(ranked('hevc').map((c) => c.encoder)).toEqual(['hevc_nvenc', 'hevc_vaapi', 'libx265']);
  });
});

describe('slot limits per kind', () => {
  test('GPU slots full: the worker still takes CPU work, ranked after GPU offers', () => {
    addWorker(db, { id: 'w-mixed', encoders: ['libx264', 'h264_nvenc'], maxJobs: 6, maxGpuJobs: 2, maxCpuJobs: 4 });
    addWorker(db, { id: 'w-cpu', encoders: ['libx264'], maxJobs: 6, maxCpuJobs: 4 });
    addLiveJobs(db, 'w-mixed', 'gpu', 2);
    const offers = ranked('h264');
    expect(offers.map((o) => `${o.workerId}:${o.encoder}`)).toEqual(['w-cpu:libx264', 'w-mixed:libx264']);
    const gpuOnly = explainCandidates(loadWorkerFacts(db), { codec: 'h264', preference: 'gpu', now: NOW });
    expect(gpuOnly.find((o) => o.workerId === 'w-mixed')!.excluded).toEqual({ code: 'gpu_slots_full', reason: 'GPU slots full: 2/2' });
    expect(listCandidateWorkers(db, { codec: 'h264', preference: 'gpu', now: NOW })).toEqual([]);
  });

  test('CPU slots full: only the GPU encoder is offered', () => {
    addWorker(db, { id: 'w-mixed', encoders: ['libx264', 'h264_nvenc'], maxJobs: 6, maxGpuJobs: 2, maxCpuJobs: 1 });
    addLiveJobs(db, 'w-mixed', 'cpu', 1);
    expect(ranked('h264').map((o) => o.encoder)).toEqual(['h264_nvenc']);
    const cpuOnly = explainCandidates(loadWorkerFacts(db), { codec: 'h264', preference: 'cpu', now: NOW });
    expect(cpuOnly[0]!.excluded).toEqual({ code: 'cpu_slots_full', reason: 'CPU slots full: 1/1' });
  });

  test('both kinds full while total has room: excluded with both reasons', () => {
    addWorker(db, { id: 'w-mixed', encoders: ['libx264', 'h264_nvenc'], maxJobs: 10, maxGpuJobs: 1, maxCpuJobs: 1 });
    addLiveJobs(db, 'w-mixed', 'cpu', 1);
    addLiveJobs(db, 'w-mixed', 'gpu', 1);
    expect(ranked('h264')).toEqual([]);
    const [row] = explainCandidates(loadWorkerFacts(db), { codec: 'h264', preference: null, now: NOW });
    expect(row!.excluded).toEqual({ code: 'gpu_and_cpu_slots_full', reason: 'GPU slots full: 1/1; CPU slots full: 1/1' });
  });

  test('the total limit applies even when the kind has room', () => {
    addWorker(db, { id: 'w-a', encoders: ['h264_nvenc'], maxJobs: 2, maxGpuJobs: 4, maxCpuJobs: 4 });
    addLiveJobs(db, 'w-a', 'gpu', 2);
    expect(ranked('h264')).toEqual([]);
  });

  test('finished jobs free their slot; pending ones hold it', () => {
    addWorker(db, { id: 'w-a', encoders: ['libx264'], maxJobs: 1, maxCpuJobs: 1 });
    const [id] = addLiveJobs(db, 'w-a', 'cpu', 1, 'pending');
    expect(ranked('h264')).toEqual([]);
    db.update(jobs).set({ state: 'running' }).where(eq(jobs.id, id!)).run();
    expect(ranked('h264')).toEqual([]);
    db.update(jobs).set({ state: 'failed', failureReason: 'test' }).where(eq(jobs.id, id!)).run();
    expect(rankedWorkers('h264')).toEqual(['w-a']);
  });
});

describe('worker state', () => {
  test('offline, draining and quarantined workers are excluded, quarantine only until it expires', () => {
    addWorker(db, { id: 'w-off', encoders: ['libx264'], state: 'offline' });
    addWorker(db, { id: 'w-drain', encoders: ['libx264'], state: 'draining' });
    addWorker(db, { id: 'w-quar', encoders: ['libx264'] });
    addWorker(db, { id: 'w-ok', encoders: ['libx264'] });
    quarantineWorker(db, 'w-quar', NOW + 60_000, 'failed 3 jobs');
    expect(rankedWorkers('h264')).toEqual(['w-ok']);
    expect(listCandidateWorkers(db, { codec: 'h264', preference: null, now: NOW + 60_000 }).map((c) => c.workerId)).toEqual(['w-ok', 'w-quar']);
    const out = explainCandidates(loadWorkerFacts(db), { codec: 'h264', preference: null, now: NOW });
    const reasons = Object.fromEntries(out.map((o) => [o.workerId, o.excluded?.reason ?? `rank ${o.rank}`]));
    expect(reasons).toEqual({
      'w-ok': 'rank 1',
      'w-off': 'offline',
      'w-drain': 'draining: takes no new jobs',
      'w-quar': `quarantined until ${new Date(NOW + 60_000).toISOString()} (failed 3 jobs)`,
    });
    setWorkerState(db, 'w-drain', 'online');
    expect(rankedWorkers('h264')).toEqual(['w-drain', 'w-ok']);
  });

  test('excludeWorkerIds skips a worker (the dispatch loop after a refusal)', () => {
    addWorker(db, { id: 'w-a', encoders: ['libx264'] });
    addWorker(db, { id: 'w-b', encoders: ['libx264'] });
    expect(listCandidateWorkers(db, { codec: 'h264', preference: null, now: NOW, excludeWorkerIds: ['w-a'] }).map((c) => c.workerId)).toEqual([
      'w-b',
    ]);
  });
});

describe('the read model stays equal to the jobs table', () => {
  test('the drift check notices a row the triggers did not write', () => {
    addWorker(db, { id: 'w-a', encoders: ['libx264'] });
    expect(checkSlotDrift(db)).toEqual({ stale: [], missing: [] });
    db.$client.run(`UPDATE scheduler_slots SET jobs = 99 WHERE worker_id = 'w-a'`);
    const drift = checkSlotDrift(db);
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
    test(`random workload (seed ${seed}): SQL order == explanation order, no drift after every kind of write`, () => {
      const rand = rng(seed);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
      const ids = Array.from({ length: 30 }, (_, i) => `w-${String(i).padStart(2, '0')}`);
      for (const id of ids) {
        addWorker(db, {
          id,
          encoders: pick(ENCODER_SETS),
          maxJobs: 1 + Math.floor(rand() * 6),
          maxGpuJobs: Math.floor(rand() * 4),
          maxCpuJobs: Math.floor(rand() * 4),
          speedFps: pick([50, 100, 150]),
        });
      }
      for (let step = 0; step < 200; step++) {
        const r = rand();
        const codec = pick(['h264', 'hevc']);
        const preference = pick([null, null, 'gpu', 'cpu', 'nvenc', 'hevc_vaapi']);
        if (r < 0.55) {
          claimJob(db, { sourceId: 's', profileId: 'p', codec, preference, attempt: 1, now: NOW });
        } else if (r < 0.8) {
          const live = db.select({ id: jobs.id }).from(jobs).where(eq(jobs.state, 'running')).all();
          const pending = db.select({ id: jobs.id }).from(jobs).where(eq(jobs.state, 'pending')).all();
          if (pending.length && rand() < 0.5) db.update(jobs).set({ state: 'running' }).where(eq(jobs.id, pick(pending).id)).run();
          else if (live.length) db.update(jobs).set({ state: pick(['completed', 'failed', 'cancelled']) }).where(eq(jobs.id, pick(live).id)).run();
        } else if (r < 0.87) {
          setWorkerState(db, pick(ids), pick(['online', 'online', 'draining', 'offline']));
        } else if (r < 0.92) {
          quarantineWorker(db, pick(ids), NOW + (rand() < 0.5 ? -1 : 1) * 1000, 'test');
        } else if (r < 0.96) {
          addWorker(db, { id: pick(ids), encoders: pick(ENCODER_SETS), maxJobs: 1 + Math.floor(rand() * 6), maxGpuJobs: 2, maxCpuJobs: 2 });
        } else {
          const victim = pick(ids);
          db.delete(workerEncoders).where(eq(workerEncoders.workerId, victim)).run();
        }
        if (step % 20 === 0) expect(checkSlotDrift(db)).toEqual({ stale: [], missing: [] });
        // The SQL ranking and the explanation agree on the order of workers.
        const explained = explainCandidates(loadWorkerFacts(db), { codec, preference, now: NOW })
          .filter((e) => e.rank !== null)
          .map((e) => `${e.workerId}:${e.encoder}`);
        const sqlOrder: string[] = [];
        for (const c of listCandidateWorkers(db, { codec, preference, now: NOW, limit: 1000 })) {
          if (!sqlOrder.some((s) => s.startsWith(`${c.workerId}:`))) sqlOrder.push(`${c.workerId}:${c.encoder}`);
        }
        expect(sqlOrder).toEqual(explained);
      }
      expect(checkSlotDrift(db)).toEqual({ stale: [], missing: [] });
      // Deleting a worker removes its rows (cascade through worker_encoders).
      db.delete(workers).where(eq(workers.id, ids[0]!)).run();
      expect(checkSlotDrift(db)).toEqual({ stale: [], missing: [] });
    });
  }
});
