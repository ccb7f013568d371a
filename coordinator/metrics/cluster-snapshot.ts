// One read model of the whole cluster, shared by the Transcoders page (/api/cluster),
// /api/metrics and the Prometheus collectors, so they never disagree. Worker rows and
// usage come from SQLite; live jobs, their progress and bytes from memory (the
// supervisor); clients from the variants' shared buffers; totals from the counter store.
import { inArray } from 'drizzle-orm';
import type { Store } from '../db/store';
import type { EncoderKind, JobProgress } from '../domain';
import type { ActiveJob } from '../jobs/active-job';
import { listWorkerViews, type WorkerPresence, type WorkerView } from '../workers/worker-views';
import type { CounterStore } from './counter-store';

export interface LiveRunInfo {
  key: string;
  currentJobId: string | null;
  clients: number;
}

export interface SnapshotInputs {
  store: Store;
  now: number;
  connected: WorkerPresence;
  liveJobs: readonly ActiveJob[];
  runs: readonly LiveRunInfo[];
  counters: CounterStore;
}

export interface JobSnapshot {
  id: string;
  runId: string;
  variant: string;
  sourceId: string;
  profileId: string;
  role: string;
  workerId: string;
  encoder: string;
  kind: string;
  attempt: number;
  state: 'pending' | 'running';
  startedAt: number;
  uptimeMs: number;
  clients: number;
  bytesIn: number;
  bytesOut: number;
  progress: Pick<JobProgress, 'fps' | 'speed' | 'bitrateKbps' | 'frames' | 'bytesIn' | 'bytesOut' | 'outTimeUs'> | null;
}

export interface SlotUse {
  used: number;
  max: number;
  gpuUsed: number;
  gpuMax: number;
  cpuUsed: number;
  cpuMax: number;
  gpuFree: number;
  cpuFree: number;
}

export interface WorkerSnapshot extends WorkerView {
  quarantined: boolean;
  slots: SlotUse;
  jobsCompleted: number;
  jobsFailed: number;
  jobs: JobSnapshot[];
}

export interface ClusterTotals {
  workers: number;
  workersOnline: number;
  workersDraining: number;
  workersOffline: number;
  gpuSlotsUsed: number;
  gpuSlotsFree: number;
  cpuSlotsUsed: number;
  cpuSlotsFree: number;
  runningJobs: number;
  pendingJobs: number;
  sessionsGpu: number;
  sessionsCpu: number;
  jobsCompleted: number;
  jobsFailed: number;
  jobsCancelled: number;
  jobsReassigned: number;
  runsFailed: number;
  clientsConnected: number;
  bytesIn: number;
  bytesOut: number;
}

export interface ClusterSnapshot {
  generatedAt: number;
  totals: ClusterTotals;
  workers: WorkerSnapshot[];
}

/**
 * Free slots of one worker for each encoder kind: what the scheduler could still
 * place there. Only a worker that is online, connected and not quarantined has any.
 */
export function freeSlots(w: { state: string; connected: boolean; quarantined: boolean }, s: Omit<SlotUse, 'gpuFree' | 'cpuFree'>) {
  if (w.state !== 'online' || !w.connected || w.quarantined) return { gpuFree: 0, cpuFree: 0 };
  const total = Math.max(0, s.max - s.used);
  return { gpuFree: Math.min(total, Math.max(0, s.gpuMax - s.gpuUsed)), cpuFree: Math.min(total, Math.max(0, s.cpuMax - s.cpuUsed)) };
}

export async function buildClusterSnapshot(input: SnapshotInputs): Promise<ClusterSnapshot> {
  const { store, now, counters } = input;
  const { jobs } = store.t;
  const { views } = await listWorkerViews(store, input.connected);

  // Variant and role of each live attempt: one primary-key lookup for all of them.
  const ids = input.liveJobs.map((j) => j.jobId);
  const rows = ids.length
    ? await store.db
        .select({ id: jobs.id, sourceId: jobs.sourceId, profileId: jobs.profileId, role: jobs.role })
        .from(jobs)
        .where(inArray(jobs.id, ids))
    : [];
  const rowById = new Map(rows.map((r) => [r.id, r]));
  const clientsByJob = new Map<string, number>();
  // A ladder job is the current job of each of its renditions' runs: their clients add up.
  for (const run of input.runs) if (run.currentJobId) clientsByJob.set(run.currentJobId, (clientsByJob.get(run.currentJobId) ?? 0) + run.clients);

  const jobsByWorker = new Map<string, JobSnapshot[]>();
  for (const job of input.liveJobs) {
    const row = rowById.get(job.jobId);
    const p = job.progress;
    const snap: JobSnapshot = {
      id: job.jobId,
      runId: job.info.runId,
      variant: row ? `${row.sourceId}/${row.profileId}` : '',
      sourceId: row?.sourceId ?? '',
      profileId: row?.profileId ?? '',
      role: row?.role ?? 'primary',
      workerId: job.info.workerId,
      encoder: job.info.encoder,
      kind: job.info.kind,
      attempt: job.info.attempt,
      state: job.attached ? 'running' : 'pending',
      startedAt: job.startedAt,
      uptimeMs: Math.max(0, now - job.startedAt),
      clients: clientsByJob.get(job.jobId) ?? 0,
      bytesIn: job.bytesIn,
      bytesOut: job.bytesOut,
      progress: p
        ? { fps: p.fps, speed: p.speed, bitrateKbps: p.bitrateKbps, frames: p.frames, bytesIn: p.bytesIn, bytesOut: p.bytesOut, outTimeUs: p.outTimeUs }
        : null,
    };
    const list = jobsByWorker.get(job.info.workerId) ?? [];
    list.push(snap);
    jobsByWorker.set(job.info.workerId, list);
  }

  const totals: ClusterTotals = {
    workers: views.length,
    workersOnline: 0,
    workersDraining: 0,
    workersOffline: 0,
    gpuSlotsUsed: 0,
    gpuSlotsFree: 0,
    cpuSlotsUsed: 0,
    cpuSlotsFree: 0,
    runningJobs: 0,
    pendingJobs: 0,
    sessionsGpu: 0,
    sessionsCpu: 0,
    jobsCompleted: counters.get('jobs_completed'),
    jobsFailed: counters.get('jobs_failed'),
    jobsCancelled: counters.get('jobs_cancelled'),
    jobsReassigned: counters.get('jobs_reassigned'),
    runsFailed: counters.get('runs_failed'),
    clientsConnected: input.runs.reduce((n, r) => n + r.clients, 0),
    bytesIn: counters.get('bytes_in'),
    bytesOut: counters.get('bytes_out'),
  };

  const workers = views.map((view): WorkerSnapshot => {
    const live = jobsByWorker.get(view.id) ?? [];
    const count = (kind: EncoderKind) => live.filter((j) => j.kind === kind).length;
    const quarantined = view.quarantinedUntil !== null && view.quarantinedUntil > now;
    const base = { used: live.length, max: view.maxJobs, gpuUsed: count('gpu'), gpuMax: view.maxGpuJobs, cpuUsed: count('cpu'), cpuMax: view.maxCpuJobs };
    const slots: SlotUse = { ...base, ...freeSlots({ state: view.state, connected: view.connected, quarantined }, base) };
    return {
      ...view,
      quarantined,
      slots,
      jobsCompleted: counters.get('jobs_completed', view.id),
      jobsFailed: counters.get('jobs_failed', view.id),
      jobs: live,
    };
  });

  for (const w of workers) {
    if (w.state === 'online') totals.workersOnline += 1;
    else if (w.state === 'draining') totals.workersDraining += 1;
    else totals.workersOffline += 1;
    totals.gpuSlotsUsed += w.slots.gpuUsed;
    totals.cpuSlotsUsed += w.slots.cpuUsed;
    totals.gpuSlotsFree += w.slots.gpuFree;
    totals.cpuSlotsFree += w.slots.cpuFree;
  }
  for (const job of input.liveJobs) {
    if (job.attached) totals.runningJobs += 1;
    else totals.pendingJobs += 1;
    if (job.info.kind === 'gpu') totals.sessionsGpu += 1;
    else totals.sessionsCpu += 1;
    // Bytes of attempts still running; ended attempts are already in the counters.
    totals.bytesIn += job.bytesIn;
    totals.bytesOut += job.bytesOut;
  }
  return { generatedAt: now, totals, workers };
}
