// Reads what the candidates view explains, straight from the source tables (workers,
// worker_encoders, and live jobs counted from the jobs table), not from the
// scheduler_slots read model: if the two ever disagreed, the operator would see it.
import { asc, inArray, sql } from 'drizzle-orm';
import type { Store } from '../db/store';
import { LIVE_JOB_STATES, type EncoderKind, type WorkerState } from '../domain';
import type { WorkerFacts } from './explain-candidates';

export async function loadWorkerFacts({ db, t }: Store): Promise<WorkerFacts[]> {
  const { jobs, workerEncoders, workers } = t;
  const rows = await db.select().from(workers).orderBy(asc(workers.id));
  const encoders = await db.select().from(workerEncoders);
  // count(*) and sum() are bigint on PostgreSQL (a string from the driver): mapWith(Number).
  const loads = await db
    .select({
      workerId: jobs.workerId,
      // Slots, not rows: a ladder job holds one per rendition (jobs.slots).
      jobs: sql<number>`coalesce(sum(${jobs.slots}), 0)`.mapWith(Number),
      gpuJobs: sql<number>`coalesce(sum(case when ${jobs.kind} = 'gpu' then ${jobs.slots} else 0 end), 0)`.mapWith(Number),
      cpuJobs: sql<number>`coalesce(sum(case when ${jobs.kind} = 'cpu' then ${jobs.slots} else 0 end), 0)`.mapWith(Number),
    })
    .from(jobs)
    .where(inArray(jobs.state, [...LIVE_JOB_STATES]))
    .groupBy(jobs.workerId);
  const loadBy = new Map(loads.map((l) => [l.workerId, l]));
  const encodersBy = new Map<string, WorkerFacts['encoders']>();
  for (const e of encoders) {
    const list = encodersBy.get(e.workerId) ?? [];
    list.push({ encoder: e.encoder, codec: e.codec, kind: e.kind as EncoderKind, family: e.family });
    encodersBy.set(e.workerId, list);
  }
  return rows.map((w) => {
    const load = loadBy.get(w.id);
    return {
      workerId: w.id,
      name: w.name,
      state: w.state as WorkerState,
      quarantinedUntil: w.quarantinedUntil,
      quarantineReason: w.quarantineReason,
      speedFps: w.speedFps,
      maxJobs: w.maxJobs,
      maxGpuJobs: w.maxGpuJobs,
      maxCpuJobs: w.maxCpuJobs,
      jobs: load?.jobs ?? 0,
      gpuJobs: load?.gpuJobs ?? 0,
      cpuJobs: load?.cpuJobs ?? 0,
      encoders: encodersBy.get(w.id) ?? [],
    };
  });
}
