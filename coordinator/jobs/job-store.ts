// Job row transitions. Every write a worker causes is fenced by (job id, attempt,
// worker id) and by the current state, so late messages from a worker that lost its
// job change nothing.
import { and, desc, eq, inArray, lt, notInArray } from 'drizzle-orm';
import type { Db } from '../db/client';
import { jobs } from '../db/client';
import type { JobState } from '../domain';

export type JobRow = typeof jobs.$inferSelect;

export interface JobFence {
  jobId: string;
  attempt: number;
  workerId: string;
}

export function getJob(db: Db, jobId: string): JobRow | undefined {
  return db.select().from(jobs).where(eq(jobs.id, jobId)).get();
}

/** pending -> running when the worker opens the job stream. Null when the fence fails. */
export function markJobRunning(db: Db, fence: JobFence, now: number): JobRow | null {
  const [row] = db
    .update(jobs)
    .set({ state: 'running', startedAt: now })
    .where(
      and(eq(jobs.id, fence.jobId), eq(jobs.attempt, fence.attempt), eq(jobs.workerId, fence.workerId), eq(jobs.state, 'pending')),
    )
    .returning()
    .all();
  return row ?? null;
}

/** Is this (job, attempt) still live on this worker? */
export function isJobOwnedBy(db: Db, fence: JobFence): boolean {
  const row = db
    .select({ id: jobs.id })
    .from(jobs)
    .where(
      and(
        eq(jobs.id, fence.jobId),
        eq(jobs.attempt, fence.attempt),
        eq(jobs.workerId, fence.workerId),
        inArray(jobs.state, ['pending', 'running']),
      ),
    )
    .get();
  return row !== undefined;
}

/** Moves a live job to a final state. Returns false if it had already ended. */
export function endJob(
  db: Db,
  jobId: string,
  state: Extract<JobState, 'failed' | 'completed' | 'cancelled'>,
  reason: string | null,
  now: number,
): boolean {
  const res = db
    .update(jobs)
    .set({ state, failureReason: reason, endedAt: now })
    .where(and(eq(jobs.id, jobId), inArray(jobs.state, ['pending', 'running'])))
    .returning({ id: jobs.id })
    .all();
  return res.length > 0;
}

export function listJobs(db: Db, filter: { state?: JobState; workerId?: string; limit: number }) {
  const conds = [];
  if (filter.state) conds.push(eq(jobs.state, filter.state));
  if (filter.workerId) conds.push(eq(jobs.workerId, filter.workerId));
  return db
    .select()
    .from(jobs)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(desc(jobs.createdAt))
    .limit(filter.limit)
    .all();
}

/**
 * At start-up nothing is running yet: every job the previous process believed live is
 * failed with a reason (history kept). Clients reconnecting start a new run.
 */
export function failOrphanedJobs(db: Db, now: number): number {
  return db
    .update(jobs)
    .set({ state: 'failed', failureReason: 'coordinator restarted', endedAt: now })
    .where(inArray(jobs.state, ['pending', 'running']))
    .returning({ id: jobs.id })
    .all().length;
}

/**
 * Deletes up to `limit` ended attempts (any state but pending/running) that ended before
 * `endedBefore`, oldest first; returns how many. Live rows are never touched, whatever
 * their age. Batched because each deleted row fires the scheduler-slot trigger for its
 * worker: many small transactions keep other writers (and every stream) moving.
 */
export function deleteEndedJobsBefore(db: Db, endedBefore: number, limit: number): number {
  const oldest = db
    .select({ id: jobs.id })
    .from(jobs)
    .where(and(notInArray(jobs.state, ['pending', 'running']), lt(jobs.endedAt, endedBefore)))
    .orderBy(jobs.endedAt)
    .limit(limit);
  return db
    .delete(jobs)
    .where(inArray(jobs.id, oldest))
    .returning({ id: jobs.id })
    .all().length;
}
