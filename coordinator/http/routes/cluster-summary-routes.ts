// GET /api/cluster: the whole cluster in one read (totals, every worker with its live
// jobs, slots and usage). The Transcoders page polls it; scripts can too.
import { Elysia, t } from 'elysia';
import type { ClusterMetrics } from '../../metrics/cluster-metrics';
import type { ClusterMembership } from '../../cluster/membership';
import { ErrorBody, Worker } from '../schemas';
import { REDACTED } from './cluster-routes';

const Progress = t.Object({
  fps: t.Number(),
  speed: t.Number({ description: '1 = real time' }),
  bitrateKbps: t.Number(),
  frames: t.Number(),
  bytesIn: t.Number({ description: 'bytes FFmpeg read, as the worker reports it' }),
  bytesOut: t.Number({ description: 'bytes FFmpeg wrote, as the worker reports it' }),
  outTimeUs: t.Number(),
});

export const LiveJob = t.Object({
  id: t.String(),
  runId: t.String(),
  variant: t.String({ description: 'sourceId/profileId' }),
  sourceId: t.String(),
  profileId: t.String(),
  role: t.String({ description: 'primary or standby' }),
  workerId: t.String(),
  encoder: t.String(),
  kind: t.String({ description: 'gpu or cpu' }),
  attempt: t.Number(),
  state: t.Union([t.Literal('pending'), t.Literal('running')]),
  startedAt: t.Number({ description: 'ms since the epoch, when the attempt was dispatched' }),
  uptimeMs: t.Number(),
  clients: t.Number({ description: 'HTTP clients reading this attempt’s output' }),
  bytesIn: t.Number({ description: 'source bytes the coordinator sent to the worker' }),
  bytesOut: t.Number({ description: 'output bytes the coordinator received' }),
  progress: t.Union([Progress, t.Null()], { description: 'latest FFmpeg progress from the worker; null until the first report' }),
});

const Slots = t.Object({
  used: t.Number(),
  max: t.Number(),
  gpuUsed: t.Number(),
  gpuMax: t.Number(),
  cpuUsed: t.Number(),
  cpuMax: t.Number(),
  gpuFree: t.Number({ description: 'GPU jobs the scheduler could still place here (0 unless online, connected, not quarantined)' }),
  cpuFree: t.Number(),
});

export const WorkerSummary = t.Composite([
  Worker,
  t.Object({
    quarantined: t.Boolean(),
    slots: Slots,
    jobsCompleted: t.Number({ description: 'persisted counter' }),
    jobsFailed: t.Number({ description: 'persisted counter' }),
    jobs: t.Array(LiveJob),
  }),
]);

export const ClusterTotals = t.Object({
  workers: t.Number(),
  workersOnline: t.Number(),
  workersDraining: t.Number(),
  workersOffline: t.Number(),
  gpuSlotsUsed: t.Number(),
  gpuSlotsFree: t.Number(),
  cpuSlotsUsed: t.Number(),
  cpuSlotsFree: t.Number(),
  runningJobs: t.Number(),
  pendingJobs: t.Number(),
  sessionsGpu: t.Number(),
  sessionsCpu: t.Number(),
  jobsCompleted: t.Number({ description: 'persisted: survives a coordinator restart' }),
  jobsFailed: t.Number({ description: 'persisted' }),
  jobsCancelled: t.Number({ description: 'persisted' }),
  jobsReassigned: t.Number({ description: 'persisted' }),
  runsFailed: t.Number({ description: 'persisted' }),
  clientsConnected: t.Number(),
  bytesIn: t.Number({ description: 'source bytes relayed to workers (ended attempts persisted, plus live ones)' }),
  bytesOut: t.Number({ description: 'output bytes relayed from workers' }),
});

export const CoordinatorSummary = t.Object({
  id: t.String(),
  httpUrl: t.String({ description: 'how peers and clients reach its HTTP (TVARR_PUBLIC_URL); redacted without the admin token' }),
  grpcAddr: t.String({ description: 'how workers reach its gRPC (TVARR_GRPC_PUBLIC_ADDR); redacted without the admin token' }),
  self: t.Boolean({ description: 'the coordinator that answered' }),
  alive: t.Boolean({ description: 'its lease is current (renewed within TVARR_CLUSTER_LEASE_MS) and it did not stop' }),
  startedAt: t.Number(),
  renewedAt: t.Number({ description: 'its last lease renewal (ms since the epoch)' }),
  expiresAt: t.Number(),
  stoppedAt: t.Union([t.Number(), t.Null()]),
  clients: t.Number({ description: 'viewers it served at its last renewal' }),
  sourcesOwned: t.Number({ description: 'sources it held an upstream connection for at its last renewal' }),
  workersAttached: t.Number({ description: 'workers whose Control stream it holds (not offline)' }),
});

export const ClusterSummary = t.Object({
  generatedAt: t.Number(),
  totals: ClusterTotals,
  workers: t.Array(WorkerSummary),
  coordinators: t.Array(CoordinatorSummary, { description: 'every coordinator on this database (coordinator/cluster/membership.ts)' }),
});

export function clusterSummaryRoutes(metrics: ClusterMetrics, isAdmin: (request: Request) => boolean, cluster?: { current: ClusterMembership | null }) {
  return new Elysia({ prefix: '/api' }).get('/cluster', async ({ request }) => {
    const [snapshot, coordinators] = await Promise.all([metrics.snapshot(), cluster?.current?.list() ?? Promise.resolve([])]);
    // Worker and coordinator addresses are topology: only with the admin token.
    if (isAdmin(request)) return { ...snapshot, coordinators };
    return {
      ...snapshot,
      workers: snapshot.workers.map((w) => ({ ...w, address: REDACTED })),
      coordinators: coordinators.map((c) => ({ ...c, httpUrl: REDACTED, grpcAddr: REDACTED })),
    };
  }, {
    response: { 200: ClusterSummary, 500: ErrorBody },
    detail: {
      tags: ['monitoring'],
      summary: 'Cluster at a glance: totals, workers with live jobs, slots and resource usage',
      description: 'Read model behind the Transcoders page. Worker-reported strings (names, encoder reasons) are untrusted: escape them.',
    },
  });
}
