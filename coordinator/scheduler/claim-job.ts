// Claims a slot: picks the best candidate and inserts the job row for it in one
// transaction, so two requests can never both take a worker's last slot.
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/client';
import { jobs } from '../db/client';
import { explainCandidates, summarizeExclusions } from './explain-candidates';
import { listCandidateWorkers, type Candidate } from './list-candidate-workers';
import { loadWorkerFacts } from './load-worker-facts';

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
  /**
   * false for a worker whose link cannot carry this job's source (measured RTT vs source
   * bitrate, common/job-lanes.ts linkCarries). Such a worker is passed over when another
   * candidate in the first LINK_BATCH fits, and used only when none does.
   */
  linkFits?: (workerId: string) => boolean;
}

/** Candidates read at once when links are checked; the ranking is unchanged among those that fit. */
const LINK_BATCH = 32;

export interface ClaimedJob {
  jobId: string;
  runId: string;
  attempt: number;
  candidate: Candidate;
}

/**
 * Selects and claims in one write transaction. Why this never oversubscribes:
 *
 * - Inside one coordinator process: bun:sqlite is synchronous and this function never
 *   awaits, so the query, the INSERT and the COMMIT run without yielding to the event
 *   loop. Bun runs JavaScript on one thread, so no other request can interleave
 *   between reading a worker's load and taking its slot, however many HTTP requests
 *   are in flight.
 * - Across connections (another process, an operator's shell): `BEGIN IMMEDIATE` takes
 *   SQLite's write lock before the query reads anything, so the read sees every
 *   committed claim and no other writer can commit until this one has. A second
 *   claimer waits on busy_timeout, then reads the new count. (A deferred transaction
 *   would read a WAL snapshot first and could fail to upgrade, or act on stale counts.)
 * - The INSERT fires the scheduler_slots triggers inside the same transaction, so the
 *   next claim's query already sees this job in the worker's load.
 *
 * Returns null when no worker qualifies; explainCandidates says why.
 */
export function claimJob(db: Db, req: ClaimRequest): ClaimedJob | null {
  return db.transaction(
    (tx) => {
      // `db`, not `tx`: bun:sqlite runs everything on one connection, so the query runs
      // inside this open transaction either way, and `db` keeps its prepared statements.
      const ranked = listCandidateWorkers(db, {
        codec: req.codec,
        preference: req.preference,
        now: req.now,
        excludeWorkerIds: req.excludeWorkerIds,
        limit: req.linkFits ? LINK_BATCH : 1,
      });
      const fits = req.linkFits;
      const best = fits ? (ranked.find((c) => fits(c.workerId)) ?? ranked[0]) : ranked[0];
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
    },
    { behavior: 'immediate' },
  );
}

/**
 * Why claimJob found nobody, for the 503: each exclusion reason with a few workers.
 * Reads the whole worker list, so it runs only on that failure path.
 */
export function describeNoCandidate(db: Db, codec: string, preference: string | null, now: number): string {
  return summarizeExclusions(explainCandidates(loadWorkerFacts(db), { codec, preference, now }));
}
