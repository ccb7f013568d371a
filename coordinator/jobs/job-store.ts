// Job row transitions. Every write a worker causes is fenced by (job id, attempt,
// worker id) and by the current state, so late messages from a worker that lost its
// job change nothing.
import { and, desc, eq, inArray, isNull, lt, notInArray, or } from 'drizzle-orm';
import type { Store, Tables } from '../db/store';
import type { JobState } from '../domain';

export type JobRow = Tables['jobs']['$inferSelect'];

export interface JobFence {
  jobId: string;
  attempt: number;
  workerId: string;
}

export async function getJob({ db, t }: Store, jobId: string): Promise<JobRow | undefined> {
  const [row] = await db.select().from(t.jobs).where(eq(t.jobs.id, jobId)).limit(1);
  return row;
}

/** pending -> running when the worker opens the job stream. Null when the fence fails. */
export async function markJobRunning({ db, t }: Store, fence: JobFence, now: number): Promise<JobRow | null> {
  const { jobs } = t;
  const [row] = await db
    .update(jobs)
    .set({ state: 'running', startedAt: now })
    .where(and(eq(jobs.id, fence.jobId), eq(jobs.attempt, fence.attempt), eq(jobs.workerId, fence.workerId), eq(jobs.state, 'pending')))
    .returning();
  return row ?? null;
}

/** Is this (job, attempt) still live on this worker? */
export async function isJobOwnedBy({ db, t }: Store, fence: JobFence): Promise<boolean> {
  const { jobs } = t;
  const rows = await db
    .select({ id: jobs.id })
    .from(jobs)
    .where(
      and(eq(jobs.id, fence.jobId), eq(jobs.attempt, fence.attempt), eq(jobs.workerId, fence.workerId), inArray(jobs.state, ['pending', 'running'])),
    )
    .limit(1);
  return rows.length > 0;
}

/** Moves a live job to a final state. Returns false if it had already ended. */
export async function endJob(
  { db, t }: Store,
  jobId: string,
  state: Extract<JobState, 'failed' | 'completed' | 'cancelled'>,
  reason: string | null,
  now: number,
): Promise<boolean> {
  const { jobs } = t;
  const res = await db
    .update(jobs)
    .set({ state, failureReason: reason, endedAt: now })
    .where(and(eq(jobs.id, jobId), inArray(jobs.state, ['pending', 'running'])))
    .returning({ id: jobs.id });
  return res.length > 0;
}

export async function listJobs({ db, t }: Store, filter: { state?: JobState; workerId?: string; limit: number }): Promise<JobRow[]> {
  const { jobs } = t;
  const conds = [];
  if (filter.state) conds.push(eq(jobs.state, filter.state));
  if (filter.workerId) conds.push(eq(jobs.workerId, filter.workerId));
  return db
    .select()
    .from(jobs)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(desc(jobs.createdAt), desc(jobs.id))
    .limit(filter.limit);
}

/**
 * At start-up nothing is running yet: every job the previous process believed live is
 * failed with a reason (history kept). Clients reconnecting start a new run.
 */
export async function failOrphanedJobs({ db, t }: Store, now: number, liveCoordinators: readonly string[] = []): Promise<number> {
  const { jobs } = t;
  // In a cluster, the live jobs of another live coordinator are its own, not this
  // process's orphans (jobs.coordinator_id: the coordinator that claimed them).
  const theirs = liveCoordinators.length ? or(isNull(jobs.coordinatorId), notInArray(jobs.coordinatorId, [...liveCoordinators])) : undefined;
  const res = await db
    .update(jobs)
    .set({ state: 'failed', failureReason: 'coordinator restarted', endedAt: now })
    .where(and(inArray(jobs.state, ['pending', 'running']), theirs))
    .returning({ id: jobs.id });
  return res.length;
}

/**
 * Deletes up to `limit` ended attempts (any state but pending/running) that ended before
 * `endedBefore`, oldest first; returns how many. Live rows are never touched, whatever
 * their age. Batched because each deleted row fires the scheduler-slot trigger for its
 * worker: many small transactions keep other writers (and every stream) moving.
 */
export async function deleteEndedJobsBefore({ db, t }: Store, endedBefore: number, limit: number): Promise<number> {
  const { jobs } = t;
  const oldest = db
    .select({ id: jobs.id })
    .from(jobs)
    .where(and(notInArray(jobs.state, ['pending', 'running']), lt(jobs.endedAt, endedBefore)))
    .orderBy(jobs.endedAt)
    .limit(limit);
  const res = await db.delete(jobs).where(inArray(jobs.id, oldest)).returning({ id: jobs.id });
  return res.length;
}
