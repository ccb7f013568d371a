// /api/variants: which variants are live, who feeds them, and why recent ones ended.
import { Elysia, t } from 'elysia';
import type { VariantRegistry } from '../../streams/variant-registry';
import type { ActiveJob } from '../../jobs/active-job';

const JobRef = t.Union([
  t.Object({ id: t.String(), workerId: t.String(), encoder: t.String(), attempt: t.Integer(), bytesIn: t.Number(), bytesOut: t.Number() }),
  t.Null(),
]);

const VariantView = t.Object({
  variant: t.String(),
  sourceId: t.String(),
  profileId: t.String(),
  clients: t.Integer(),
  job: JobRef,
  standby: JobRef,
  segment: t.Integer({ description: 'how many times the output was spliced to a new worker' }),
  lastError: t.Union([t.String(), t.Null()]),
});

const jobRef = (job: ActiveJob | null) =>
  job && { id: job.jobId, workerId: job.info.workerId, encoder: job.info.encoder, attempt: job.info.attempt, bytesIn: job.bytesIn, bytesOut: job.bytesOut };

export function variantRoutes(variants: VariantRegistry) {
  return new Elysia({ prefix: '/api' }).get(
    '/variants',
    () => ({
      live: variants.liveRuns().map((run) => ({
        variant: run.key,
        sourceId: run.source.id,
        profileId: run.profile.id,
        clients: run.clients,
        job: jobRef(run.currentJob),
        standby: jobRef(run.standbyJob),
        segment: run.buffer.segment,
        lastError: run.lastError,
      })),
      recentlyEnded: variants.recentlyEnded,
    }),
    {
      response: {
        200: t.Object({
          live: t.Array(VariantView),
          recentlyEnded: t.Array(t.Object({ variant: t.String(), reason: t.String(), endedAt: t.Number() })),
        }),
      },
      detail: { tags: ['streams'], summary: 'Live variants and recently ended ones with the reason' },
    },
  );
}
