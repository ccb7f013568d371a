// POST /api/workers/{id}/unquarantine: the operator's override of the quarantine circuit
// breaker (coordinator/workers/quarantine.ts). Admin-only like every write.
import { Elysia } from 'elysia';
import type { CoreContext } from '../../context';
import { liftQuarantine } from '../../workers/quarantine';
import { getWorkerView } from '../../workers/worker-views';
import type { WorkerRegistry } from '../../workers/worker-registry';
import { ErrorBody, IdParams, Worker } from '../schemas';

export function quarantineRoutes({ ctx, registry }: { ctx: CoreContext; registry: WorkerRegistry }) {
  const connected = Object.assign((id: string) => registry.get(id) !== undefined, { live: (id: string) => registry.live(id) });
  return new Elysia({ prefix: '/api' }).post(
    '/workers/:id/unquarantine',
    async ({ params }) => {
      await liftQuarantine(ctx, params.id);
      return getWorkerView(ctx.store, params.id, connected);
    },
    {
      params: IdParams,
      response: { 200: Worker, 401: ErrorBody, 404: ErrorBody, 422: ErrorBody },
      detail: {
        tags: ['workers'],
        summary: 'Lift a quarantine (or a withheld one): the worker takes jobs again and its fault count restarts',
        description:
          'Quarantine counts worker faults only: lost connections (one per loss event) and FFmpeg failures on a spec that runs on other workers. quarantinedUntil/quarantineReason on the worker show it; a reason with quarantinedUntil null means the breaker was withheld because the worker is the last one able to serve a codec.',
      },
    },
  );
}
