// /api/variants: which variants are live, who feeds them, and why recent ones ended.
// The reasons are the detail a stream client is not told (FFmpeg's error, which may quote
// the source URL or tell a missing file from an unreadable one): admins see them with
// credentials masked; without the token only the reason's first clause is shown.
import { Elysia, t } from 'elysia';
import { maskSecrets } from '../../streams/source-policy';
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
  owner: t.Union([t.String(), t.Null()], { description: 'the coordinator that owns it: the upstream connection and the job are its own (GET /api/cluster)' }),
  viewers: t.Object({ ts: t.Integer({ description: 'continuous MPEG-TS clients' }), hls: t.Integer({ description: 'HLS viewers (fetched within a few segment durations)' }) }),
  job: JobRef,
  standby: JobRef,
  segment: t.Integer({ description: 'how many times the output was spliced to a new producer (failover, drain, restart)' }),
  lastError: t.Union([t.String(), t.Null()]),
  source: t.Object({
    connected: t.Boolean({ description: 'the source is delivering now (false during an outage)' }),
    outageSince: t.Union([t.Number(), t.Null()], { description: 'when the current outage began; viewers are closed after TVARR_SOURCE_OUTAGE_LIMIT_MS' }),
    liveUrl: t.Integer({ description: '0 the primary URL, 1.. a backup' }),
    unsupported: t.Union([t.String(), t.Null()], { description: 'why the source program cannot be followed, if so' }),
  }),
  sourceRestarts: t.Integer({ description: 'new attempts started because the source changed (program, reconnect, switch)' }),
  lastSourceEvent: t.Union([t.Object({ kind: t.String(), detail: t.String(), at: t.Number(), restart: t.Boolean() }), t.Null()]),
  stalls: t.Integer({ description: 'attempts the stall watchdog restarted (no new media while the source sent)' }),
  lastStall: t.Union([t.Object({ at: t.Number(), reason: t.String() }), t.Null()]),
});

const jobRef = (job: ActiveJob | null) =>
  job && { id: job.jobId, workerId: job.info.workerId, encoder: job.info.encoder, attempt: job.info.attempt, bytesIn: job.bytesIn, bytesOut: job.bytesOut };

/** "start failed: source x is unreachable: ..." -> "start failed" for anonymous readers. */
const firstClause = (reason: string) => reason.split(':')[0]!.trim();

export function variantRoutes(variants: VariantRegistry, isAdmin: (request: Request) => boolean, hlsViewersOf: (variant: string) => number = () => 0, owner: string | null = null) {
  return new Elysia({ prefix: '/api' }).get(
    '/variants',
    ({ request }) => {
      const admin = isAdmin(request);
      const reason = (text: string, sourceUrl?: string) => (admin ? maskSecrets(text, sourceUrl) : firstClause(text));
      const sourceOf = (sourceId: string) => {
        const status = variants.sourceStatus(sourceId);
        return { connected: status?.connected ?? false, outageSince: status?.outageSince ?? null, liveUrl: status?.liveUrl ?? 0, unsupported: status?.unsupported ?? null };
      };
      return {
      live: variants.liveRuns().map((run) => ({
        variant: run.key,
        sourceId: run.source.id,
        profileId: run.profile.id,
        clients: run.clients,
        owner,
        // Each HLS viewer holds one of the variant's readers (coordinator/streams/hls/hls-variant.ts).
        viewers: { ts: run.clients - hlsViewersOf(run.key), hls: hlsViewersOf(run.key) },
        job: jobRef(run.currentJob),
        standby: jobRef(run.standbyJob),
        segment: run.buffer.segment,
        lastError: run.lastError === null ? null : reason(run.lastError, run.source.url),
        source: sourceOf(run.source.id),
        sourceRestarts: run.sourceRestarts,
        lastSourceEvent: run.lastSourceEvent && { ...run.lastSourceEvent, detail: reason(run.lastSourceEvent.detail, run.source.url) },
        stalls: run.watchdog.stalls,
        lastStall: run.lastStall && { at: run.lastStall.at, reason: reason(run.lastStall.reason, run.source.url) },
      })),
      recentlyEnded: variants.recentlyEnded.map((e) => ({ ...e, reason: reason(e.reason) })),
      };
    },
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
