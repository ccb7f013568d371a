// Claims a slot: picks the best candidate and inserts the job row for it in one
// transaction, so two requests can never both take a worker's last slot.
import { randomUUID } from 'node:crypto';
import { and, eq, gte } from 'drizzle-orm';
import { AppError } from '../errors';
import type { Store } from '../db/store';
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
  /**
   * Cluster mode: only workers attached to this coordinator (CandidateRequest.attachedTo),
   * or to any of these (the live peers, when none of this coordinator's own can take it).
   */
  attachedTo?: string | readonly string[];
  /** The claiming coordinator's id, written on the job (jobs.coordinator_id). */
  owner?: string;
  /**
   * Cluster mode: the source lease the claim is made under (coordinator/cluster/source-leases.ts).
   * Checked inside the claim's transaction: a coordinator that lost the source (paused past
   * its lease, another took it over) is refused here, so it never starts a second job.
   */
  fence?: { ownerId: string; token: number };
  now: number;
  /**
   * false for a worker whose link cannot carry this job's source (measured RTT vs source
   * bitrate, common/job-lanes.ts linkCarries). Such a worker is passed over when another
   * candidate in the first LINK_BATCH fits, and used only when none does.
   */
  linkFits?: (workerId: string) => boolean;
  /** Slots the job holds (a ladder job: one per rendition); default 1. */
  slots?: number;
  /**
   * Workers that may not take this job whatever their rank (a ladder job: a worker that
   * runs no ladder jobs, or fewer renditions in one); checked on the ranked batch.
   */
  accepts?: (candidate: Candidate) => boolean;
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
 * - SQLite, inside one process: claims are transactions on the one connection, which
 *   take turns (db/sqlite-store.ts), and a claim's body awaits only that connection's
 *   synchronous queries, so nothing interleaves between reading a worker's load and
 *   taking its slot, however many requests are in flight.
 * - SQLite, across connections (another process, an operator's shell): `BEGIN IMMEDIATE`
 *   takes the write lock before the query reads anything, so the read sees every
 *   committed claim and no other writer can commit until this one has. (A deferred
 *   transaction would read a WAL snapshot first and could act on stale counts.)
 * - PostgreSQL, any number of coordinator processes: the claim transaction first takes
 *   one advisory lock (db/postgres-store.ts), held to COMMIT; under READ COMMITTED the
 *   query that follows sees every claim committed before the lock was granted.
 * - The INSERT fires the scheduler_slots triggers inside the same transaction, so the
 *   next claim's query already sees this job in the worker's load.
 *
 * Returns null when no worker qualifies; explainCandidates says why.
 */
export async function claimJob(store: Store, req: ClaimRequest): Promise<ClaimedJob | null> {
  return store.transaction(
    async (tx) => {
      // SQLite runs everything on one connection, so the candidate query runs inside this
      // transaction through `store` too (and keeps its prepared statements); PostgreSQL
      // needs the transaction's own connection.
      const inTx = store.engine === 'sqlite' ? store : { ...store, db: tx };
      if (req.fence) {
        const l = store.t.sourceLeases;
        const held = await tx
          .select({ token: l.token })
          .from(l)
          .where(and(eq(l.sourceId, req.sourceId), eq(l.ownerId, req.fence.ownerId), eq(l.token, req.fence.token), gte(l.expiresAt, req.now)))
          .limit(1);
        if (held.length === 0) {
          throw new AppError('conflict', `claim refused: coordinator ${req.fence.ownerId} no longer holds the lease of source ${req.sourceId} (fencing token ${req.fence.token})`);
        }
      }
      const ranked = await listCandidateWorkers(inTx, {
        codec: req.codec,
        preference: req.preference,
        now: req.now,
        excludeWorkerIds: req.excludeWorkerIds,
        attachedTo: req.attachedTo,
        slots: req.slots,
        limit: req.linkFits || req.accepts ? LINK_BATCH : 1,
      });
      const accepted = req.accepts ? ranked.filter(req.accepts) : ranked;
      const fits = req.linkFits;
      const best = fits ? (accepted.find((c) => fits(c.workerId)) ?? accepted[0]) : accepted[0];
      if (!best) return null;
      const jobId = randomUUID();
      const runId = req.runId ?? jobId;
      await tx
        .insert(store.t.jobs)
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
          coordinatorId: req.owner ?? null,
          slots: req.slots ?? 1,
        });
      return { jobId, runId, attempt: req.attempt, candidate: best };
    },
    { claim: true },
  );
}

/**
 * Why claimJob found nobody, for the 503: each exclusion reason with a few workers.
 * Reads the whole worker list, so it runs only on that failure path.
 */
export async function describeNoCandidate(store: Store, codec: string, preference: string | null, now: number): Promise<string> {
  return summarizeExclusions(explainCandidates(await loadWorkerFacts(store), { codec, preference, now }));
}
