// Builds the coordinator from a config: used by main.ts and by in-process tests.
import type { Logger } from '../common/log';
import { seedDefaults } from './catalog/catalog-store';
import type { CoordinatorConfig } from './config';
import { systemClock, type Clock, type CoreContext } from './context';
import { openStore } from './db/open-store';
import { CounterStore } from './metrics/counter-store';
import { CoordinatorEventBus } from './events';
import { startGrpcServer } from './grpc/server';
import { createHttpApp } from './http/app';
import { resolveAdminToken, type AdminToken } from './http/admin-token';
import { failOrphanedJobs } from './jobs/job-store';
import { startJobHistoryPruner } from './jobs/job-history-pruner';
import { ClusterMetrics } from './metrics/cluster-metrics';
import { JobSupervisor } from './jobs/job-supervisor';
import { VariantRegistry } from './streams/variant-registry';
import { DrainController } from './workers/drain-controller';
import { WorkerRegistry } from './workers/worker-registry';
import { ClusterMembership, coordinatorIdentity, liveCoordinatorIds, newCoordinatorId } from './cluster/membership';
import { loadClusterSecret } from './cluster/cluster-secret';
import { ClusterStreams } from './cluster/cluster-streams';
import { PeerRelay } from './cluster/peer-relay';
import { SourceOwnership } from './cluster/source-ownership';
import { watchForQuarantine } from './workers/quarantine';
import { EventLoopLag } from './load/event-loop-lag';
import { ViewerAdmission } from './load/viewer-admission';

export interface RunningCoordinator {
  ctx: CoreContext;
  httpPort: number;
  grpcPort: number | null;
  registry: WorkerRegistry;
  supervisor: JobSupervisor;
  variants: VariantRegistry;
  metrics: ClusterMetrics;
  membership: ClusterMembership;
  app: ReturnType<typeof createHttpApp>;
  /** The admin token in force; the caller prints it (stdout), never the log. */
  adminToken: AdminToken;
  /** This process's event-loop lag and the admission of new viewers it decides (coordinator/load). */
  loopLag: EventLoopLag;
  admission: ViewerAdmission;
  stop(): Promise<void>;
}

export async function startCoordinator(config: CoordinatorConfig, log: Logger, clock: Clock = systemClock): Promise<RunningCoordinator> {
  const store = await openStore(config);
  // Several coordinators may share a PostgreSQL database (coordinator/cluster/membership.ts):
  // what the live ones hold (their workers, their jobs) is theirs, not this start's to reset.
  const coordinatorId = newCoordinatorId(config.cluster.coordinatorId);
  // Measured from the end of start-up (loopLag.start below): migrations and loading block the
  // loop before any viewer or worker is there to suffer it.
  const loopLag = new EventLoopLag({ now: () => performance.now() });
  const ctx: CoreContext = { config, store, events: new CoordinatorEventBus(), log, clock, coordinatorId, clustered: store.engine === 'postgres', loopLag };
  const admission = new ViewerAdmission(loopLag, config.overloadLagMs, log, ctx.events);
  // SQLite: one coordinator per file, whatever rows an earlier process left.
  const liveOthers = ctx.clustered ? await liveCoordinatorIds(ctx, coordinatorId, clock.now()) : [];
  const orphaned = await failOrphanedJobs(store, clock.now(), liveOthers);
  if (orphaned > 0) log.info('failed jobs left running by the previous process', { count: orphaned });
  if (config.seedDefaults) await seedDefaults(store, clock.now());

  const registry = new WorkerRegistry(ctx);
  await registry.init(liveOthers);
  const counters = await CounterStore.load(store);
  const supervisor = new JobSupervisor(ctx, registry);
  const drain = new DrainController(ctx, registry, supervisor);
  const variants = new VariantRegistry(ctx, supervisor);
  drain.mover = variants;
  const metrics = new ClusterMetrics(ctx, { registry, supervisor, variants }, counters);
  registry.start();
  const quarantine = await watchForQuarantine(ctx);
  const jobHistory = startJobHistoryPruner(ctx, { retentionMs: config.jobHistoryRetentionMs });

  const loopbackOnly = config.grpcHost === '127.0.0.1' || config.grpcHost === 'localhost' || config.grpcHost === '::1';
  if (config.grpcAuthToken === undefined && !loopbackOnly) log.warn('TVARR_GRPC_AUTH_TOKEN is not set: any worker that can reach the gRPC port may register');
  const grpc = config.grpcEnabled ? await startGrpcServer({ ctx, registry, supervisor, drain }, config.grpcHost, config.grpcPort) : null;

  const adminToken = await resolveAdminToken(config.adminToken, store, config.databasePath);
  const membershipRef: { current: ClusterMembership | null } = { current: null };
  // Cluster mode: one owner per source (leases), the others mirror it (coordinator/cluster).
  let secret: Promise<string> | null = null;
  const clusterSecret = () => (secret ??= loadClusterSecret(store, clock.now()).catch((err: unknown) => ((secret = null), Promise.reject(err))));
  const ownership = ctx.clustered
    ? new SourceOwnership({
        ctx,
        connectedWorkers: () => registry.connectedCount,
        sourcesRunning: () => new Set(variants.liveRuns().map((r) => r.source.id)),
        stopSource: (sourceId, reason) => {
          for (const run of variants.liveRuns()) if (run.source.id === sourceId) run.stop(reason);
        },
      })
    : null;
  ctx.fenceFor = ownership ? (sourceId) => ownership.fenceFor(sourceId) : undefined;
  // Jobs on workers whose Control stream a peer holds (coordinator/cluster/peer-relay.ts).
  if (ctx.clustered) supervisor.peers = new PeerRelay(ctx, clusterSecret, () => membershipRef.current?.identity ?? null);
  const streams = new ClusterStreams(ctx, variants, ownership, clusterSecret);
  const app = createHttpApp({ ctx, registry, supervisor, drain, variants, metrics, adminToken: adminToken.expected, cluster: membershipRef, streams, clusterSecret, admission });
  // Idle connections (half-sent requests included) close after httpIdleTimeoutS; the
  // stream route lifts the limit for its own long responses (stream-routes.ts).
  app.listen({ hostname: config.httpHost, port: config.httpPort, idleTimeout: config.httpIdleTimeoutS });
  const httpPort = app.server?.port ?? config.httpPort;
  const membership = new ClusterMembership(ctx, coordinatorIdentity(ctx, coordinatorId, { http: httpPort, grpc: grpc?.port ?? null }), () => {
    const runs = variants.liveRuns();
    return { clients: runs.reduce((n, r) => n + r.buffer.readerCount, 0), sources: new Set(runs.map((r) => r.source.id)).size };
  });
  await membership.join();
  await membership.supersedePredecessors();
  membership.start();
  ownership?.start();
  membershipRef.current = membership;
  loopLag.start();
  log.info('coordinator listening', { httpPort, grpcPort: grpc?.port ?? null, database: store.where, engine: store.engine, adminToken: adminToken.origin });

  return {
    ctx,
    httpPort,
    grpcPort: grpc?.port ?? null,
    registry,
    supervisor,
    variants,
    metrics,
    app,
    adminToken,
    loopLag,
    admission,
    membership,
    async stop() {
      loopLag.stop();
      // Clean stop: the sources' leases end now so a peer takes them at once, then the row.
      ownership?.stop();
      streams.stopAll('coordinator shutting down');
      await ownership?.releaseAll();
      await membership.leave();
      quarantine.stop();
      jobHistory.stop();
      variants.stopAll('coordinator shutting down');
      registry.stop();
      await grpc?.shutdown();
      await app.stop(true);
      metrics.stop();
      await registry.flushTouches(clock.now(), 0).catch(() => 0);
      await counters.flush().catch(() => {});
      counters.stop();
      await supervisor.settledAll();
      await store.close();
    },
  };
}
