// Claims a slot: picks the best candidate and inserts the job row for it in one
// transaction, so two requests can never both take a worker's last slot.
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/client';
import { jobs } from '../db/client';
import { listCandidateWorkers, type Candidate } from './list-candidate-workers';

export interface ClaimRequest {
  runId?: string;
  sourceId: string;
  profileId: string;
  codec: string;
  preference: string | null;
  attempt: number;
  role?: 'primary' | 'standby';
  excludeWorkerIds?: readonly string[];
  now: number;
}

export interface ClaimedJob {
  jobId: string;
  runId: string;
  attempt: number;
  candidate: Candidate;
}

export function claimJob(db: Db, req: ClaimRequest): ClaimedJob | null {
  return db.transaction((tx) => {
    // Re-running the query inside the write transaction is what makes the claim safe:
    // the count it sees includes every row committed before it.
    const [best] = listCandidateWorkers(tx as unknown as Db, {
      codec: req.codec,
      preference: req.preference,
      now: req.now,
      excludeWorkerIds: req.excludeWorkerIds,
      limit: 1,
    });
    if (!best) return null;
    const jobId = randomUUID();
    const runId = req.runId ?? jobId;
    tx.insert(jobs)
      .values({
        id: jobId,
        runId,
        sourceId: req.sourceId,
        profileId: req.profileId,
        workerId: best.workerId,
        encoder: best.encoder,
        kind: best.kind,
        role: req.role ?? 'primary',
        state: 'pending',
        attempt: req.attempt,
        createdAt: req.now,
      })
      .run();
    return { jobId, runId, attempt: req.attempt, candidate: best };
  }, { behavior: 'immediate' });
}
