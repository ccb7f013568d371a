// A coordinator on a network, attacked the way a web page or a curious client would:
// cross-site writes (no body, forms), DNS rebinding, local-file sources, probing the file
// system through stream errors, reading secrets from the API. Real coordinator and worker
// processes, real FFmpeg. After each hostile case the existing stream keeps flowing and
// the database holds what it held.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync, statSync } from 'node:fs';
import * as net from 'node:net';
import { TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { makeTempDir } from '../helpers/media';
import { BUN, LoggedProcess } from '../helpers/processes';
import { snapshotDb, StreamWatcher } from '../helpers/security';

const ROOT = new URL('../..', import.meta.url).pathname;
const SECRET = 'pa55w0rd-s3cret';
const QUERY_TOKEN = 'qtok-0123456789';

type ErrorJson = { error: { code: string; message: string; field?: string } };

/** One HTTP/1.1 request on a raw socket, so the Host header is exactly what a rebinding page would send. */
function rawRequest(port: number, lines: string[], body = ''): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    const finish = () => {
      socket.destroy();
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      resolve({ status, text: data.slice(data.indexOf('\r\n\r\n') + 4) });
    };
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      const head = data.indexOf('\r\n\r\n');
      if (head < 0) return;
      const length = /content-length: (\d+)/i.exec(data.slice(0, head));
      // A live stream never ends: its status line is all this test needs.
      if (!length || data.length - head - 4 >= Number(length[1])) finish();
    });
    socket.on('end', finish);
    socket.on('error', reject);
    const extra = body ? [`content-length: ${Buffer.byteLength(body)}`] : [];
    socket.write([...lines, ...extra, 'connection: close', '', body].join('\r\n'));
  });
}

describe('network defaults: cross-site, rebinding, sources, secrets', () => {
  const cluster = new TestCluster({ env: { TVARR_UPSTREAM_TIMEOUT_MS: '3000' } });
  let watcher: StreamWatcher;
  let baseline: Awaited<ReturnType<typeof snapshotDb>>;
  let provider: ReturnType<typeof Bun.serve>;
  let port: number;
  let admin: { authorization: string };

  beforeAll(async () => {
    await cluster.startCoordinator();
    port = Number(new URL(cluster.coordinator.httpUrl).port);
    admin = { authorization: `Bearer ${cluster.coordinator.adminToken}` };
    await cluster.startWorker('w1');
    // An IPTV provider that refuses this account: FFmpeg's error quotes the URL, credentials included.
    provider = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('no such channel', { status: 404 }) });
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createSource('iptv', `http://iptvuser:${SECRET}@127.0.0.1:${provider.port}/live/index.m3u8?token=${QUERY_TOKEN}`);
    await cluster.createProfile(TINY_H264_PROFILE);
    watcher = await StreamWatcher.open(`${cluster.coordinator.httpUrl}/stream/pattern/h264-240p`);
    await watcher.expectFlowing();
    baseline = await snapshotDb(cluster.coordinator);
  });

  afterAll(async () => {
    await watcher?.close();
    provider?.stop(true);
    await cluster.stop();
  });

  async function expectUnharmed(): Promise<void> {
    await watcher.expectFlowing();
    const now = await snapshotDb(cluster.coordinator);
    expect(now.sources).toEqual(baseline.sources);
    expect(now.profiles).toEqual(baseline.profiles);
    const before = new Map(baseline.jobs.map((j) => [j.id, j]));
    for (const j of now.jobs) if (before.has(j.id)) expect(j).toEqual(before.get(j.id)!);
    const workers = await cluster.coordinator.api<{ id: string; state: string }[]>('/api/workers');
    expect(workers.body.map((w) => w.state)).toEqual(['online']);
  }

  const post = (path: string, headers: Record<string, string>, body?: BodyInit) => fetch(cluster.coordinator.httpUrl + path, { method: 'POST', headers, body });

  test('a cross-origin POST without a body cannot drain a worker, whatever the token', async () => {
    const hostiles: Record<string, string>[] = [
      { origin: 'http://evil.example' },
      { 'sec-fetch-site': 'cross-site' },
      { origin: 'null' },
      { origin: `http://127.0.0.1:${port + 1}`, 'sec-fetch-site': 'same-site' },
    ];
    for (const hostile of hostiles) {
      const res = await post('/api/workers/test-w1/drain', { ...admin, ...hostile });
      expect(res.status).toBe(403);
      expect(((await res.json()) as ErrorJson).error.code).toBe('cross_site_request');
    }
    // The coordinator's own origin with the token is let through (to a worker that does not exist).
    expect((await post('/api/workers/nope/drain', { ...admin, origin: cluster.coordinator.httpUrl, 'sec-fetch-site': 'same-origin' })).status).toBe(404);
    // Without the token nothing is written, even same-origin.
    expect((await post('/api/workers/test-w1/drain', { origin: cluster.coordinator.httpUrl })).status).toBe(401);
    await expectUnharmed();
  });

  test('an HTML form (urlencoded, multipart, text/plain) cannot create a source', async () => {
    const form = new FormData();
    for (const [k, v] of Object.entries({ id: 'formed', name: 'formed', url: TINY_PATTERN_URL })) form.set(k, v);
    const bodies: [string, BodyInit, Record<string, string>][] = [
      ['urlencoded', 'id=formed&name=formed&url=testpattern%3A', { 'content-type': 'application/x-www-form-urlencoded' }],
      ['multipart', form, {}],
      ['text/plain', JSON.stringify({ id: 'formed', name: 'formed', url: TINY_PATTERN_URL }), { 'content-type': 'text/plain' }],
    ];
    for (const [label, body, headers] of bodies) {
      const res = await post('/api/sources', { ...admin, ...headers }, body);
      expect(`${label}: ${res.status}`).toBe(`${label}: 415`);
      expect(((await res.json()) as ErrorJson).error.code).toBe('unsupported_media_type');
      // The browser's real form post also carries a foreign Origin: refused before the type.
      const crossSite = await post('/api/sources', { ...headers, origin: 'http://evil.example' }, body instanceof FormData ? form : body);
      expect(crossSite.status).toBe(403);
    }
    await expectUnharmed();
  });

  test('DNS rebinding: a foreign Host name is refused; IP addresses and own names are served', async () => {
    const rebound = await rawRequest(port, ['GET /api/sources HTTP/1.1', `host: rebind.evil.example:${port}`]);
    expect(rebound.status).toBe(403);
    expect((JSON.parse(rebound.text) as ErrorJson).error.code).toBe('host_not_allowed');
    expect(rebound.text).not.toContain('iptvuser');
    const write = await rawRequest(port, ['POST /api/workers/test-w1/drain HTTP/1.1', 'host: rebind.evil.example', `authorization: ${admin.authorization}`]);
    expect(write.status).toBe(403);
    // LAN players reach it by IP (any: NAT and port mappings included) or by its own names.
    for (const host of [`192.168.77.5:${port}`, `127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      expect((await rawRequest(port, ['GET /playlist.m3u HTTP/1.1', `host: ${host}`])).status).toBe(200);
      expect((await rawRequest(port, ['GET /api/workers HTTP/1.1', `host: ${host}`])).status).toBe(200);
    }
    expect((await rawRequest(port, ['GET /stream/pattern/h264-240p HTTP/1.1', `host: 10.1.2.3:${port}`])).status).toBe(200);
    await expectUnharmed();
  });

  test('file:, udp:, rtsp: ... sources are refused by default (422 naming url), on create and on update', async () => {
    for (const url of ['file:/etc/passwd', 'file:///etc/shadow', 'udp://0.0.0.0:5000', 'rtsp://10.0.0.9/cam', 'srt://10.0.0.9:9000', 'rtmp://10.0.0.9/live']) {
      const res = await cluster.coordinator.api<ErrorJson>('/api/sources', { method: 'POST', body: JSON.stringify({ id: 'local', name: 'local', url }) });
      expect(`${url}: ${res.status}`).toBe(`${url}: 422`);
      expect(res.body.error.field).toBe('url');
      expect(res.body.error.message).toContain('TVARR_SOURCE_SCHEMES');
    }
    const patched = await cluster.coordinator.api<ErrorJson>('/api/sources/pattern', { method: 'PATCH', body: JSON.stringify({ url: 'file:/etc/passwd' }) });
    expect(patched.status).toBe(422);
    expect(patched.body.error.field).toBe('url');
    await expectUnharmed();
  });

  test('without the token, source URLs show masked credentials and worker addresses are hidden', async () => {
    const anonymous = await (await fetch(`${cluster.coordinator.httpUrl}/api/sources`)).text();
    expect(anonymous).not.toContain(SECRET);
    expect(anonymous).not.toContain(QUERY_TOKEN);
    const iptv = ((await (await fetch(`${cluster.coordinator.httpUrl}/api/sources/iptv`)).json()) as { url: string }).url;
    expect(iptv).toBe(`http://iptvuser:***@127.0.0.1:${provider.port}/live/index.m3u8?token=***`);
    // The admin sees what they stored.
    expect(JSON.stringify((await cluster.coordinator.api('/api/sources')).body)).toContain(SECRET);

    for (const path of ['/api/workers', '/api/workers/test-w1', '/api/cluster']) {
      const text = await (await fetch(cluster.coordinator.httpUrl + path)).text();
      expect(text).not.toContain('127.0.0.1:'); // the worker's address (host:port)
      expect(text).toContain('redacted');
      expect(JSON.stringify((await cluster.coordinator.api(path)).body)).toContain('127.0.0.1');
    }
    await expectUnharmed();
  });

  test('a failing source with credentials: generic 503 for the client, masked detail for admins, nothing in the log', async () => {
    const res = await fetch(`${cluster.coordinator.httpUrl}/stream/iptv/h264-240p`);
    expect(res.status).toBe(503);
    const body = await res.text();
    expect((JSON.parse(body) as ErrorJson).error.code).toBe('source_unavailable');
    for (const leak of [SECRET, QUERY_TOKEN, 'iptvuser', String(provider.port), '404']) expect(body).not.toContain(leak);

    // Admins get the reason (FFmpeg's), credentials masked; anonymous readers only its first clause.
    const variants = await cluster.coordinator.api<{ recentlyEnded: { variant: string; reason: string }[] }>('/api/variants');
    const ended = variants.body.recentlyEnded.find((e) => e.variant === 'iptv/h264-240p')!;
    expect(ended.reason).toContain('404');
    expect(ended.reason).not.toContain(SECRET);
    expect(ended.reason).not.toContain(QUERY_TOKEN);
    const anonymous = (await (await fetch(`${cluster.coordinator.httpUrl}/api/variants`)).json()) as typeof variants.body;
    expect(anonymous.recentlyEnded.find((e) => e.variant === 'iptv/h264-240p')!.reason).toBe('start failed');

    const interrupted = await cluster.coordinator.proc.waitForLog((l) => l.msg === 'source upstream interrupted' && l.sourceId === 'iptv');
    expect(String(interrupted.reason)).toContain('iptvuser:***@');
    const log = cluster.coordinator.proc.lines.map((l) => JSON.stringify(l)).join('\n');
    expect(log).not.toContain(SECRET);
    expect(log).not.toContain(QUERY_TOKEN);
    await expectUnharmed();
  });
});

describe('a fresh start without TVARR_ADMIN_TOKEN; file sources when allowed', () => {
  const temp = makeTempDir('fresh');
  const dataDir = `${temp.dir}/data`;
  const procs: LoggedProcess[] = [];

  /** coordinator/main.ts with stdout captured (the banner) besides the JSON log on stderr. */
  async function start(): Promise<{ proc: LoggedProcess; stdout: () => string; base: string }> {
    const child = Bun.spawn([BUN, 'coordinator/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        TVARR_LOG_LEVEL: 'debug',
        TVARR_ADMIN_TOKEN: '',
        TVARR_DATABASE_PATH: `${dataDir}/tvarr.db`,
        TVARR_HTTP_HOST: '127.0.0.1',
        TVARR_HTTP_PORT: '0',
        TVARR_GRPC_ENABLED: 'false',
        TVARR_SOURCE_SCHEMES: 'file',
        TVARR_UPSTREAM_TIMEOUT_MS: '3000',
      },
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const proc = new LoggedProcess('coordinator-fresh', child);
    procs.push(proc);
    let out = '';
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stdout) out += decoder.decode(chunk, { stream: true });
    })();
    const ready = await proc.waitForMsg('coordinator listening', 30_000);
    const base = `http://127.0.0.1:${ready.httpPort}`;
    return { proc, stdout: () => out, base };
  }

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    temp.cleanup();
  });

  let token = '';
  let base = '';

  test('generates a token at first start: file mode 0600, printed once on stdout, never logged; writes need it', async () => {
    const first = await start();
    base = first.base;
    const file = `${dataDir}/admin-token`;
    expect(statSync(file).mode & 0o777).toBe(0o600);
    token = readFileSync(file, 'utf8').trim();
    expect(token.length).toBeGreaterThanOrEqual(32);
    const deadline = Date.now() + 10_000;
    while (!first.stdout().includes(token) && Date.now() < deadline) await Bun.sleep(20);
    expect(first.stdout().split(token).length - 1).toBe(1);
    expect(first.proc.lines.map((l) => JSON.stringify(l)).join('\n')).not.toContain(token);

    const json = (t?: string) => ({ 'content-type': 'application/json', ...(t ? { authorization: `Bearer ${t}` } : {}) });
    expect((await fetch(`${base}/api/profiles`, { method: 'POST', headers: json(), body: JSON.stringify(TINY_H264_PROFILE) })).status).toBe(401);
    expect((await fetch(`${base}/api/profiles`, { method: 'POST', headers: json(token), body: JSON.stringify(TINY_H264_PROFILE) })).status).toBe(201);
    for (const [id, url] of [
      ['shadow', 'file:/etc/shadow'],
      ['missing', `file:${temp.dir}/no-such-file.ts`],
    ]) {
      expect((await fetch(`${base}/api/sources`, { method: 'POST', headers: json(token), body: JSON.stringify({ id, name: id, url }) })).status).toBe(201);
    }

    // A restart reuses the token and does not print it again.
    await first.proc.stop();
    const second = await start();
    base = second.base;
    expect(readFileSync(file, 'utf8').trim()).toBe(token);
    const deadline2 = Date.now() + 10_000;
    while (!second.stdout().includes('Admin token') && Date.now() < deadline2) await Bun.sleep(20);
    expect(second.stdout()).toContain(file);
    expect(second.stdout()).not.toContain(token);
    expect((await fetch(`${base}/api/sources/shadow`, { method: 'PATCH', headers: json(token), body: JSON.stringify({ name: 'Shadow' }) })).status).toBe(200);
  });

  test('/etc/shadow and a missing file give a stream client the same answer', async () => {
    const [shadow, missing] = await Promise.all(['shadow', 'missing'].map((id) => fetch(`${base}/stream/${id}/h264-240p`)));
    const [a, b] = [await shadow!.text(), await missing!.text()];
    expect(shadow!.status).toBe(503);
    expect(missing!.status).toBe(503);
    expect(a).toBe(b);
    expect((JSON.parse(a) as ErrorJson).error.code).toBe('source_unavailable');
    // The admin can still find out which is which.
    const variants = (await (await fetch(`${base}/api/variants`, { headers: { authorization: `Bearer ${token}` } })).json()) as { recentlyEnded: { variant: string; reason: string }[] };
    const reasons = Object.fromEntries(variants.recentlyEnded.map((e) => [e.variant, e.reason]));
    expect(reasons['missing/h264-240p']).toContain('No such file');
    expect(reasons['shadow/h264-240p']).not.toContain('No such file');
  });
});
