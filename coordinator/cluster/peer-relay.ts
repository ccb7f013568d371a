// Jobs across coordinators of one cluster. A source's owner may place its job on a worker
// whose Control stream another coordinator holds (a peer): when none of its own workers can
// take it, or after the worker moved its Control stream to another coordinator while the
// job ran. Only the Control stream's holder can talk to the worker, so:
//
//   owner A --POST /internal/worker-command--> peer B --Control: StartJob / CancelJob--> worker
//   worker --JobStream (StartJob.job_stream_address = A)--> owner A      (the media, directly)
//   worker --Control: JobRejected / JobEnded--> B --POST /internal/job-report--> owner A
//
// Both endpoints take the cluster secret (cluster-secret.ts) and nothing else
// (coordinator/http/routes/internal-job-routes.ts). The owner keeps everything about the
// attempt (its row, its stream, its failover); the peer only passes messages on, after
// checking the job row says what the message claims. A peer that is gone loses nothing
// the owner needs: the job stream ends with the worker (or the worker's Control moves on),
// and the owner fails the attempt over as for any lost stream.
import { and, eq, gte, inArray, isNull, ne } from 'drizzle-orm';
import type { CoreContext } from '../context';
import type { JobFence } from '../jobs/job-store';
import { CLUSTER_SECRET_HEADER } from './cluster-secret';
import type { CoordinatorIdentity } from './membership';

/** How long one internal request may take before the caller gives up on it. */
export const PEER_REQUEST_TIMEOUT_MS = 3000;
/** The most an internal body may hold (a StartJob's spec is well under this). */
export const PEER_BODY_MAX_BYTES = 64 * 1024;

export interface PeerStartJob {
  job_id: string;
  attempt: number;
  /** the proto TranscodeSpec as specToProto builds it */
  spec: unknown;
  stream_lanes: number;
}

export interface PeerCancelJob {
  job_id: string;
  attempt: number;
  reason: string;
}

/** POST /internal/worker-command: what the owner asks the worker's Control holder to send. */
export interface WorkerCommandBody {
  /** the asking coordinator (the job's owner) */
  ownerId: string;
  workerId: string;
  startJob?: PeerStartJob & { job_stream_address: string };
  cancelJob?: PeerCancelJob;
}

/** POST /internal/job-report: a worker's report on a job, passed on to its owner. */
export interface JobReportBody {
  jobId: string;
  attempt: number;
  workerId: string;
  ended?: { state: 'completed' | 'failed' | 'cancelled'; reason: string | null };
  rejected?: { reason: string };
}

interface Peer {
  id: string;
  httpUrl: string;
}

export class PeerRelay {
  constructor(
    private readonly ctx: CoreContext,
    private readonly secret: () => Promise<string>,
    /** This coordinator as the cluster knows it; null until its HTTP port is known. */
    private readonly self: () => CoordinatorIdentity | null,
  ) {}

  /** The other live coordinators' ids: where a job may go when no own worker can take it. */
  async livePeerIds(): Promise<string[]> {
    const { coordinators } = this.ctx.store.t;
    const rows = await this.ctx.store.db
      .select({ id: coordinators.id })
      .from(coordinators)
      .where(and(ne(coordinators.id, this.ctx.coordinatorId ?? ''), gte(coordinators.expiresAt, this.ctx.clock.now()), isNull(coordinators.stoppedAt)));
    return rows.map((r) => r.id);
  }

  /** Sends StartJob to a worker held by a peer, its job stream pointed at this coordinator. */
  async startJob(workerId: string, start: PeerStartJob): Promise<void> {
    const self = this.self();
    if (!self?.grpcAddr) throw new Error('this coordinator has no gRPC address for a peer\'s worker to dial (TVARR_GRPC_PUBLIC_ADDR)');
    const peer = await this.holderOf(workerId);
    if (!peer) throw new Error('worker is not connected to any live coordinator');
    await this.post(peer, '/internal/worker-command', { ownerId: self.id, workerId, startJob: { ...start, job_stream_address: self.grpcAddr } } satisfies WorkerCommandBody);
  }

  /** Sends CancelJob to a worker held by a peer; false when it could not be passed on. */
  async cancelJob(workerId: string, cancel: PeerCancelJob): Promise<boolean> {
    const peer = await this.holderOf(workerId).catch(() => null);
    if (!peer) return false;
    try {
      await this.post(peer, '/internal/worker-command', { ownerId: this.ctx.coordinatorId ?? '', workerId, cancelJob: cancel } satisfies WorkerCommandBody);
      return true;
    } catch (err) {
      this.ctx.log.warn('cluster: cancel not passed on to the worker\'s coordinator', { workerId, jobId: cancel.job_id, peer: peer.id, error: err instanceof Error ? err.message : String(err) });
      return false;
    }
  }

  /**
   * A worker reported on a job this coordinator does not run: passes it on to the job's
   * owner when that is another live coordinator (the row says which). False: nobody to tell.
   */
  async reportToOwner(report: JobReportBody): Promise<boolean> {
    const owner = await this.liveOwnerOf(report);
    if (!owner) return false;
    try {
      await this.post(owner, '/internal/job-report', report);
      return true;
    } catch (err) {
      this.ctx.log.warn('cluster: job report not passed on to its owner', { jobId: report.jobId, owner: owner.id, error: err instanceof Error ? err.message : String(err) });
      return false;
    }
  }

  /**
   * Of the jobs a registering worker says it runs, those another live coordinator owns
   * (the row: that attempt, on that worker, still pending or running): they go on.
   */
  async ownedByLivePeers(workerId: string, jobs: readonly { jobId: string; attempt: number }[]): Promise<Set<string>> {
    const kept = new Set<string>();
    if (jobs.length === 0) return kept;
    const { jobs: t } = this.ctx.store.t;
    const rows = await this.ctx.store.db
      .select({ id: t.id, attempt: t.attempt, owner: t.coordinatorId })
      .from(t)
      .where(and(inArray(t.id, jobs.map((j) => j.jobId)), eq(t.workerId, workerId), inArray(t.state, ['pending', 'running'])));
    const live = new Set(await this.livePeerIds());
    for (const r of rows) {
      if (r.owner !== null && live.has(r.owner) && jobs.some((j) => j.jobId === r.id && j.attempt === r.attempt)) kept.add(`${r.id}/${r.attempt}`);
    }
    return kept;
  }

  /** The live peer whose Control stream holds this worker, from the worker's row. */
  private async holderOf(workerId: string): Promise<Peer | null> {
    const { workers } = this.ctx.store.t;
    const [row] = await this.ctx.store.db
      .select({ coordinatorId: workers.coordinatorId })
      .from(workers)
      .where(and(eq(workers.id, workerId), ne(workers.state, 'offline')))
      .limit(1);
    if (!row?.coordinatorId || row.coordinatorId === this.ctx.coordinatorId) return null;
    return this.livePeer(row.coordinatorId);
  }

  private async liveOwnerOf(fence: JobFence): Promise<Peer | null> {
    const { jobs } = this.ctx.store.t;
    const [row] = await this.ctx.store.db
      .select({ owner: jobs.coordinatorId })
      .from(jobs)
      .where(and(eq(jobs.id, fence.jobId), eq(jobs.attempt, fence.attempt), eq(jobs.workerId, fence.workerId)))
      .limit(1);
    if (!row?.owner || row.owner === this.ctx.coordinatorId) return null;
    return this.livePeer(row.owner);
  }

  private async livePeer(id: string): Promise<Peer | null> {
    const { coordinators } = this.ctx.store.t;
    const [row] = await this.ctx.store.db
      .select({ id: coordinators.id, httpUrl: coordinators.httpUrl })
      .from(coordinators)
      .where(and(eq(coordinators.id, id), gte(coordinators.expiresAt, this.ctx.clock.now()), isNull(coordinators.stoppedAt)))
      .limit(1);
    return row ?? null;
  }

  private async post(peer: Peer, path: string, body: WorkerCommandBody | JobReportBody): Promise<void> {
    const res = await fetch(`${peer.httpUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [CLUSTER_SECRET_HEADER]: await this.secret() },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(PEER_REQUEST_TIMEOUT_MS),
    });
    if (!res.ok) {
      const text = (await res.text().catch(() => '')).slice(0, 300);
      throw new Error(`${peer.id} answered ${res.status} to ${path}: ${text}`);
    }
    await res.body?.cancel().catch(() => {});
  }
}
