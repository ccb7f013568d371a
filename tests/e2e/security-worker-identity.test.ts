// Worker identity on a real network: a holder of the shared worker token cannot take over
// a connected worker's id (ALREADY_EXISTS, the real worker and its job untouched), cannot
// stall the coordinator with a flood of control messages (RESOURCE_EXHAUSTED, other
// streams keep flowing), and under mutual TLS cannot claim an id its certificate does not
// name. Real coordinator and worker processes, real FFmpeg, a scripted peer over real gRPC.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import * as grpc from '@grpc/grpc-js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { makeTempDir } from '../helpers/media';
import type { LoggedProcess } from '../helpers/processes';
import { ScriptedPeer } from '../helpers/scripted-peer';
import { grpcClient, snapshotDb, StreamWatcher } from '../helpers/security';
import { loadTranscodeProto } from '../../proto/load';
import { makeTestCerts, type TestCerts } from '../helpers/tls-certs';
import type { TranscodeCoordinatorClient } from '../../proto/gen/tvarr/transcode/v1/TranscodeCoordinator';

const TOKEN = 'identity-token-0123456789abcdef';

interface JobView {
  id: string;
  state: string;
  attempt: number;
  workerId: string;
  sourceId: string;
}

describe('a connected worker id cannot be taken over', () => {
  const cluster = new TestCluster({ env: { TVARR_GRPC_AUTH_TOKEN: TOKEN, TVARR_AUTH_TOKEN: TOKEN } });
  let client: TranscodeCoordinatorClient;
  let watcher: StreamWatcher;
  let job: JobView;
  let worker: LoggedProcess;

  beforeAll(async () => {
    await cluster.startCoordinator();
    worker = await cluster.startWorker('w1');
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);
    watcher = await StreamWatcher.open(`${cluster.coordinator.httpUrl}/stream/pattern/${TINY_H264_PROFILE.id}`);
    await watcher.expectFlowing();
    const running = await cluster.coordinator.api<JobView[]>('/api/jobs?state=running');
    job = running.body.find((j) => j.sourceId === 'pattern')!;
    expect(job.workerId).toBe('test-w1');
    client = grpcClient(cluster.coordinator.grpcAddress);
  });

  afterAll(async () => {
    client?.close();
    await watcher?.close();
    await cluster.stop();
  });

  test('an impostor with the shared token registering as test-w1 gets ALREADY_EXISTS; the worker and its job are untouched', async () => {
    const before = await snapshotDb(cluster.coordinator);
    for (let i = 0; i < 3; i++) {
      const impostor = new ScriptedPeer(client, 'test-w1', TOKEN).register({
        // The claims that used to rank first for everything.
        limits: { max_jobs: 256, max_gpu_jobs: 0, max_cpu_jobs: 256 },
        speed_fps: 1_000_000,
      });
      const end = await impostor.ended;
      expect(end.codeName).toBe('ALREADY_EXISTS');
      expect(end.details).toContain('already connected');
    }
    await watcher.expectFlowing();
    expect(await snapshotDb(cluster.coordinator)).toEqual(before);
    const still = await cluster.coordinator.api<JobView>(`/api/jobs/${job.id}`);
    expect([still.body.state, still.body.workerId, still.body.attempt]).toEqual(['running', 'test-w1', job.attempt]);
    const w = await cluster.coordinator.api<{ state: string; speedFps: number; maxJobs: number; connected: boolean }>('/api/workers/test-w1');
    expect(w.body.state).toBe('online');
    expect(w.body.connected).toBe(true);
    expect(w.body.speedFps).toBeLessThan(1_000_000);
    expect(w.body.maxJobs).toBe(2);
    expect(worker.lines.some((l) => l.msg === 'control stream lost; reconnecting')).toBe(false);
    expect(cluster.coordinator.proc.lines.some((l) => l.msg === 'worker lost')).toBe(false);
  });

  test('a flood of control messages from one peer is cut off with RESOURCE_EXHAUSTED while the stream keeps flowing', async () => {
    const flooder = new ScriptedPeer(client, 'peer-flood', TOKEN).register({ draining: true });
    await flooder.registered;
    const bytesBefore = watcher.bytes;
    const t0 = performance.now();
    let sent = 0;
    let done = false;
    void flooder.ended.then(() => (done = true));
    while (!done && sent < 500_000) {
      for (let i = 0; i < 500; i++) flooder.send({ heartbeat: { usage: { cpu_percent: 1 }, jobs: [] } });
      sent += 500;
      await new Promise((r) => setTimeout(r, 1));
    }
    const end = await flooder.ended;
    const ms = performance.now() - t0;
    console.log(`flood: ${sent} heartbeats written in ${Math.round(ms)} ms before ${end.codeName}; stream bytes meanwhile ${watcher.bytes - bytesBefore}`);
    expect(end.codeName).toBe('RESOURCE_EXHAUSTED');
    // Streaming goes on during and after the flood; the real worker was never lost.
    await watcher.expectFlowing();
    expect(cluster.coordinator.proc.lines.some((l) => l.msg === 'worker lost' && l.workerId === 'test-w1')).toBe(false);
    const still = await cluster.coordinator.api<JobView>(`/api/jobs/${job.id}`);
    expect(still.body.state).toBe('running');
  });
});

/** A client certificate from the test CA naming `cn`, plus optional SAN entries. */
async function makeClientCert(dir: string, name: string, cn: string, san?: string): Promise<{ cert: string; key: string }> {
  const run = async (args: string[]) => {
    const proc = Bun.spawn(['openssl', ...args], { cwd: dir, stdout: 'ignore', stderr: 'pipe' });
    if ((await proc.exited) !== 0) throw new Error(`openssl ${args[0]}: ${await new Response(proc.stderr).text()}`);
  };
  writeFileSync(join(dir, `${name}.ext`), `extendedKeyUsage=clientAuth\n${san ? `subjectAltName=${san}\n` : ''}`);
  await run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  await run(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

describe('mutual TLS binds the worker id to the client certificate', () => {
  const cluster = new TestCluster();
  const certDir = makeTempDir('identity-certs');
  const clients: grpc.Client[] = [];
  let certs: TestCerts;
  let byCn: { cert: string; key: string };
  let bySan: { cert: string; key: string };

  beforeAll(async () => {
    certs = await makeTestCerts(certDir.dir);
    byCn = await makeClientCert(certDir.dir, 'cn-worker', 'test-cn-worker');
    bySan = await makeClientCert(certDir.dir, 'san-worker', 'unrelated-cn', 'DNS:test-san-worker');
    await cluster.startCoordinator({
      TVARR_GRPC_AUTH_TOKEN: TOKEN,
      TVARR_GRPC_TLS_CERT_FILE: certs.serverCert,
      TVARR_GRPC_TLS_KEY_FILE: certs.serverKey,
      TVARR_GRPC_TLS_CLIENT_CA_FILE: certs.caCert,
    });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await cluster.stop();
    certDir.cleanup();
  });

  const tlsEnv = (c: { cert: string; key: string }) => ({
    TVARR_AUTH_TOKEN: TOKEN,
    TVARR_TLS_CA_FILE: certs.caCert,
    TVARR_TLS_CERT_FILE: c.cert,
    TVARR_TLS_KEY_FILE: c.key,
  });

  /** A scripted peer dialling over mutual TLS with the given client certificate. */
  const tlsPeer = (c: { cert: string; key: string }, workerId: string) => {
    const creds = grpc.credentials.createSsl(readFileSync(certs.caCert), readFileSync(c.key), readFileSync(c.cert));
    // The server certificate names localhost and 127.0.0.1; SNI cannot carry an IP address.
    const { TranscodeCoordinator } = loadTranscodeProto().tvarr.transcode.v1;
    const client = new TranscodeCoordinator(cluster.coordinator.grpcAddress, creds, { 'grpc.ssl_target_name_override': 'localhost' });
    clients.push(client);
    return new ScriptedPeer(client, workerId, TOKEN);
  };

  test('a real worker whose id is its certificate CN registers; a peer named by a DNS SAN registers too', async () => {
    await cluster.startWorker('cn-worker', tlsEnv(byCn));
    const san = tlsPeer(bySan, 'test-san-worker').register().keepAlive();
    await san.registered;
  });

  test('an id the certificate does not name is refused with PERMISSION_DENIED and never registers', async () => {
    for (const [cert, id, named] of [
      [byCn, 'test-liar', 'test-cn-worker'],
      [byCn, 'test-san-worker', 'test-cn-worker'], // another worker's id, even a connected one
      [bySan, 'unrelated-cn-2', 'test-san-worker'],
    ] as const) {
      const peer = tlsPeer(cert, id).register();
      const end = await peer.ended;
      expect(end.codeName).toBe('PERMISSION_DENIED');
      expect(end.details).toContain('not named by the client certificate');
      expect(end.details).toContain(`"${named}"`);
    }
    const ids = (await cluster.coordinator.api<{ id: string; connected: boolean }[]>('/api/workers')).body;
    expect(ids.map((w) => [w.id, w.connected]).sort()).toEqual([
      ['test-cn-worker', true],
      ['test-san-worker', true],
    ]);
  });
});
