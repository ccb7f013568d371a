// /api/ladders on a real coordinator (no workers; both engines): the profile routes'
// auth and error shapes, 422 naming the field, 409 for ids shared with profiles and for
// profiles a ladder lists, the OpenAPI document, /playlist.m3u, and the stream URL's
// ladder answers that need no worker (redirects, 400s, the DASH hook, 404 and 503).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createLogger, setLogLevel } from '../../common/log';
import { parseCoordinatorConfig } from '../../coordinator/config';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/start-coordinator';
import { makeTempDir } from '../helpers/media';
import { ENGINES, freshDatabaseEnv } from './scheduler-fixtures';

setLogLevel('silent');
const ADMIN = 'ladder-api-admin-token';

describe.each(ENGINES)('ladder API (%s)', (engine) => {
  const temp = makeTempDir('ladder-api');
  let c: RunningCoordinator;
  let base: string;

  const send = async (method: string, path: string, body?: unknown, token: string | null = ADMIN) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'manual',
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : null };
  };
  const profile = (id: string, width: number, height: number, extra: Record<string, unknown> = {}) =>
    send('POST', '/api/profiles', { id, name: `P ${id}`, videoCodec: 'h264', width, height, videoBitrateKbps: 200, audioBitrateKbps: 64, ...extra });

  beforeAll(async () => {
    const config = parseCoordinatorConfig({
      ...(await freshDatabaseEnv(engine, temp.dir, 'ladder_api')),
      TVARR_GRPC_ENABLED: 'false',
      TVARR_HTTP_HOST: '127.0.0.1',
      TVARR_HTTP_PORT: '0',
      TVARR_ADMIN_TOKEN: ADMIN,
    });
    c = await startCoordinator(config, createLogger('test'));
    base = `http://127.0.0.1:${c.httpPort}`;
    expect((await send('POST', '/api/sources', { id: 'pat', name: 'Pattern', url: 'testpattern:?size=320x180&rate=25' })).status).toBe(201);
    for (const [id, w, h] of [['l180', 320, 180], ['l144', 256, 144], ['l108', 192, 108]] as const) expect((await profile(id, w, h)).status).toBe(201);
  });
  afterAll(async () => {
    await c?.stop();
    temp.cleanup();
  });

  test('CRUD with the admin token; reads without it; writes without it are 401', async () => {
    const body = { id: 'abr', name: 'ABR', renditions: ['l180', 'l144', 'l108'] };
    expect((await send('POST', '/api/ladders', body, null)).status).toBe(401);
    const created = await send('POST', '/api/ladders', body);
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ ...body, createdAt: expect.any(Number) });
    expect((await send('GET', '/api/ladders', undefined, null)).json).toEqual([created.json]);
    expect((await send('GET', '/api/ladders/abr', undefined, null)).json).toEqual(created.json);
    expect((await send('GET', '/api/ladders/nope')).json).toEqual({ error: { code: 'not_found', message: "ladder 'nope' not found" } });
    expect((await send('POST', '/api/ladders', body)).status).toBe(409);

    expect((await send('POST', '/api/ladders', { id: 'tmp', name: 'Tmp', renditions: ['l108'] })).status).toBe(201);
    const patched = await send('PATCH', '/api/ladders/tmp', { name: 'Two', renditions: ['l144', 'l108'] });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ id: 'tmp', name: 'Two', renditions: ['l144', 'l108'] });
    expect((await send('PATCH', '/api/ladders/tmp', { name: 'x' }, null)).status).toBe(401);
    expect((await send('DELETE', '/api/ladders/tmp')).status).toBe(204);
    expect((await send('DELETE', '/api/ladders/tmp')).status).toBe(404);
  });

  test('422 naming the field: schema (count, id, unknown fields) and rules (unknown profile, copy, mixed audio, sizes, twice)', async () => {
    const post = (renditions: unknown, extra: Record<string, unknown> = {}) => send('POST', '/api/ladders', { id: 'bad', name: 'Bad', renditions, ...extra });
    const fieldOf = async (p: ReturnType<typeof post>) => {
      const r = await p;
      expect(r.status).toBe(422);
      return r.json.error as { code: string; message: string; field: string };
    };
    expect((await fieldOf(post([]))).field).toBe('renditions');
    expect((await fieldOf(post(Array.from({ length: 9 }, (_, i) => `p${i}`)))).field).toBe('renditions');
    expect((await fieldOf(send('POST', '/api/ladders', { id: 'Bad Id', name: 'x', renditions: ['l180'] }))).field).toBe('id');
    expect((await fieldOf(post(['l180'], { extra: 1 }))).code).toBe('invalid_request');

    expect(await fieldOf(post(['l180', 'x']))).toEqual({ code: 'invalid_spec', message: "body.renditions[1]: unknown profile 'x'", field: 'renditions[1]' });
    expect((await profile('remux', 0, 0, { videoCodec: 'copy', width: undefined, height: undefined, videoBitrateKbps: undefined, audioBitrateKbps: undefined })).status).toBe(201);
    expect((await fieldOf(post(['l180', 'remux']))).message).toContain('copies the source video');
    expect((await profile('dolby', 640, 360, { audioCodec: 'ac3', audioBitrateKbps: 192 })).status).toBe(201);
    const mixed = await fieldOf(post(['dolby', 'l180']));
    expect(mixed.field).toBe('renditions[1]');
    expect(mixed.message).toContain('players cannot switch between renditions with different audio');
    expect((await profile('l180b', 320, 180, { videoBitrateKbps: 400 })).status).toBe(201);
    expect((await fieldOf(post(['l180b', 'l144', 'l180']))).message).toContain("same size 320x180 as renditions[0] ('l180b')");
    expect((await fieldOf(post(['l180', 'l180']))).field).toBe('renditions[1]');
    expect((await profile('mp2v', 720, 576, { videoCodec: 'mpeg2video' })).status).toBe(201);
    expect((await fieldOf(post(['mp2v']))).message).toContain('mpeg2video');
    // PATCH checks again; the stored ladder is unchanged after a refusal.
    expect((await fieldOf(send('PATCH', '/api/ladders/abr', { renditions: ['l180', 'remux'] }))).field).toBe('renditions[1]');
    expect((await send('GET', '/api/ladders/abr')).json.renditions).toEqual(['l180', 'l144', 'l108']);
    expect((await send('GET', '/api/ladders/bad')).status).toBe(404);
  });

  test('409: ladder and profile ids never collide; a listed profile cannot be deleted or broken', async () => {
    const asLadder = await send('POST', '/api/ladders', { id: 'l180', name: 'x', renditions: ['l144'] });
    expect(asLadder.status).toBe(409);
    expect(asLadder.json.error).toMatchObject({ code: 'conflict', field: 'id', message: expect.stringContaining("id 'l180' is a profile's") });
    const asProfile = await profile('abr', 160, 90);
    expect(asProfile.status).toBe(409);
    expect(asProfile.json.error).toMatchObject({ code: 'conflict', field: 'id', message: expect.stringContaining("id 'abr' is a ladder's") });
    const del = await send('DELETE', '/api/profiles/l144');
    expect(del.status).toBe(409);
    expect(del.json.error.message).toContain("ladder 'abr'");
    const broken = await send('PATCH', '/api/profiles/l144', { width: 320, height: 180 });
    expect(broken.status).toBe(409);
    expect(broken.json.error.message).toContain("rendition of ladder 'abr'");
    expect((await send('GET', '/api/profiles/l144')).json.width).toBe(256);
  });

  test('the OpenAPI document lists the ladder routes with tags, summaries and schemas', async () => {
    const spec = (await (await fetch(`${base}/openapi/json`)).json()) as { paths: Record<string, Record<string, { tags?: string[]; summary?: string; requestBody?: unknown }>> };
    for (const [path, methods] of [['/api/ladders', ['get', 'post']], ['/api/ladders/{id}', ['get', 'patch', 'delete']]] as const) {
      for (const m of methods) {
        const op = spec.paths[path]?.[m];
        expect(op?.tags, `${m} ${path}`).toEqual(['ladders']);
        expect(op?.summary).toBeTruthy();
      }
    }
    expect(spec.paths['/api/ladders']!.post!.requestBody).toBeDefined();
  });

  test('/playlist.m3u lists every source x ladder at its multivariant playlist, after the profiles', async () => {
    const m3u = await send('GET', '/playlist.m3u', undefined, null);
    expect(m3u.status).toBe(200);
    const lines = m3u.text.trim().split('\n');
    const at = lines.indexOf(`${base}/stream/pat/abr.m3u8`);
    expect(at).toBeGreaterThan(0);
    expect(lines[at - 1]).toBe('#EXTINF:-1 tvg-id="pat" group-title="ABR",Pattern (ABR)');
    // ?format=hls changes the profiles' URLs only: the ladder entry is the same.
    expect((await send('GET', '/playlist.m3u?format=hls', undefined, null)).text).toContain(`${base}/stream/pat/abr.m3u8\n`);
    expect(lines.filter((l) => l.endsWith('/abr'))).toEqual([]);
  });

  test('stream URL answers that need no worker: redirects, 400 naming the field, DASH hook, 404, 503', async () => {
    const get = (path: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { headers, redirect: 'manual' });
    const apple = await get('/stream/pat/abr?session=s1', { 'user-agent': 'AppleCoreMedia/1.0.0.21A329 (iPhone; U; CPU OS 17_0 like Mac OS X)' });
    expect(apple.status).toBe(302);
    expect(apple.headers.get('location')).toBe('/stream/pat/abr.m3u8?session=s1');
    expect((await get('/stream/pat/abr?format=hls-fmp4')).headers.get('location')).toBe('/stream/pat/abr.m3u8?format=hls-fmp4');
    const wrong = await get('/stream/pat/abr?rendition=l180b');
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { error: { field: string } }).error.field).toBe('query.rendition');
    expect(((await (await get('/stream/pat/abr.m3u8?format=ts')).json()) as { error: { field: string } }).error.field).toBe('query.format');
    expect(((await (await get('/stream/pat/abr?format=nope')).json()) as { error: { field: string } }).error.field).toBe('query.format');
    // DASH starts the renditions the same way: no worker, 503.
    expect((await get('/stream/pat/abr.mpd')).status).toBe(503);
    expect((await get('/stream/pat/abr?format=dash')).status).toBe(302);
    // Every rendition starts through the profile opener: an unknown source is 404, no worker 503.
    expect((await get('/stream/nope/abr.m3u8')).status).toBe(404);
    const cold = await get('/stream/pat/abr.m3u8');
    expect(cold.status).toBe(503);
    expect((await get('/stream/pat/abr?rendition=l108')).status).toBe(503);
  });
});
