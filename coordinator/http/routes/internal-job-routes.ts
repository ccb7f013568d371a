// Jobs across coordinators (coordinator/cluster/peer-relay.ts), the receiving side:
//   POST /internal/worker-command  a job's owner asks this coordinator, which holds the
//                                  worker's Control stream, to send it StartJob or CancelJob
//   POST /internal/job-report      a worker's JobRejected / JobEnded, passed on to its owner
// Only with the cluster secret (401 otherwise). A StartJob is passed on only for the row it
// names: that attempt, pending, on that worker, owned by the asking coordinator (409 else),
// so a peer can never start a second producer or a job nobody claimed.
import { and, eq } from 'drizzle-orm';
import { Value } from '@sinclair/typebox/value';
import { Elysia, t } from 'elysia';
import { clusterSecretMatches, CLUSTER_SECRET_HEADER } from '../../cluster/cluster-secret';
import type { JobReportBody, WorkerCommandBody } from '../../cluster/peer-relay';
import type { CoreContext } from '../../context';
import type { JobSupervisor } from '../../jobs/job-supervisor';
import type { WorkerRegistry } from '../../workers/worker-registry';
import type { CoordinatorCommand } from '../../../proto/gen/tvarr/transcode/v1/CoordinatorCommand';
import { jsonError } from './stream-viewer';

const ID = { minLength: 1, maxLength: 128 };

const WorkerCommandSchema = t.Object(
  {
    ownerId: t.String(ID),
    workerId: t.String(ID),
    startJob: t.Optional(
      t.Object(
        {
          job_id: t.String(ID),
          attempt: t.Integer({ minimum: 0 }),
          spec: t.Record(t.String(), t.Unknown()),
          stream_lanes: t.Integer({ minimum: 0, maximum: 64 }),
          job_stream_address: t.String({ minLength: 3, maxLength: 255 }),
        },
        { additionalProperties: false },
      ),
    ),
    cancelJob: t.Optional(t.Object({ job_id: t.String(ID), attempt: t.Integer({ minimum: 0 }), reason: t.String({ maxLength: 500 }) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

const JobReportSchema = t.Object(
  {
    jobId: t.String(ID),
    attempt: t.Integer({ minimum: 0 }),
    workerId: t.String(ID),
    ended: t.Optional(t.Object({ state: t.Union([t.Literal('completed'), t.Literal('failed'), t.Literal('cancelled')]), reason: t.Union([t.String({ maxLength: 2000 }), t.Null()]) }, { additionalProperties: false })),
    rejected: t.Optional(t.Object({ reason: t.String({ maxLength: 2000 }) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

// Checked after the secret, so a caller without it learns nothing from the validation.
function invalid(schema: typeof WorkerCommandSchema | typeof JobReportSchema, body: unknown): Response | null {
  if (Value.Check(schema, body)) return null;
  const first = [...Value.Errors(schema, body)][0];
  return jsonError(422, 'invalid_request', `${first?.path || 'body'}: ${first?.message ?? 'invalid'}`);
}

export function internalJobRoutes(deps: { ctx: CoreContext; registry: WorkerRegistry; supervisor: JobSupervisor; secret: () => Promise<string> }) {
  const { ctx, registry, supervisor } = deps;
  const authorized = async (request: Request) => clusterSecretMatches(await deps.secret(), request.headers.get(CLUSTER_SECRET_HEADER));
  return new Elysia()
    .post(
      '/internal/worker-command',
      async ({ body, request }) => {
        if (!(await authorized(request))) return jsonError(401, 'unauthorized', 'internal cluster endpoint: coordinators only');
        const bad = invalid(WorkerCommandSchema, body);
        if (bad) return bad;
        const b = body as WorkerCommandBody;
        const session = registry.get(b.workerId);
        if (!session || session.closed) return jsonError(404, 'not_attached', `worker ${b.workerId} has no Control stream on this coordinator`);
        let command: CoordinatorCommand;
        if (b.startJob) {
          const { jobs } = ctx.store.t;
          const [row] = await ctx.store.db
            .select({ id: jobs.id })
            .from(jobs)
            .where(and(eq(jobs.id, b.startJob.job_id), eq(jobs.attempt, b.startJob.attempt), eq(jobs.workerId, b.workerId), eq(jobs.state, 'pending'), eq(jobs.coordinatorId, b.ownerId)))
            .limit(1);
          if (!row) return jsonError(409, 'conflict', `no pending attempt ${b.startJob.attempt} of job ${b.startJob.job_id} on worker ${b.workerId} owned by ${b.ownerId}`);
          command = { start_job: b.startJob as NonNullable<CoordinatorCommand['start_job']> };
          ctx.log.info('cluster: job of a peer started on a worker held here', { jobId: b.startJob.job_id, workerId: b.workerId, owner: b.ownerId, jobStream: b.startJob.job_stream_address });
        } else if (b.cancelJob) {
          command = { cancel_job: b.cancelJob };
        } else {
          return jsonError(422, 'invalid_request', 'startJob or cancelJob is required');
        }
        if (!session.send(command)) return jsonError(404, 'not_attached', `worker ${b.workerId}'s Control stream closed`);
        return { sent: true };
      },
      {
        body: t.Unknown(),
        detail: { hide: true },
      },
    )
    .post(
      '/internal/job-report',
      async ({ body, request }) => {
        if (!(await authorized(request))) return jsonError(401, 'unauthorized', 'internal cluster endpoint: coordinators only');
        const bad = invalid(JobReportSchema, body);
        if (bad) return bad;
        const b = body as JobReportBody;
        const fence = { jobId: b.jobId, attempt: b.attempt, workerId: b.workerId };
        // Fenced like the worker's own report: another worker's or attempt's id changes nothing.
        const accepted = b.rejected ? await supervisor.rejected(fence, b.rejected.reason) : b.ended ? await supervisor.workerReportedEnd(fence, { state: b.ended.state, reason: b.ended.reason }) : false;
        return { accepted };
      },
      {
        body: t.Unknown(),
        detail: { hide: true },
      },
    );
}
