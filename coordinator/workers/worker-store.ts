// Worker rows: registration upsert, liveness touches and state changes.
import { and, eq, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { metrics, workerEncoders, workers } from '../db/client';
import type { ResourceUsage, WorkerRegistration, WorkerState } from '../domain';

export type WorkerRow = typeof workers.$inferSelect;

// Every worker can remux: "copy" is offered as a CPU encoder so copy profiles go
// through the same scheduler query as real encodes.
const COPY_ENCODER = { name: 'copy', codec: 'copy', kind: 'cpu', family: 'software' } as const;

/** Inserts or refreshes a worker and replaces its encoder list. Same id = same worker. */
export function upsertWorker(db: Db, reg: WorkerRegistration, now: number): { reconnect: boolean } {
  return db.transaction((tx) => {
    const existing = tx.select({ id: workers.id }).from(workers).where(eq(workers.id, reg.id)).get();
    const values = {
      name: reg.name,
      version: reg.version,
      hostname: reg.hostname,
      address: reg.address,
      ffmpegVersion: reg.ffmpegVersion,
      state: (reg.draining ? 'draining' : 'online') satisfies WorkerState,
      maxJobs: reg.limits.maxJobs,
      maxGpuJobs: reg.limits.maxGpuJobs,
      maxCpuJobs: reg.limits.maxCpuJobs,
      speedFps: reg.speedFps,
      gpus: reg.gpus,
      rejectedEncoders: reg.rejectedEncoders,
      lastSeenAt: now,
    };
    tx.insert(workers)
      .values({ id: reg.id, registeredAt: now, ...values })
      .onConflictDoUpdate({ target: workers.id, set: values })
      .run();
    tx.delete(workerEncoders).where(eq(workerEncoders.workerId, reg.id)).run();
    const encoders = [...reg.encoders.filter((e) => e.name !== COPY_ENCODER.name), COPY_ENCODER];
    tx.insert(workerEncoders)
      .values(encoders.map((e) => ({ workerId: reg.id, encoder: e.name, codec: e.codec, kind: e.kind, family: e.family })))
      .run();
    return { reconnect: existing !== undefined };
  });
}

export function touchWorker(db: Db, workerId: string, now: number, usage?: ResourceUsage): void {
  db.update(workers)
    .set(usage ? { lastSeenAt: now, usage } : { lastSeenAt: now })
    .where(eq(workers.id, workerId))
    .run();
}

export function setWorkerState(db: Db, workerId: string, state: WorkerState): boolean {
  const res = db.update(workers).set({ state }).where(eq(workers.id, workerId)).returning({ id: workers.id }).all();
  return res.length > 0;
}

export function getWorker(db: Db, workerId: string): WorkerRow | undefined {
  return db.select().from(workers).where(eq(workers.id, workerId)).get();
}

export function quarantineWorker(db: Db, workerId: string, until: number, reason: string): void {
  db.update(workers).set({ quarantinedUntil: until, quarantineReason: reason }).where(eq(workers.id, workerId)).run();
}

/** On coordinator start every worker is offline until it dials in again. */
export function markAllWorkersOffline(db: Db): number {
  return db.update(workers).set({ state: 'offline' }).where(sql`${workers.state} != 'offline'`).returning({ id: workers.id }).all().length;
}

export function countWorkers(db: Db): number {
  return db.select({ n: sql<number>`count(*)` }).from(workers).get()?.n ?? 0;
}

/** Offline workers whose last message is older than `before` (oldest first). */
export function listOfflineWorkersSeenBefore(db: Db, before: number): string[] {
  return db
    .select({ id: workers.id })
    .from(workers)
    .where(and(eq(workers.state, 'offline'), lt(workers.lastSeenAt, before)))
    .orderBy(workers.lastSeenAt)
    .all()
    .map((r) => r.id);
}

/**
 * Deletes a worker row with its encoders (ON DELETE CASCADE; the scheduler read model
 * follows by trigger) and its per-worker counters. Job history keeps its worker id as
 * text, and the cluster-wide counters (worker_id '') are untouched.
 */
export function deleteWorker(db: Db, workerId: string): boolean {
  if (workerId === '') return false; // '' is the cluster-wide counters' row, never a worker
  return db.transaction((tx) => {
    tx.delete(workerEncoders).where(eq(workerEncoders.workerId, workerId)).run();
    tx.delete(metrics).where(eq(metrics.workerId, workerId)).run();
    return tx.delete(workers).where(eq(workers.id, workerId)).returning({ id: workers.id }).all().length > 0;
  });
}
