// gRPC over TLS with certificates made by openssl in the test: server TLS (the worker
// verifies the coordinator against its CA, dialling 127.0.0.1), mutual TLS (the worker
// presents a client certificate), and the clear failures of a misconfigured worker.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import * as grpc from '@grpc/grpc-js';
import { TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { makeTempDir } from '../helpers/media';
import { type LoggedProcess, spawnBun } from '../helpers/processes';
import { callStatus, grpcClient, peerMetadata, StreamWatcher } from '../helpers/security';
import { makeTestCerts, type TestCerts } from '../helpers/tls-certs';

const TOKEN = 'tls-token-0123456789abcdef';

function spawnWorker(cluster: TestCluster, name: string, env: Record<string, string>): LoggedProcess {
  return spawnBun(`worker-${name}`, 'worker/main.ts', {
    TVARR_COORDINATOR_URL: cluster.coordinator.grpcAddress,
    TVARR_WORKER_NAME: name,
    TVARR_WORKER_ID: `test-${name}`,
    TVARR_MAX_CPU_JOBS: '1',
    TVARR_AUTH_TOKEN: TOKEN,
    TVARR_RECONNECT_BASE_MS: '100',
    TVARR_RECONNECT_MAX_MS: '1000',
    ...env,
  });
}

const workerIds = async (cluster: TestCluster) => (await cluster.coordinator.api<{ id: string }[]>('/api/workers')).body.map((w) => w.id).sort();

let certs: TestCerts;
const certDir = makeTempDir('certs');
beforeAll(async () => {
  certs = await makeTestCerts(certDir.dir);
});
afterAll(() => certDir.cleanup());

describe('server TLS', () => {
  const cluster = new TestCluster();
  const extra: LoggedProcess[] = [];

  beforeAll(async () => {
    await cluster.startCoordinator({
      TVARR_GRPC_AUTH_TOKEN: TOKEN,
      TVARR_GRPC_TLS_CERT_FILE: certs.serverCert,
      TVARR_GRPC_TLS_KEY_FILE: certs.serverKey,
    });
  });
  afterAll(async () => {
    await Promise.all(extra.map((p) => p.stop()));
    await cluster.stop();
  });

  test('no clear-text warning when TLS is on', () => {
    expect(cluster.coordinator.proc.lines.some((l) => typeof l.msg === 'string' && l.msg.includes('clear text'))).toBe(false);
    expect(cluster.coordinator.proc.lines.some((l) => l.msg === 'gRPC TLS enabled' && l.mutualTls === false)).toBe(true);
  });

  test('a worker that trusts the CA registers over TLS', async () => {
    await cluster.startWorker('tls-ok', { TVARR_AUTH_TOKEN: TOKEN, TVARR_TLS_CA_FILE: certs.caCert });
    expect(await workerIds(cluster)).toContain('test-tls-ok');
  });

  test('a worker with the wrong CA fails with a clear message and never registers', async () => {
    const w = spawnWorker(cluster, 'wrong-ca', { TVARR_TLS_CA_FILE: certs.otherCaCert });
    extra.push(w);
    const line = await w.waitForMsg('cannot connect to the coordinator', 60_000);
    expect(String(line.hint)).toContain('not trusted');
    expect(String(line.hint)).toContain('TVARR_TLS_CA_FILE');
    expect(await workerIds(cluster)).not.toContain('test-wrong-ca');
  });

  test('a plaintext client gets no service from the TLS port', async () => {
    const client = grpcClient(cluster.coordinator.grpcAddress);
    const call = client.Control(peerMetadata('plain', TOKEN));
    const status = callStatus(call);
    call.write({ register: { worker_id: 'plain', limits: { max_jobs: 1 } } });
    expect(grpc.status[(await status).code]).toBe('UNAVAILABLE');
    client.close();
    expect(await workerIds(cluster)).not.toContain('plain');
  });
});

describe('mutual TLS', () => {
  const cluster = new TestCluster();
  const extra: LoggedProcess[] = [];

  beforeAll(async () => {
    await cluster.startCoordinator({
      TVARR_GRPC_AUTH_TOKEN: TOKEN,
      TVARR_GRPC_TLS_CERT_FILE: certs.serverCert,
      TVARR_GRPC_TLS_KEY_FILE: certs.serverKey,
      TVARR_GRPC_TLS_CLIENT_CA_FILE: certs.caCert,
    });
  });
  afterAll(async () => {
    await Promise.all(extra.map((p) => p.stop()));
    await cluster.stop();
  });

  test('a worker with a client certificate from the CA registers and serves a stream', async () => {
    // Mutual TLS binds the id to the certificate: the test client certificate's CN is "client".
    await cluster.startWorker('mtls-ok', {
      TVARR_WORKER_ID: 'client',
      TVARR_AUTH_TOKEN: TOKEN,
      TVARR_TLS_CA_FILE: certs.caCert,
      TVARR_TLS_CERT_FILE: certs.clientCert,
      TVARR_TLS_KEY_FILE: certs.clientKey,
    });
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);
    const watcher = await StreamWatcher.open(`${cluster.coordinator.httpUrl}/stream/pattern/h264-240p`);
    try {
      await watcher.expectFlowing(30_000);
    } finally {
      await watcher.close();
    }
  });

  test('a worker without a client certificate is refused at the handshake', async () => {
    const w = spawnWorker(cluster, 'no-cert', { TVARR_TLS_CA_FILE: certs.caCert });
    extra.push(w);
    const line = await w.waitForMsg('cannot connect to the coordinator', 60_000);
    expect(String(line.hint)).toContain('TVARR_TLS_CERT_FILE');
    expect(await workerIds(cluster)).not.toContain('test-no-cert');
  });

  test('a worker whose client certificate comes from another CA never registers', async () => {
    const w = spawnWorker(cluster, 'stranger', {
      TVARR_TLS_CA_FILE: certs.caCert,
      TVARR_TLS_CERT_FILE: certs.strangerCert,
      TVARR_TLS_KEY_FILE: certs.strangerKey,
    });
    extra.push(w);
    // Two failed attempts prove it keeps being refused (no registration in between).
    let failures = 0;
    await w.waitForLog((l) => l.msg === 'control stream lost; reconnecting' && ++failures >= 2, 60_000);
    expect(w.lines.some((l) => l.msg === 'registered')).toBe(false);
    expect(await workerIds(cluster)).not.toContain('test-stranger');
  });
});
