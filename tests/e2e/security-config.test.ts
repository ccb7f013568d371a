// Configuration at start-up, with real processes: each bad variable stops the coordinator
// (and the worker) with exit code 1 and one line naming it; and a run with tokens set
// never prints them in any log line or API response.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { makeTempDir } from '../helpers/media';
import { spawnBun, type LoggedProcess } from '../helpers/processes';
import { StreamWatcher } from '../helpers/security';

const GRPC_TOKEN = 'grpc-secret-Zq81nX0pLw';
const ADMIN_TOKEN = 'admin-secret-Hd72mK4sVb';

async function failsWith(proc: LoggedProcess, variable: string): Promise<void> {
  expect(await proc.exited).toBe(1);
  const lines = proc.rawTail.filter((l) => l.trim() !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(variable);
}

describe('bad configuration stops start-up with one line naming the variable', () => {
  const temp = makeTempDir('bad-config');
  afterAll(() => temp.cleanup());

  const coordinatorCases: [string, string][] = [
    ['TVARR_GRPC_PORT', 'abc'],
    ['TVARR_GRPC_TLS_CERT_FILE', '/nonexistent/server.pem'],
    ['TVARR_ADMIN_TOKEN', 'short'],
    ['TVARR_MAX_CLIENTS', '0'],
    ['TVARR_PUBLIC_URL', 'ftp://example.com'],
  ];
  for (const [name, value] of coordinatorCases) {
    test(`coordinator: ${name}=${value}`, async () => {
      const proc = spawnBun('coordinator', 'coordinator/main.ts', {
        TVARR_DATABASE_PATH: `${temp.dir}/never.db`,
        TVARR_HTTP_PORT: '0',
        TVARR_GRPC_PORT: '0',
        [name]: value,
      });
      await failsWith(proc, name);
      if (name === 'TVARR_ADMIN_TOKEN') expect(proc.rawTail.join('\n')).not.toContain(value);
    });
  }

  const workerCases: [string, string][] = [
    ['TVARR_COORDINATOR_URL', 'not-a-host-port'],
    ['TVARR_AUTH_TOKEN', 'has a space'],
    ['TVARR_TLS_CA_FILE', '/nonexistent/ca.pem'],
    ['TVARR_MAX_JOBS', '0'],
  ];
  for (const [name, value] of workerCases) {
    test(`worker: ${name}=${value}`, async () => {
      const proc = spawnBun('worker', 'worker/main.ts', { TVARR_COORDINATOR_URL: '127.0.0.1:9', [name]: value });
      await failsWith(proc, name);
      if (name === 'TVARR_AUTH_TOKEN') expect(proc.rawTail.join('\n')).not.toContain(value);
    });
  }
});

describe('secrets are never logged or returned', () => {
  const cluster = new TestCluster({ env: { TVARR_GRPC_AUTH_TOKEN: GRPC_TOKEN, TVARR_AUTH_TOKEN: GRPC_TOKEN, TVARR_ADMIN_TOKEN: ADMIN_TOKEN } });
  let wrongTokenWorker: LoggedProcess | undefined;
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

  beforeAll(async () => {
    await cluster.startCoordinator();
    await cluster.startWorker('w1');
  });
  afterAll(async () => {
    await wrongTokenWorker?.stop();
    await cluster.stop();
  });

  test('a run with tokens: admin writes, a stream, a rejected worker, rejected admin calls', async () => {
    const api = cluster.coordinator.api;
    expect((await api('/api/sources', { method: 'POST', body: JSON.stringify({ id: 'p', name: 'p', url: TINY_PATTERN_URL }) })).status).toBe(401);
    expect((await api('/api/sources', { method: 'POST', headers: { authorization: 'Bearer wrong-admin-token' }, body: '{}' })).status).toBe(401);
    expect((await api('/api/sources', { method: 'POST', headers: admin, body: JSON.stringify({ id: 'p', name: 'p', url: TINY_PATTERN_URL }) })).status).toBe(201);
    expect((await api('/api/profiles', { method: 'POST', headers: admin, body: JSON.stringify(TINY_H264_PROFILE) })).status).toBe(201);
    const watcher = await StreamWatcher.open(`${cluster.coordinator.httpUrl}/stream/p/h264-240p`);
    await watcher.expectFlowing();
    await watcher.close();

    wrongTokenWorker = spawnBun('worker-wrong', 'worker/main.ts', {
      TVARR_COORDINATOR_URL: cluster.coordinator.grpcAddress,
      TVARR_WORKER_ID: 'test-wrong',
      TVARR_AUTH_TOKEN: 'not-the-grpc-token-1234',
      TVARR_RECONNECT_MAX_MS: '500',
    });
    const hint = await wrongTokenWorker.waitForMsg('cannot connect to the coordinator', 60_000);
    expect(String(hint.hint)).toContain('TVARR_AUTH_TOKEN');
  });

  test('no log line of any process contains a token', () => {
    const procs = [cluster.coordinator.proc, ...cluster.workers.values(), wrongTokenWorker!];
    for (const p of procs) {
      expect(p.lines.length).toBeGreaterThan(0);
      const all = p.lines.map((l) => JSON.stringify(l)).join('\n');
      for (const secret of [GRPC_TOKEN, ADMIN_TOKEN, 'not-the-grpc-token-1234']) expect(all).not.toContain(secret);
    }
    const warnings = cluster.coordinator.proc.lines.filter((l) => typeof l.msg === 'string' && l.msg.includes('clear text'));
    expect(warnings).toHaveLength(1);
  });

  test('no API response contains a token', async () => {
    for (const path of ['/api/workers', '/api/workers/test-w1', '/api/jobs', '/api/sources', '/api/profiles', '/openapi/json', '/playlist.m3u', '/']) {
      const text = await (await fetch(cluster.coordinator.httpUrl + path)).text();
      expect(text).not.toContain(GRPC_TOKEN);
      expect(text).not.toContain(ADMIN_TOKEN);
    }
  });
});
