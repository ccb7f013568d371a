// GET /api/workers/candidates: where the next job of a profile would go and why every
// other worker would not get it. Read-only; the ranking is the scheduler's own rules.
import { Elysia, t } from 'elysia';
import { getProfile } from '../../catalog/catalog-store';
import type { CoreContext } from '../../context';
import { EXCLUSION_CODES, explainCandidates } from '../../scheduler/explain-candidates';
import { loadWorkerFacts } from '../../scheduler/load-worker-facts';
import type { WorkerRegistry } from '../../workers/worker-registry';
import type { JobSupervisor } from '../../jobs/job-supervisor';
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
  rttMs: t.Union([t.Number(), t.Null()], { description: "the worker link's measured round-trip time (Ping/Pong on its control stream); null when not measured" }),
  linkCapacityKbps: t.Union([t.Number(), t.Null()], { description: 'what one job can carry over that link with the most job stream lanes, kbit/s' }),
});

const CandidatesResponse = t.Object({
  profile: t.Object({ id: t.String(), videoCodec: t.String(), encoderPreference: t.Union([t.String(), t.Null()]) }),
  evaluatedAt: t.Number({ description: 'epoch ms the quarantine rule was evaluated at' }),
  sourceKbps: t.Number({ description: "the source's measured bitrate the links were judged against (0 = no source given, or not connected)" }),
  candidates: t.Array(CandidateRow, { description: 'eligible workers by rank, then excluded workers by id' }),
});

export function schedulerRoutes({ ctx, registry, supervisor }: { ctx: CoreContext; registry: WorkerRegistry; supervisor?: JobSupervisor }) {
  return new Elysia({ prefix: '/api' }).get(
    '/workers/candidates',
    async ({ query }) => {
      const profile = await getProfile(ctx.store, query.profile);
      const now = ctx.clock.now();
      // With ?source= the links are judged against that source's measured bitrate.
      const sourceKbps = query.source ? (supervisor?.sourceKbps(query.source) ?? 0) : 0;
      const facts = (await loadWorkerFacts(ctx.store)).map((f) => ({ ...f, rttMs: registry.get(f.workerId)?.link.rttMs ?? null }));
      const explained = explainCandidates(facts, {
        codec: profile.videoCodec,
        preference: profile.encoderPreference,
        now,
        sourceKbps,
      });
      return {
        profile: { id: profile.id, videoCodec: profile.videoCodec, encoderPreference: profile.encoderPreference },
        evaluatedAt: now,
        sourceKbps,
        candidates: explained.map((c) => ({ ...c, connected: registry.get(c.workerId) !== undefined })),
      };
    },
    {
      query: t.Object({
        profile: t.String({ minLength: 1, maxLength: 128, description: 'profile id' }),
        source: t.Optional(t.String({ minLength: 1, maxLength: 128, description: "source id: judge each worker's link against this source's measured bitrate" })),
      }),
      response: { 200: CandidatesResponse, 404: ErrorBody, 422: ErrorBody },
      detail: {
        tags: ['workers'],
        summary: 'Scheduler candidates for a profile: rank of each eligible worker, or why it is excluded',
      },
    },
  );
}
