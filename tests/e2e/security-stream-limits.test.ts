// Bounds on what HTTP clients can hold (issue 12): a burst on a cold variant, a 503 that
// must let the source go, half-sent requests, a client that stops reading, names that
// would inject playlist entries, and prototype names in the asset route. A client keeps
// streaming throughout; after each case it still flows and the database holds what it held.
import { Database } from 'bun:sqlite';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import * as net from 'node:net';
import { TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { startLoopingTsServer, type LoopingTsServer } from '../helpers/looping-ts-server';
import { makeTestClip } from '../helpers/media';
import { eventually, LoggedProcess } from '../helpers/processes';
import { snapshotDb, StreamWatcher } from '../helpers/security';

type Snapshot = Awaited<ReturnType<typeof snapshotDb>>;
type Variants = { live: { variant: string; clients: number; job: { id: string } | null }[] };
type ErrorBody = { error: { code: string; message: string; field?: string } };

// The test workers have no GPU: no worker can serve this profile.
const NO_WORKER_PROFILE = { ...TINY_H264_PROFILE, id: 'nobody', name: 'Nobody can encode', encoderPreference: 'gpu', preset: null };

/** Resolves when the server closes a connection that sent `payload` and nothing more. */
function closedAfterPartialRequest(httpUrl: string, payload: string, timeoutMs: number): Promise<number> {
  const { hostname, port } = new URL(httpUrl);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(Number(port), hostname, () => socket.write(payload));
    socket.on('data', () => {});
    socket.on('error', () => {});
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connection with a partial request still open after ${timeoutMs} ms: ${JSON.stringify(payload.slice(0, 60))}`));
    }, timeoutMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

describe('stream and HTTP limits', () => {
  const cluster = new TestCluster({
    env: {
      TVARR_MAX_CLIENTS_PER_VARIANT: '2',
      TVARR_HTTP_IDLE_TIMEOUT_S: '2',
      TVARR_STALLED_CLIENT_TIMEOUT_MS: '2000',
      TVARR_BUFFER_BYTES: '65536',
      TVARR_IDLE_GRACE_MS: '1000',
    },
  });
  let watcher: StreamWatcher;
  let baseline: Snapshot;
  let source: LoopingTsServer;
  const started: LoggedProcess[] = [];

  beforeAll(async () => {
    await cluster.startCoordinator();
    await cluster.startWorker('w1', { TVARR_MAX_CPU_JOBS: '3', TVARR_MAX_JOBS: '3' });
    await makeTestClip(`${cluster.temp.dir}/clip.ts`);
    source = startLoopingTsServer(`${cluster.temp.dir}/clip.ts`);
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createSource('cold', TINY_PATTERN_URL);
    await cluster.createSource('stalled', TINY_PATTERN_URL);
    await cluster.createSource('counted', source.url);
    await cluster.createProfile(TINY_H264_PROFILE);
    await cluster.createProfile(NO_WORKER_PROFILE);
    watcher = await StreamWatcher.open(`${cluster.coordinator.httpUrl}/stream/pattern/h264-240p`);
    await watcher.expectFlowing();
  }, 120_000);

  afterAll(async () => {
    await watcher?.close();
    for (const p of started) await p.stop();
    source?.stop();
    await cluster.stop();
  });

  /** The database once only the watcher's job is live (an earlier case's jobs have ended). */
  function settledSnapshot(): Promise<Snapshot> {
    return eventually(
      'no live job but the watcher\'s',
      async () => {
        const snap = await snapshotDb(cluster.coordinator);
        return snap.jobs.some((j) => j.sourceId !== 'pattern' && (j.state === 'running' || j.state === 'pending')) ? false : snap;
      },
      30_000,
    );
  }

  // Each case starts from the state the previous one left, so one failure does not cascade.
  beforeEach(async () => {
    baseline = await settledSnapshot();
  });

  /**
   * Still serving, and nothing in the database changed except jobs of the named sources
   * (whose clients are gone, so those jobs must have ended).
   */
  async function expectUnharmed(allowJobsFor: string[] = []): Promise<void> {
    await watcher.expectFlowing();
    const now = await settledSnapshot();
    expect(now.sources).toEqual(baseline.sources);
    expect(now.profiles).toEqual(baseline.profiles);
    const before = new Map(baseline.jobs.map((j) => [j.id, j]));
    for (const j of now.jobs) {
      if (before.has(j.id)) expect(j).toEqual(before.get(j.id)!);
      else expect(allowJobsFor).toContain(j.sourceId);
    }
    expect(now.jobs.filter((j) => before.has(j.id))).toHaveLength(baseline.jobs.length);
  }

  test('20 concurrent requests on a cold variant with TVARR_MAX_CLIENTS_PER_VARIANT=2: exactly 2 streams', async () => {
    const url = `${cluster.coordinator.httpUrl}/stream/cold/h264-240p`;
    const responses = await Promise.all(Array.from({ length: 20 }, () => fetch(url)));
    const ok = responses.filter((r) => r.status === 200);
    const refused = await Promise.all(responses.filter((r) => r.status !== 200).map(async (r) => ({ status: r.status, body: (await r.json()) as ErrorBody })));
    if (ok.length !== 2) console.error("refused:", JSON.stringify([...new Set(refused.map((r) => `${r.status} ${r.body.error.message}`))]));
    expect({ ok: ok.length, refused: refused.length }).toEqual({ ok: 2, refused: 18 });
    for (const r of refused) {
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('no_capacity');
      expect(r.body.error.message).toContain('TVARR_MAX_CLIENTS_PER_VARIANT');
    }
    // The two admitted clients get media.
    for (const r of ok) {
      const reader = r.body!.getReader();
      let bytes = 0;
      while (bytes < 10_000) bytes += (await reader.read()).value?.byteLength ?? 0;
      await reader.cancel();
    }
    await expectUnharmed(['cold']);
  });

  test('a stream that answers 503 (no worker can encode) releases the source connection after the idle grace', async () => {
    const res = await fetch(`${cluster.coordinator.httpUrl}/stream/counted/nobody`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as ErrorBody).error.code).toBe('no_capacity');
    expect(source.connections).toBeGreaterThanOrEqual(1);
    await eventually('the source connection closed', () => source.open === 0, 15_000);
    await expectUnharmed();
  });

  test('half-sent requests (headers or body) are closed by the idle timeout; streams are exempt', async () => {
    const auth = `Authorization: Bearer ${cluster.coordinator.adminToken}\r\n`;
    const host = `Host: ${new URL(cluster.coordinator.httpUrl).host}\r\n`;
    const [headers, body] = await Promise.all([
      closedAfterPartialRequest(cluster.coordinator.httpUrl, `GET /api/sources HTTP/1.1\r\n${host}`, 30_000),
      closedAfterPartialRequest(
        cluster.coordinator.httpUrl,
        `POST /api/sources HTTP/1.1\r\n${host}${auth}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"id":"half",`,
        30_000,
      ),
    ]);
    expect(headers).toBeGreaterThan(0);
    expect(body).toBeGreaterThan(0);
    // The watcher's response has outlived many idle timeouts (2 s) and still flows.
    await expectUnharmed();
  });

  test('a client that stops reading is cut off, and its variant and job end after the idle grace', async () => {
    const { port } = new URL(cluster.coordinator.httpUrl);
    // A raw TCP client with a tiny receive buffer that sends a request and never reads.
    const script = [
      'import socket, sys, time',
      's = socket.socket()',
      's.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)',
      `s.connect(('127.0.0.1', ${port}))`,
      `s.sendall(b'GET /stream/stalled/h264-240p HTTP/1.1\\r\\nHost: 127.0.0.1:${port}\\r\\n\\r\\n')`,
      'time.sleep(600)',
    ].join('\n');
    const client = new LoggedProcess('stalled-client', Bun.spawn(['python3', '-c', script], { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' }));
    started.push(client);
    const live = await eventually(
      'the stalled client on a live variant with a job',
      async () => (await cluster.coordinator.api<Variants>('/api/variants')).body.live.find((v) => v.variant === 'stalled/h264-240p' && v.job),
      60_000,
    );
    const jobId = live.job!.id;
    await cluster.coordinator.proc.waitForLog((l) => l.msg === 'stalled reader disconnected', 90_000);
    const ended = await cluster.coordinator.proc.waitForLog((l) => l.msg === 'job ended' && l.jobId === jobId, 30_000);
    expect(ended.reason).toBe('no clients left');
    const { body } = await cluster.coordinator.api<Variants>('/api/variants');
    expect(body.live.find((v) => v.variant === 'stalled/h264-240p')).toBeUndefined();
    await client.stop();
    await expectUnharmed(['stalled']);
  }, 240_000);

  test('a name with a newline is refused (422 naming the field) and never splits a playlist entry', async () => {
    const evil = 'Evil\n#EXTINF:-1,Injected\nhttp://evil.example/x.ts';
    const created = await cluster.coordinator.api<ErrorBody>('/api/profiles', {
      method: 'POST',
      body: JSON.stringify({ ...TINY_H264_PROFILE, id: 'evil', name: evil }),
    });
    expect(created.status).toBe(422);
    expect(created.body.error.field).toBe('name');
    for (const [path, name] of [
      ['/api/profiles/h264-240p', evil],
      ['/api/sources/pattern', 'tab\there'],
      ['/api/sources/pattern', 'line\u2028separator'],
    ] as const) {
      const patched = await cluster.coordinator.api<ErrorBody>(path, { method: 'PATCH', body: JSON.stringify({ name }) });
      expect(patched.status).toBe(422);
      expect(patched.body.error.field).toBe('name');
    }

    // A name stored before this rule (written straight into SQLite) is flattened in the playlist.
    const db = new Database(cluster.coordinator.dbPath);
    const original = db.query<{ name: string }, []>("SELECT name FROM profiles WHERE id = 'nobody'").get()!.name;
    try {
      db.run("UPDATE profiles SET name = ? WHERE id = 'nobody'", [evil]);
      const playlist = await (await fetch(`${cluster.coordinator.httpUrl}/playlist.m3u`)).text();
      const lines = playlist.trimEnd().split('\n');
      const entries = lines.filter((l) => l.startsWith('#EXTINF'));
      expect(entries.length).toBe(baseline.sources.length * baseline.profiles.length);
      expect(lines.length).toBe(1 + 2 * entries.length);
      expect(lines.filter((l) => l.startsWith('http://evil.example'))).toEqual([]);
    } finally {
      db.run("UPDATE profiles SET name = ? WHERE id = 'nobody'", [original]);
      db.close();
    }
    await expectUnharmed();
  });

  test('the OpenAPI asset route finds no inherited names (__proto__, constructor): 404', async () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '__defineGetter__']) {
      const res = await fetch(`${cluster.coordinator.httpUrl}/openapi-assets/${name}`);
      expect(res.status).toBe(404);
      expect(((await res.json()) as ErrorBody).error.code).toBe('not_found');
    }
    const css = await fetch(`${cluster.coordinator.httpUrl}/openapi-assets/swagger-ui.css`);
    expect(css.status).toBe(200);
    await css.arrayBuffer();
    await expectUnharmed();
  });
});
