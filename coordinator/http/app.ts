// The HTTP edge: the only place that imports Elysia's app. Maps AppError and validation
// failures to JSON errors in one place.
import { openapi } from '@elysiajs/openapi';
import { Elysia } from 'elysia';
import type { CoreContext } from '../context';
import { AppError } from '../errors';
import { openapiAssetPath } from './openapi-assets';
import { guardRequest, hasAdminToken, ownHostNames, rejectDeepJson, type RequestGuardConfig } from './admin-auth';
import { openapiDocumentCompletion } from './openapi-document';
import type { JobSupervisor } from '../jobs/job-supervisor';
import type { ClusterMetrics } from '../metrics/cluster-metrics';
import type { VariantRegistry } from '../streams/variant-registry';
import type { DrainController } from '../workers/drain-controller';
import type { WorkerRegistry } from '../workers/worker-registry';
import { catalogRoutes } from './routes/catalog-routes';
import { ladderRoutes } from './routes/ladder-routes';
import { clusterRoutes } from './routes/cluster-routes';
import { quarantineRoutes } from './routes/quarantine-routes';
import { clusterSummaryRoutes } from './routes/cluster-summary-routes';
import type { ClusterMembership } from '../cluster/membership';
import type { ClusterStreams } from '../cluster/cluster-streams';
import { internalStreamRoutes } from './routes/internal-stream-routes';
import { internalJobRoutes } from './routes/internal-job-routes';
import { metricsRoutes } from './routes/metrics-routes';
import { pageRoutes } from './routes/page-routes';
import { schedulerRoutes } from './routes/scheduler-routes';
import { streamRoutes } from './routes/stream-routes';
import { hlsRoutes } from './routes/hls-routes';
import { DEFAULT_HLS_OPTIONS, HlsService } from '../streams/hls/hls-service';
import { StoredDiscontinuityLedger } from '../streams/hls/discontinuity-ledger';
import { variantRoutes } from './routes/variant-routes';
import type { ViewerAdmission } from '../load/viewer-admission';

export interface HttpDeps {
  ctx: CoreContext;
  registry: WorkerRegistry;
  supervisor: JobSupervisor;
  drain: DrainController;
  variants: VariantRegistry;
  metrics: ClusterMetrics;
  /** The effective admin token: TVARR_ADMIN_TOKEN or the generated one (admin-token.ts). */
  adminToken: string | Buffer;
  /** Set once the coordinator has joined its cluster (after listening: the row needs the ports). */
  cluster?: { current: ClusterMembership | null };
  /** How viewers' streams are opened (coordinator/cluster/cluster-streams.ts); the variants directly when unset. */
  streams?: ClusterStreams;
  /** The cluster secret peers present on /internal/* (coordinator/cluster/cluster-secret.ts). */
  clusterSecret?: () => Promise<string>;
  /** Admission control of new viewers (coordinator/load/viewer-admission.ts); every viewer is taken when unset. */
  admission?: ViewerAdmission;
}

/** Whether a request carries the admin token: reads use it to decide what to redact. */
export type IsAdmin = (request: Request) => boolean;

// A stream client learns that its source failed, never how: FFmpeg's text differs between a
// missing and an unreadable file, and may quote the URL. The detail is in /api/variants.
const STREAM_FAILURE: Record<string, { code: string; message: string }> = {
  unavailable: { code: 'source_unavailable', message: 'the source of this stream is unavailable right now' },
  job_failed: { code: 'stream_failed', message: 'the stream could not be started' },
};


function errorBody(code: string, message: string, field?: string) {
  return { error: field ? { code, message, field } : { code, message } };
}

/** First failing field of an Elysia validation error, as "body.width: Expected integer". */
function describeValidation(error: unknown): { message: string; field?: string } {
  const e = error as { type?: string; all?: { path?: string; message?: string; summary?: string }[]; message?: string };
  const first = e.all?.[0];
  if (first) {
    const field = (first.path ?? '').replace(/^\//, '').replace(/\//g, '.') || undefined;
    const where = [e.type, field].filter(Boolean).join('.');
    return { message: `${where || 'request'}: ${first.summary ?? first.message ?? 'invalid'}`, field };
  }
  return { message: 'invalid request' };
}

export function createHttpApp(deps: HttpDeps) {
  const { ctx } = deps;
  const guard: RequestGuardConfig = {
    adminToken: deps.adminToken,
    apiMaxBodyBytes: ctx.config.apiMaxBodyBytes,
    ownHosts: ownHostNames(ctx.config),
    trustedOrigins: ctx.config.trustedOrigins,
  };
  const isAdmin: IsAdmin = (request) => hasAdminToken(request, deps.adminToken);
  // HLS is cut from the variants' shared buffers on demand (coordinator/streams/hls).
  const opener = deps.streams ?? deps.variants;
  const streams = deps.streams;
  const ownerProxy = streams ? (request: Request, sourceId: string) => streams.proxyToOwner(request, sourceId) : undefined;
  const hlsLog = ctx.log.child({ component: 'hls' });
  const hls = new HlsService(opener, hlsLog, () => ctx.clock.now(), DEFAULT_HLS_OPTIONS, new StoredDiscontinuityLedger(ctx.store, hlsLog, () => ctx.clock.now()));
  // maxRequestBodySize caps bodies without Content-Length; guardRequest answers the rest.
  // normalize: false makes additionalProperties: false reject unknown fields (422) instead of
  // silently dropping them.
  return new Elysia({ serve: { maxRequestBodySize: ctx.config.apiMaxBodyBytes }, normalize: false })
    .onRequest(async ({ request }) => guardRequest(request, guard) ?? (await rejectDeepJson(request)))
    .onError(({ code, error, set, path }) => {
      if (error instanceof AppError) {
        set.status = error.httpStatus;
        const generic = path.startsWith('/stream/') ? STREAM_FAILURE[error.code] : undefined;
        if (generic) return errorBody(generic.code, `${generic.message}; an admin can see why in /api/variants`);
        return errorBody(error.code, error.message, typeof error.details?.field === 'string' ? error.details.field : undefined);
      }
      switch (code) {
        case 'VALIDATION': {
          set.status = 422;
          const { message, field } = describeValidation(error);
          return errorBody('invalid_request', message, field);
        }
        case 'PARSE':
          set.status = 400;
          return errorBody('invalid_request', 'request body is not valid JSON');
        case 'NOT_FOUND':
          set.status = 404;
          return errorBody('not_found', 'no such route');
        default:
          ctx.log.error('unhandled HTTP error', { code, error });
          set.status = 500;
          return errorBody('internal', 'internal error');
      }
    })
    .use(openapiDocumentCompletion('/openapi/json'))
    .use(
      openapi({
        path: '/openapi',
        provider: 'swagger-ui',
        // Served from the swagger-ui-dist package: the UI works with no internet.
        // validatorUrl: null stops the UI from sending the spec to validator.swagger.io.
        swagger: { theme: '/openapi-assets/swagger-ui.css', cdn: '/openapi-assets/swagger-ui-bundle.js', autoDarkMode: false, validatorUrl: null } as never,
        documentation: {
          info: { title: 'tvarr transcoding coordinator', version: '0.1.0', description: 'Admin API and client streams' },
          tags: [
            { name: 'sources', description: 'Live inputs' },
            { name: 'profiles', description: 'Output recipes' },
            { name: 'ladders', description: 'Renditions of one source for adaptive players' },
            { name: 'workers', description: 'ffmpegd workers' },
            { name: 'jobs', description: 'Transcode job attempts' },
            { name: 'streams', description: 'Client endpoints' },
            { name: 'monitoring', description: 'Cluster summary and metrics' },
          ],
        },
        exclude: { paths: [/^\/openapi-assets/] as never },
      }),
    )
    .get('/openapi-assets/:file', ({ params, set }) => {
      const path = openapiAssetPath(params.file);
      if (!path) {
        set.status = 404;
        return errorBody('not_found', 'no such asset');
      }
      return Bun.file(path);
    })
    .use(catalogRoutes(ctx, isAdmin, (id) => deps.variants.sourceStatus(id)))
    .use(ladderRoutes(ctx))
    .use(schedulerRoutes(deps))
    .use(clusterRoutes({ ...deps, isAdmin }))
    .use(quarantineRoutes(deps))
    .use(streamRoutes(ctx, opener, hls, ownerProxy, deps.admission))
    .use(deps.streams && deps.clusterSecret ? internalStreamRoutes(deps.streams, deps.clusterSecret) : new Elysia())
    .use(ctx.clustered && deps.clusterSecret ? internalJobRoutes({ ctx, registry: deps.registry, supervisor: deps.supervisor, secret: deps.clusterSecret }) : new Elysia())
    .use(hlsRoutes(hls, ownerProxy))
    .use(variantRoutes(deps.variants, isAdmin, (key) => hls.viewersOf(key), deps.ctx.coordinatorId ?? null))
    .use(clusterSummaryRoutes(deps.metrics, isAdmin, deps.cluster))
    .use(metricsRoutes(deps.metrics))
    .use(pageRoutes())
    // For load balancers: 503 while this coordinator must not take viewers (not joined yet,
    // its cluster lease not renewed: the database is unreachable or the process was paused;
    // or overloaded: its event loop lags, so it refuses new viewers, coordinator/load).
    .get(
      '/healthz',
      () => {
        const m = deps.cluster?.current;
        const cluster = m ? m.health() : deps.cluster ? { ok: false, reason: 'starting' } : { ok: true, reason: null };
        const load = deps.admission?.health();
        const health = cluster.ok && load?.overloaded ? { ok: false, reason: 'overloaded' } : cluster;
        const lag = load ? { lagMs: load.lagMs } : {};
        const body = health.ok ? { ok: true, coordinatorId: m?.identity.id ?? null, ...lag } : { ok: false, reason: health.reason, coordinatorId: m?.identity.id ?? null, ...lag };
        return new Response(JSON.stringify(body), { status: health.ok ? 200 : 503, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });
      },
      { detail: { hide: true } },
    );
}
