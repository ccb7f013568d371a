// /api/ladders: sets of profiles (renditions, top first) that adaptive players switch
// between, served at /stream/{source}/{ladder}.m3u8 (ladder-stream.ts). Same auth, error
// shapes and OpenAPI treatment as the profile routes; the rules live in
// coordinator/catalog/ladder-checks.ts.
import { Elysia, t } from 'elysia';
import { createCheckedLadder, updateCheckedLadder } from '../../catalog/ladder-checks';
import { deleteLadder, getLadder, listLadders } from '../../catalog/ladder-store';
import type { CoreContext } from '../../context';
import { ErrorBody, IdParams, Ladder, LadderBody, LadderPatch } from '../schemas';

const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody };

export function ladderRoutes(ctx: CoreContext) {
  const db = ctx.store;
  return new Elysia({ prefix: '/api' })
    .get('/ladders', () => listLadders(db), { response: { 200: t.Array(Ladder) }, detail: { tags: ['ladders'], summary: 'List ladders' } })
    .post('/ladders', async ({ body, set }) => { const row = await createCheckedLadder(db, body, ctx.clock.now()); set.status = 201; return row; }, {
      body: LadderBody,
      response: { 201: Ladder, ...errors },
      detail: {
        tags: ['ladders'],
        summary: 'Create a ladder',
        description:
          'Renditions are profile ids, top first: each encoded h264 or hevc (no copy), all with the same audio codec, no two of one size. ' +
          'A rule broken is a 422 naming the rendition (`renditions[1]`); an id that a profile has is a 409.',
      },
    })
    .get('/ladders/:id', ({ params }) => getLadder(db, params.id), {
      params: IdParams,
      response: { 200: Ladder, ...errors },
      detail: { tags: ['ladders'], summary: 'Get a ladder' },
    })
    .patch('/ladders/:id', ({ params, body }) => updateCheckedLadder(db, params.id, body), {
      params: IdParams,
      body: LadderPatch,
      response: { 200: Ladder, ...errors },
      detail: { tags: ['ladders'], summary: 'Update a ladder (renditions are checked again)' },
    })
    .delete('/ladders/:id', async ({ params, set }) => (await deleteLadder(db, params.id), (set.status = 204), undefined), {
      params: IdParams,
      response: { 204: t.Void(), ...errors },
      detail: { tags: ['ladders'], summary: 'Delete a ladder (its renditions stay as profiles)' },
    });
}
