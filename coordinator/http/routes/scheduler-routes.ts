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
import { getLadder } from '../../catalog/ladder-store';
import { canShareJob } from '../../jobs/ladder-jobs';
import type { ProfileRow } from '../../jobs/transcode-spec';

/** How a ladder's renditions would be placed now, and why (jobs/ladder-jobs.ts decides the same way). */
function ladderPlacement(id: string, renditions: ProfileRow[], oneJobPossible: boolean, enabled: boolean, candidates: { rank: number | null; workerId: string }[]) {
  const base = { id, renditions: renditions.map((p) => p.id), slots: oneJobPossible ? renditions.length : 1 };
  if (!enabled) return { ...base, placement: 'separate jobs' as const, reason: 'ladder jobs are off (TVARR_LADDER_JOBS=false)' };
  if (!oneJobPossible) {
    return { ...base, placement: 'separate jobs' as const, reason: 'one job needs two or more renditions of one codec and encoder preference' };
  }
  const top = candidates.find((c) => c.rank === 1);
  if (!top) return { ...base, placement: 'separate jobs' as const, reason: `no worker takes the whole ladder (${renditions.length} free slots and ladder jobs of ${renditions.length}); each rendition goes where a profile would` };
  return { ...base, placement: 'one job' as const, reason: `one job on ${top.workerId}: one decode, ${renditions.length} encoders, ${renditions.length} slots` };
}

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

const LadderPlacement = t.Object(
  {
    id: t.String(),
    renditions: t.Array(t.String(), { description: 'profile ids, top first' }),
    slots: t.Integer({ description: 'slots a ladder job takes: one per rendition (one encoder each)' }),
    placement: t.UnionEnum(['one job', 'separate jobs'], { description: "'one job': a worker ranked here takes the whole ladder (one decode); 'separate jobs': each rendition is placed as a profile of its own" }),
    reason: t.String({ description: 'why this placement' }),
  },
  { description: "with ?ladder=: the ladder job's placement; the candidates are ranked for the ladder job (codec of its renditions, `slots` free slots, ladder jobs that large)" },
);

const CandidatesResponse = t.Object({
  profile: t.Object({ id: t.String(), videoCodec: t.String(), encoderPreference: t.Union([t.String(), t.Null()]) }, { description: "the profile (with ?ladder=: the ladder's first rendition)" }),
  ladder: t.Optional(LadderPlacement),
  evaluatedAt: t.Number({ description: 'epoch ms the quarantine rule was evaluated at' }),
  sourceKbps: t.Number({ description: "the source's measured bitrate the links were judged against (0 = no source given, or not connected)" }),
  candidates: t.Array(CandidateRow, { description: 'eligible workers by rank, then excluded workers by id' }),
});

export function schedulerRoutes({ ctx, registry, supervisor }: { ctx: CoreContext; registry: WorkerRegistry; supervisor?: JobSupervisor }) {
  return new Elysia({ prefix: '/api' }).get(
    '/workers/candidates',
    async ({ query, status }) => {
      if (!query.profile === !query.ladder) {
        // As a missing required query parameter always was: 422 naming it.
        return status(422, { error: { code: 'invalid_request', message: 'query: give exactly one of profile (a profile id) and ladder (a ladder id)', field: 'query.profile' } });
      }
      const ladder = query.ladder ? await getLadder(ctx.store, query.ladder) : null;
      const renditions = ladder ? await Promise.all(ladder.renditions.map((id) => getProfile(ctx.store, id))) : [];
      const profile = ladder ? renditions[0]! : await getProfile(ctx.store, query.profile!);
      const oneJobPossible = ladder !== null && ctx.config.ladderJobs && canShareJob(renditions);
      const slots = oneJobPossible ? renditions.length : 1;
      const now = ctx.clock.now();
      // With ?source= the links are judged against that source's measured bitrate.
      const sourceKbps = query.source ? (supervisor?.sourceKbps(query.source) ?? 0) : 0;
      const facts = (await loadWorkerFacts(ctx.store)).map((f) => {
        const session = registry.get(f.workerId);
        return { ...f, rttMs: session?.link.rttMs ?? null, maxRenditions: session?.maxRenditions ?? 0 };
      });
      const explained = explainCandidates(facts, { codec: profile.videoCodec, preference: profile.encoderPreference, now, sourceKbps, slots });
      const candidates = explained.map((c) => ({ ...c, connected: registry.get(c.workerId) !== undefined }));
      return {
        profile: { id: profile.id, videoCodec: profile.videoCodec, encoderPreference: profile.encoderPreference },
        ...(ladder ? { ladder: ladderPlacement(ladder.id, renditions, oneJobPossible, ctx.config.ladderJobs, candidates) } : {}),
        evaluatedAt: now,
        sourceKbps,
        candidates,
      };
    },
    {
      query: t.Object({
        profile: t.Optional(t.String({ minLength: 1, maxLength: 128, description: 'profile id (or give ladder)' })),
        ladder: t.Optional(t.String({ minLength: 1, maxLength: 128, description: 'ladder id: where its ladder job (one decode, a slot per rendition) would go, or why its renditions run as separate jobs' })),
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
