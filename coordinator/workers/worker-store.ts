// Worker rows: registration upsert, liveness touches and state changes.
import { and, eq, inArray, isNull, lt, notInArray, or, sql } from 'drizzle-orm';
import type { Store, Tables } from '../db/store';
import type { ResourceUsage, WorkerRegistration, WorkerState } from '../domain';

export type WorkerRow = Tables['workers']['$inferSelect'];

// Every worker can remux: "copy" is offered as a CPU encoder so copy profiles go
// through the same scheduler query as real encodes.
const COPY_ENCODER = { name: 'copy', codec: 'copy', kind: 'cpu', family: 'software' } as const;

/** Inserts or refreshes a worker and replaces its encoder list. Same id = same worker. */
export async function upsertWorker(store: Store, reg: WorkerRegistration, now: number, coordinatorId: string | null = null): Promise<{ reconnect: boolean }> {
  const { workers, workerEncoders } = store.t;
  return store.transaction(async (db) => {
    const existing = await db.select({ id: workers.id }).from(workers).where(eq(workers.id, reg.id)).limit(1);
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
      coordinatorId,
    };
    await db
      .insert(workers)
      .values({ id: reg.id, registeredAt: now, ...values })
      .onConflictDoUpdate({ target: workers.id, set: values });
    await db.delete(workerEncoders).where(eq(workerEncoders.workerId, reg.id));
    const encoders = [...reg.encoders.filter((e) => e.name !== COPY_ENCODER.name), COPY_ENCODER];
    await db
      .insert(workerEncoders)
      .values(encoders.map((e) => ({ workerId: reg.id, encoder: e.name, codec: e.codec, kind: e.kind, family: e.family })));
    return { reconnect: existing.length > 0 };
  });
}

export interface WorkerTouch {
  workerId: string;
  lastSeenAt: number;
  /** Written only when it changed since the last touch (worker-registry.ts decides). */
  usage?: ResourceUsage;
}

/**
 * Liveness and usage of many workers in one transaction: the registry batches them
 * (one write transaction per flush, not one per heartbeat). Neither column is read by
 * the scheduler, so no trigger fires.
 */
export async function touchWorkers(store: Store, touches: readonly WorkerTouch[]): Promise<void> {
  if (touches.length === 0) return;
  const { workers } = store.t;
  await store.transaction(async (db) => {
    for (const t of touches) {
      await db
        .update(workers)
        .set(t.usage ? { lastSeenAt: t.lastSeenAt, usage: t.usage } : { lastSeenAt: t.lastSeenAt })
        .where(eq(workers.id, t.workerId));
    }
  });
}

export async function setWorkerState({ db, t }: Store, workerId: string, state: WorkerState): Promise<boolean> {
  const res = await db.update(t.workers).set({ state }).where(eq(t.workers.id, workerId)).returning({ id: t.workers.id });
  return res.length > 0;
}

/**
 * Compare-and-set of a worker's state: moves it to `to` only if it is in one of `from`,
 * in one statement, so two concurrent drains (two requests, two coordinators) cannot
 * both see 'online' and both start a handover. False when no row matched (unknown
 * worker, or in none of `from`).
 */
export async function switchWorkerState({ db, t }: Store, workerId: string, from: readonly WorkerState[], to: WorkerState): Promise<boolean> {
  const res = await db
    .update(t.workers)
    .set({ state: to })
    .where(and(eq(t.workers.id, workerId), inArray(t.workers.state, [...from])))
    .returning({ id: t.workers.id });
  return res.length > 0;
}

export async function getWorker({ db, t }: Store, workerId: string): Promise<WorkerRow | undefined> {
  const [row] = await db.select().from(t.workers).where(eq(t.workers.id, workerId)).limit(1);
  return row;
}

export async function quarantineWorker({ db, t }: Store, workerId: string, until: number, reason: string): Promise<void> {
  await db.update(t.workers).set({ quarantinedUntil: until, quarantineReason: reason }).where(eq(t.workers.id, workerId));
}

/** On coordinator start every worker is offline until it dials in again. */
/**
 * At start: every worker goes offline until it dials in again, except those held by
 * another live coordinator of the cluster (`keep`: their rows are that coordinator's).
 */
export async function markAllWorkersOffline({ db, t }: Store, keep: readonly string[] = []): Promise<number> {
  const held = keep.length ? or(isNull(t.workers.coordinatorId), notInArray(t.workers.coordinatorId, [...keep])) : undefined;
  const res = await db
    .update(t.workers)
    .set({ state: 'offline' })
    .where(and(sql`${t.workers.state} != 'offline'`, held))
    .returning({ id: t.workers.id });
  return res.length;
}

export async function countWorkers({ db, t }: Store): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(t.workers);
  return row?.n ?? 0;
}

/** Offline workers whose last message is older than `before` (oldest first). */
export async function listOfflineWorkersSeenBefore({ db, t }: Store, before: number): Promise<string[]> {
  const rows = await db
    .select({ id: t.workers.id })
    .from(t.workers)
    .where(and(eq(t.workers.state, 'offline'), lt(t.workers.lastSeenAt, before)))
    .orderBy(t.workers.lastSeenAt);
  return rows.map((r) => r.id);
}

/**
 * Deletes a worker row with its encoders (ON DELETE CASCADE; the scheduler read model
 * follows by trigger), its per-worker counters and its remembered faults. Job history
 * keeps its worker id as text, and the cluster-wide counters (worker_id '') are untouched.
 */
export async function deleteWorker(store: Store, workerId: string): Promise<boolean> {
  if (workerId === '') return false; // '' is the cluster-wide counters' row, never a worker
  const { workers, workerEncoders, metrics, workerFaults } = store.t;
  return store.transaction(async (db) => {
    await db.delete(workerEncoders).where(eq(workerEncoders.workerId, workerId));
    await db.delete(metrics).where(eq(metrics.workerId, workerId));
    await db.delete(workerFaults).where(eq(workerFaults.workerId, workerId));
    const res = await db.delete(workers).where(eq(workers.id, workerId)).returning({ id: workers.id });
    return res.length > 0;
  });
}
