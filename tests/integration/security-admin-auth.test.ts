// The optional admin token guards every write (POST/PATCH/DELETE) over HTTP, while reads
// and client streams stay open; the body size limit answers 413 before parsing.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createLogger, setLogLevel } from '../../common/log';
import { parseCoordinatorConfig } from '../../coordinator/config';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/start-coordinator';
import { makeTempDir } from '../helpers/media';

const ADMIN = 'admin-token-0123456789';

describe('admin token and body limit', () => {
  const temp = makeTempDir('admin-auth');
  let coordinator: RunningCoordinator;
  let base: string;

  beforeAll(async () => {
    setLogLevel('silent');
    const config = parseCoordinatorConfig({
      TVARR_DATABASE_PATH: `${temp.dir}/db.sqlite`,
      TVARR_HTTP_HOST: '127.0.0.1',
      TVARR_HTTP_PORT: '0',
      TVARR_GRPC_ENABLED: 'false',
      TVARR_ADMIN_TOKEN: ADMIN,
      TVARR_API_MAX_BODY_BYTES: '4096',
    });
    coordinator = await startCoordinator(config, createLogger('coordinator'));
    base = `http://127.0.0.1:${coordinator.httpPort}`;
  });

  afterAll(async () => {
    await coordinator?.stop();
    temp.cleanup();
  });

  const source = { id: 'cam', name: 'Cam', url: 'testpattern:' };
  const send = (method: string, path: string, body?: unknown, token?: string) =>
    fetch(base + path, {
      method,
      headers: { 'content-type': 'application/json', ...(token !== undefined ? { authorization: token } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  test('writes without the token, or with a wrong one, get 401 and change nothing', async () => {
    for (const token of [undefined, 'Bearer wrong-token-123', `Basic ${ADMIN}`, ADMIN, `Bearer ${ADMIN}x`, 'Bearer ']) {
      const res = await send('POST', '/api/sources', source, token);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('unauthenticated');
      expect(JSON.stringify(body)).not.toContain(ADMIN);
    }
    expect(await (await fetch(`${base}/api/sources`)).json()).toEqual([]);
  });

  test('with the token, writes work; every write verb is guarded', async () => {
    expect((await send('POST', '/api/sources', source, `Bearer ${ADMIN}`)).status).toBe(201);
    expect((await send('PATCH', '/api/sources/cam', { name: 'x' })).status).toBe(401);
    expect((await send('DELETE', '/api/sources/cam')).status).toBe(401);
    expect((await send('POST', '/api/workers/nope/drain')).status).toBe(401);
    expect((await send('POST', '/api/jobs/nope/cancel')).status).toBe(401);
    expect((await send('PATCH', '/api/sources/cam', { name: 'Renamed' }, `bearer ${ADMIN}`)).status).toBe(200);
    expect((await send('POST', '/api/workers/nope/drain', undefined, `Bearer ${ADMIN}`)).status).toBe(404);
  });

  test('reads and client endpoints need no token', async () => {
    const sources = (await (await fetch(`${base}/api/sources`)).json()) as { name: string }[];
    expect(sources.map((s) => s.name)).toEqual(['Renamed']);
    expect((await fetch(`${base}/api/workers`)).status).toBe(200);
    expect((await fetch(`${base}/playlist.m3u`)).status).toBe(200);
    // No worker is connected: the stream answers 404/503 on its merits, not 401.
    expect((await fetch(`${base}/stream/cam/none`)).status).toBe(404);
  });

  test('the token never appears in any response', async () => {
    for (const path of ['/api/sources', '/api/workers', '/api/jobs', '/openapi/json', '/playlist.m3u']) {
      const text = await (await fetch(base + path)).text();
      expect(text).not.toContain(ADMIN);
    }
  });

  test('a body over TVARR_API_MAX_BODY_BYTES gets 413, with or without Content-Length', async () => {
    const big = JSON.stringify({ ...source, id: 'big', name: 'x'.repeat(10_000) });
    const res = await send('POST', '/api/sources', JSON.parse(big), `Bearer ${ADMIN}`);
    expect(res.status).toBe(413);
    // Chunked (no Content-Length): the server's own limit stops it.
    const chunked = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode(i === 0 ? big.slice(0, 2000) : 'x'.repeat(2000)));
        c.close();
      },
    });
    const res2 = await fetch(`${base}/api/sources`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: chunked,
    });
    expect(res2.status).toBe(413);
    expect(((await (await fetch(`${base}/api/sources`)).json()) as unknown[]).length).toBe(1);
  });

  test('in-process (app.handle) the same limit answers a JSON 413', async () => {
    const res = await coordinator.app.handle(
      new Request('http://local/api/sources', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': '5000', authorization: `Bearer ${ADMIN}` },
        body: 'x'.repeat(5000),
      }),
    );
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
  });
});
