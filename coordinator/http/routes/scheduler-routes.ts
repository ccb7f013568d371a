// GET /api/workers/candidates: where the next job of a profile would go and why every
// other worker would not get it. Read-only; the ranking is the scheduler's own rules.
import { Elysia, t } from 'elysia';
import { getProfile } from '../../catalog/catalog-store';
import type { CoreContext } from '../../context';
import { EXCLUSION_CODES, explainCandidates } from '../../scheduler/explain-candidates';
import { loadWorkerFacts } from '../../scheduler/load-worker-facts';
import type { WorkerRegistry } from '../../workers/worker-registry';
import { ErrorBody } from '../schemas';

const ExclusionCode = t.UnionEnum(EXCLUSION_CODES, { description: 'the first scheduler rule this worker fails' });

const CandidateRow = t.Object({
  workerId: t.String(),
  name: t.String(),
  state: t.UnionEnum(['online', 'draining', 'offline']),
  connected: t.Boolean({ description: 'has an open control stream to this coordinator' }),
  rank: t.Union([t.Integer({ minimum: 1 }), t.Null()], { description: '1 = the next job goes here; null when excluded' }),
  encoder: t.Union([t.String(), t.Null()], { description: 'the encoder it would use' }),
  kind: t.Union([t.UnionEnum(['gpu', 'cpu']), t.Null()]),
  excluded: t.Union([t.Object({ code: ExclusionCode, reason: t.String() }), t.Null()], {
    description: 'why this worker cannot take the job (the first rule it fails)',
  }),
  jobs: t.Integer({ description: 'live jobs (pending or running)' }),
  gpuJobs: t.Integer(),
  cpuJobs: t.Integer(),
  maxJobs: t.Integer(),
  maxGpuJobs: t.Integer(),
  maxCpuJobs: t.Integer(),
  loadRatio: t.Number(),
  speedFps: t.Number(),
});

const CandidatesResponse = t.Object({
  profile: t.Object({ id: t.String(), videoCodec: t.String(), encoderPreference: t.Union([t.String(), t.Null()]) }),
  evaluatedAt: t.Number({ description: 'epoch ms the quarantine rule was evaluated at' }),
  candidates: t.Array(CandidateRow, { description: 'eligible workers by rank, then excluded workers by id' }),
});

export function schedulerRoutes({ ctx, registry }: { ctx: CoreContext; registry: WorkerRegistry }) {
  return new Elysia({ prefix: '/api' }).get(
    '/workers/candidates',
    ({ query }) => {
      const profile = getProfile(ctx.db, query.profile);
      const now = ctx.clock.now();
      const explained = explainCandidates(loadWorkerFacts(ctx.db), {
        codec: profile.videoCodec,
        preference: profile.encoderPreference,
        now,
      });
      return {
        profile: { id: profile.id, videoCodec: profile.videoCodec, encoderPreference: profile.encoderPreference },
        evaluatedAt: now,
        candidates: explained.map((c) => ({ ...c, connected: registry.get(c.workerId) !== undefined })),
      };
    },
    {
      query: t.Object({ profile: t.String({ minLength: 1, maxLength: 128, description: 'profile id' }) }),
      response: { 200: CandidatesResponse, 404: ErrorBody, 422: ErrorBody },
      detail: {
        tags: ['workers'],
        summary: 'Scheduler candidates for a profile: rank of each eligible worker, or why it is excluded',
      },
    },
  );
}
