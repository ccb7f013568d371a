// /api/sources and /api/profiles. Source URLs often embed an IPTV account
// (http://user:pass@host/...?token=...): without the admin token they are shown masked.
// A URL must pass the source policy (coordinator/streams/source-policy.ts) to be stored.
import { Elysia, t, type Static } from 'elysia';
import * as catalog from '../../catalog/catalog-store';
import { createCheckedProfile, deleteCheckedProfile, updateCheckedProfile } from '../../catalog/profile-checks';
import type { CoreContext } from '../../context';
import { maskUrl, sourceUrlProblem } from '../../streams/source-policy';
import type { IsAdmin } from '../app';
import { ErrorBody, IdParams, Profile, ProfileBody, ProfilePatch, Source, SourceBody, SourcePatch, SourceStatus } from '../schemas';

const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody };

type SourceRow = catalog.SourceRow;
/** The live upstream's state of a source (URLs, outage, events), or null while none runs. */
export type SourceStatusOf = (sourceId: string) => Static<typeof SourceStatus>;
const redacted = (s: SourceRow): SourceRow => ({ ...s, url: maskUrl(s.url), backupUrls: s.backupUrls.map(maskUrl) });

export function catalogRoutes(ctx: CoreContext, isAdmin: IsAdmin, statusOf: SourceStatusOf = () => null) {
  const db = ctx.store;
  const now = () => ctx.clock.now();
  const view = (request: Request, s: SourceRow) => ({ ...(isAdmin(request) ? s : redacted(s)), status: statusOf(s.id) });
  /** 422 naming `url` (or `backupUrls`) when the source policy refuses one; undefined when they may be stored. */
  const refuseUrl = (body: { url?: string; backupUrls?: string[] }, set: { status?: number | string }) => {
    const refuse = (field: string, problem: string) => {
      set.status = 422;
      return { error: { code: 'invalid_request', message: `body.${field}: ${problem}`, field } };
    };
    const problem = body.url === undefined ? null : sourceUrlProblem(body.url, ctx.config.sourceSchemes);
    if (problem !== null) return refuse('url', problem);
    for (const [i, backup] of (body.backupUrls ?? []).entries()) {
      const backupProblem = sourceUrlProblem(backup, ctx.config.sourceSchemes);
      if (backupProblem !== null) return refuse('backupUrls', `[${i}] ${backupProblem}`);
    }
    if (body.backupUrls && new Set(body.backupUrls).size !== body.backupUrls.length) return refuse('backupUrls', 'lists one URL twice');
    if (body.url !== undefined && body.backupUrls?.includes(body.url)) return refuse('backupUrls', 'repeats the primary url');
    return undefined;
  };
  return new Elysia({ prefix: '/api' })
    .get('/sources', async ({ request }) => (await catalog.listSources(db)).map((s) => view(request, s)), { response: { 200: t.Array(Source) }, detail: { tags: ['sources'], summary: 'List sources' } })
    .post('/sources', async ({ body, set }) => refuseUrl(body, set) ?? ((set.status = 201), await catalog.createSource(db, body, now())), {
      body: SourceBody,
      response: { 201: Source, ...errors },
      detail: { tags: ['sources'], summary: 'Create a source' },
    })
    .get('/sources/:id', async ({ params, request }) => view(request, await catalog.getSource(db, params.id)), {
      params: IdParams,
      response: { 200: Source, ...errors },
      detail: { tags: ['sources'], summary: 'Get a source' },
    })
    .patch('/sources/:id', async ({ params, body, set }) => refuseUrl(body, set) ?? (await catalog.updateSource(db, params.id, body)), {
      params: IdParams,
      body: SourcePatch,
      response: { 200: Source, ...errors },
      detail: { tags: ['sources'], summary: 'Update a source' },
    })
    .delete('/sources/:id', async ({ params, set }) => (await catalog.deleteSource(db, params.id), (set.status = 204), undefined), {
      params: IdParams,
      response: { 204: t.Void(), ...errors },
      detail: { tags: ['sources'], summary: 'Delete a source' },
    })
    .get('/profiles', () => catalog.listProfiles(db), { response: { 200: t.Array(Profile) }, detail: { tags: ['profiles'], summary: 'List profiles' } })
    .post('/profiles', async ({ body, set }) => { const row = await createCheckedProfile(db, body, now()); set.status = 201; return row; }, {
      body: ProfileBody,
      response: { 201: Profile, ...errors },
      detail: { tags: ['profiles'], summary: 'Create a profile' },
    })
    .get('/profiles/:id', ({ params }) => catalog.getProfile(db, params.id), {
      params: IdParams,
      response: { 200: Profile, ...errors },
      detail: { tags: ['profiles'], summary: 'Get a profile' },
    })
    .patch('/profiles/:id', ({ params, body }) => updateCheckedProfile(db, params.id, body), {
      params: IdParams,
      body: ProfilePatch,
      response: { 200: Profile, ...errors },
      detail: { tags: ['profiles'], summary: 'Update a profile' },
    })
    .delete('/profiles/:id', async ({ params, set }) => (await deleteCheckedProfile(db, params.id), (set.status = 204), undefined), {
      params: IdParams,
      response: { 204: t.Void(), ...errors },
      detail: { tags: ['profiles'], summary: 'Delete a profile' },
    });
}
