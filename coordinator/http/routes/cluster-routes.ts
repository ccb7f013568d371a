// /api/workers and /api/jobs: what the cluster is doing, and the operator's levers.
import { Elysia, t } from 'elysia';
import type { CoreContext } from '../../context';
import { AppError } from '../../errors';
import { getJob, listJobs } from '../../jobs/job-store';
import type { JobSupervisor } from '../../jobs/job-supervisor';
import type { DrainController } from '../../workers/drain-controller';
import { getWorkerView, listWorkerViews, type WorkerPresence } from '../../workers/worker-views';
import type { WorkerRegistry } from '../../workers/worker-registry';
import { describeWorkerLink } from '../../workers/worker-link';
import { ErrorBody, IdParams, Job, JobQuery, Worker, WorkerQuery } from '../schemas';

export interface ClusterRouteDeps {
  ctx: CoreContext;
  registry: WorkerRegistry;
  supervisor: JobSupervisor;
  drain: DrainController;
  /** Worker addresses are topology: shown only with the admin token. */
  isAdmin: (request: Request) => boolean;
}

export const REDACTED = 'redacted (needs the admin token)';

const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody };

export function clusterRoutes({ ctx, registry, supervisor, drain, isAdmin }: ClusterRouteDeps) {
  const connected: WorkerPresence = Object.assign((id: string) => registry.get(id) !== undefined, {
    link: (id: string) => describeWorkerLink(registry, supervisor, id),
    live: (id: string) => registry.live(id),
  });
  const view = <W extends { address: string }>(request: Request, w: W): W => (isAdmin(request) ? w : { ...w, address: REDACTED });
  return new Elysia({ prefix: '/api' })
    .get(
      '/workers',
      async ({ request, query, set }) => {
        const filter = { state: query.state, encoder: query.encoder, name: query.name };
        const page = { limit: Number(query.limit ?? 1000), offset: Number(query.offset ?? 0) };
        const { views, total } = await listWorkerViews(ctx.store, connected, { ...filter, ...page });
        set.headers['x-total-count'] = String(total);
        return views.map((w) => view(request, w));
      },
      {
        query: WorkerQuery,
        response: { 200: t.Array(Worker), ...errors },
        detail: {
          tags: ['workers'],
          summary: 'List workers with capabilities, state and load: filtered (state, encoder, name) and paged (limit, offset); X-Total-Count is the number matching the filter',
        },
      },
    )
    .get('/workers/:id', async ({ params, request }) => view(request, await getWorkerView(ctx.store, params.id, connected)), {
      params: IdParams,
      response: { 200: Worker, ...errors },
      detail: { tags: ['workers'], summary: 'Get one worker' },
    })
    .post(
      '/workers/:id/drain',
      async ({ params }) => {
        await drain.drain(params.id, 'admin request', { notifyWorker: true });
        return getWorkerView(ctx.store, params.id, connected);
      },
      {
        params: IdParams,
        response: { 200: Worker, ...errors },
        detail: { tags: ['workers'], summary: 'Drain: no new jobs; running jobs move to other workers' },
      },
    )
    .post(
      '/workers/:id/resume',
      async ({ params }) => {
        await drain.resume(params.id);
        return getWorkerView(ctx.store, params.id, connected);
      },
      { params: IdParams, response: { 200: Worker, ...errors }, detail: { tags: ['workers'], summary: 'Resume a drained worker' } },
    )
    .delete('/workers/:id', async ({ params, set }) => (await registry.remove(params.id, 'deleted by admin'), (set.status = 204), undefined), {
      params: IdParams,
      response: { 204: t.Void(), ...errors },
      detail: { tags: ['workers'], summary: 'Delete an offline worker with its encoders and per-worker counters (409 while it is connected)' },
    })
    .get('/jobs', ({ query }) => listJobs(ctx.store, { state: query.state, workerId: query.workerId, limit: Number(query.limit ?? 100) }), {
      query: JobQuery,
      response: { 200: t.Array(Job), ...errors },
      detail: { tags: ['jobs'], summary: 'List job attempts, newest first' },
    })
    .get(
      '/jobs/:id',
      async ({ params }) => {
        const job = await getJob(ctx.store, params.id);
        if (!job) throw new AppError('not_found', `job '${params.id}' not found`);
        return job;
      },
      { params: IdParams, response: { 200: Job, ...errors }, detail: { tags: ['jobs'], summary: 'Get one job attempt' } },
    )
    .post(
      '/jobs/:id/cancel',
      async ({ params }) => {
        const job = await getJob(ctx.store, params.id);
        if (!job) throw new AppError('not_found', `job '${params.id}' not found`);
        if (!supervisor.cancel(params.id, 'cancelled by admin')) throw new AppError('conflict', `job '${params.id}' is ${job.state}, not live`);
        await supervisor.settled(params.id);
        return (await getJob(ctx.store, params.id))!;
      },
      { params: IdParams, response: { 200: Job, ...errors }, detail: { tags: ['jobs'], summary: 'Cancel a live job attempt' } },
    );
}
