// A worker's link for the API and the page: the control stream's measured RTT and the
// throughput each of its live jobs achieves, each way. Read from memory (the session and
// the live jobs), never stored: it describes this connection only.
import type { JobSupervisor } from '../jobs/job-supervisor';
import type { WorkerRegistry } from './worker-registry';

export interface WorkerLinkJob {
  jobId: string;
  attempt: number;
  /** job stream calls of the attempt (1 = a single call) */
  lanes: number;
  /** source bytes to the worker, kbit/s over the last ~5 s */
  inKbps: number;
  /** output bytes from the worker, kbit/s over the last ~5 s */
  outKbps: number;
}

export interface WorkerLink {
  /** min RTT over the last pings, ms; null until the first answer (or an older worker) */
  rttMs: number | null;
  lastRttMs: number | null;
  samples: number;
  jobs: WorkerLinkJob[];
}

/** null when the worker has no control stream to this coordinator. */
export function describeWorkerLink(registry: Pick<WorkerRegistry, 'get'>, supervisor: Pick<JobSupervisor, 'liveJobs'>, workerId: string): WorkerLink | null {
  const session = registry.get(workerId);
  if (!session) return null;
  const jobs = supervisor
    .liveJobs()
    .filter((j) => j.info.workerId === workerId && !j.ended)
    .map((j) => ({ jobId: j.jobId, attempt: j.info.attempt, lanes: j.lanes, ...j.throughput() }));
  return { ...session.link.view(), jobs };
}
