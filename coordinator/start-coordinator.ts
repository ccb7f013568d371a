// Builds the coordinator from a config: used by main.ts and by in-process tests.
import type { Logger } from '../common/log';
import { seedDefaults } from './catalog/catalog-store';
import type { CoordinatorConfig } from './config';
import { systemClock, type Clock, type CoreContext } from './context';
import { openDatabase } from './db/client';
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
import { watchForQuarantine } from './workers/quarantine';

export interface RunningCoordinator {
  ctx: CoreContext;
  httpPort: number;
  grpcPort: number | null;
  registry: WorkerRegistry;
  supervisor: JobSupervisor;
  variants: VariantRegistry;
  metrics: ClusterMetrics;
  app: ReturnType<typeof createHttpApp>;
  /** The admin token in force; the caller prints it (stdout), never the log. */
  adminToken: AdminToken;
  stop(): Promise<void>;
}

export async function startCoordinator(config: CoordinatorConfig, log: Logger, clock: Clock = systemClock): Promise<RunningCoordinator> {
  const db = openDatabase(config.databasePath);
  const ctx: CoreContext = { config, db, events: new CoordinatorEventBus(), log, clock };
  const orphaned = failOrphanedJobs(db, clock.now());
  if (orphaned > 0) log.info('failed jobs left running by the previous process', { count: orphaned });
  if (config.seedDefaults) seedDefaults(db, clock.now());

  const registry = new WorkerRegistry(ctx);
  const supervisor = new JobSupervisor(ctx, registry);
  const drain = new DrainController(ctx, registry, supervisor);
  const variants = new VariantRegistry(ctx, supervisor);
  drain.mover = variants;
  const metrics = new ClusterMetrics(ctx, { registry, supervisor, variants });
  registry.start();
  const quarantine = watchForQuarantine(ctx);
  const jobHistory = startJobHistoryPruner(ctx, { retentionMs: config.jobHistoryRetentionMs });

  const loopbackOnly = config.grpcHost === '127.0.0.1' || config.grpcHost === 'localhost' || config.grpcHost === '::1';
  if (config.grpcAuthToken === undefined && !loopbackOnly) log.warn('TVARR_GRPC_AUTH_TOKEN is not set: any worker that can reach the gRPC port may register');
  const grpc = config.grpcEnabled ? await startGrpcServer({ ctx, registry, supervisor, drain }, config.grpcHost, config.grpcPort) : null;

  const adminToken = resolveAdminToken(config.adminToken, config.databasePath);
  const app = createHttpApp({ ctx, registry, supervisor, drain, variants, metrics, adminToken: adminToken.value });
  // Idle connections (half-sent requests included) close after httpIdleTimeoutS; the
  // stream route lifts the limit for its own long responses (stream-routes.ts).
  app.listen({ hostname: config.httpHost, port: config.httpPort, idleTimeout: config.httpIdleTimeoutS });
  const httpPort = app.server?.port ?? config.httpPort;
  log.info('coordinator listening', { httpPort, grpcPort: grpc?.port ?? null, database: config.databasePath, adminToken: adminToken.origin });

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
    async stop() {
      quarantine.stop();
      jobHistory.stop();
      variants.stopAll('coordinator shutting down');
      registry.stop();
      await grpc?.shutdown();
      await app.stop(true);
      metrics.stop();
      db.$client.close();
    },
  };
}
