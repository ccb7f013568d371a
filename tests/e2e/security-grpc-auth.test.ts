// Every RPC carries the token, and a worker acts only on its own jobs. A real
// coordinator process with TVARR_GRPC_AUTH_TOKEN, a real worker running a live job, and
// a scripted peer built from the proto contract that tries everything it should not.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import * as grpc from '@grpc/grpc-js';
import { TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { callStatus, grpcClient, markerPackets, peerMetadata, snapshotDb, StreamWatcher } from '../helpers/security';
import type { TranscodeCoordinatorClient } from '../../proto/gen/tvarr/transcode/v1/TranscodeCoordinator';

const TOKEN = 'grpc-token-0123456789abcdef';
const PEER_ID = 'peer-thief';

interface JobView {
  id: string;
  state: string;
  attempt: number;
  workerId: string;
  sourceId: string;
}

describe('gRPC authentication and job ownership', () => {
  const cluster = new TestCluster({ env: { TVARR_GRPC_AUTH_TOKEN: TOKEN, TVARR_AUTH_TOKEN: TOKEN } });
  let client: TranscodeCoordinatorClient;
  let watcher: StreamWatcher;
  let job: JobView;

  const register = (call: { write(msg: object): boolean }, workerId: string) =>
    call.write({
      register: {
        worker_id: workerId,
        name: workerId,
        version: 'scripted',
        // No encoders and draining: the scheduler never picks this peer.
        limits: { max_jobs: 1, max_gpu_jobs: 0, max_cpu_jobs: 1 },
        draining: true,
      },
    });

  const workerIds = async () => (await cluster.coordinator.api<{ id: string }[]>('/api/workers')).body.map((w) => w.id).sort();

  beforeAll(async () => {
    await cluster.startCoordinator();
    await cluster.startWorker('w1');
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);
    watcher = await StreamWatcher.open(`${cluster.coordinator.httpUrl}/stream/pattern/h264-240p`);
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

  test('the coordinator warns once that the token travels in clear text without TLS', () => {
    const warnings = cluster.coordinator.proc.lines.filter((l) => typeof l.msg === 'string' && l.msg.includes('clear text'));
    expect(warnings).toHaveLength(1);
  });

  for (const [label, token] of [
    ['missing', undefined],
    ['wrong', 'wrong-token-0123456789abcdef'],
    ['empty', ''],
  ] as const) {
    test(`Control with a ${label} token: UNAUTHENTICATED and no worker row`, async () => {
      const before = await snapshotDb(cluster.coordinator);
      const call = client.Control(peerMetadata('peer-noauth', token));
      const status = callStatus(call);
      register(call, 'peer-noauth');
      const s = await status;
      expect(grpc.status[s.code]).toBe('UNAUTHENTICATED');
      expect(await workerIds()).toEqual(['test-w1']);
      expect(await snapshotDb(cluster.coordinator)).toEqual(before);
      await watcher.expectFlowing();
    });

    test(`JobStream with a ${label} token: UNAUTHENTICATED, the job is untouched`, async () => {
      const before = await snapshotDb(cluster.coordinator);
      const call = client.JobStream(peerMetadata('test-w1', token));
      const status = callStatus(call);
      call.write({ open: { job_id: job.id, attempt: job.attempt } });
      const s = await status;
      expect(grpc.status[s.code]).toBe('UNAUTHENTICATED');
      expect(await snapshotDb(cluster.coordinator)).toEqual(before);
      await watcher.expectFlowing();
    });
  }

  test('Control with the right token registers; its heartbeats are accepted', async () => {
    const call = client.Control(peerMetadata(PEER_ID, TOKEN));
    const registered = new Promise<unknown>((resolve, reject) => {
      call.on('data', (msg: { command?: string; registered?: unknown }) => {
        if (msg.command === 'registered') resolve(msg.registered);
      });
      call.on('error', reject);
    });
    register(call, PEER_ID);
    expect(await registered).toMatchObject({ worker_id: PEER_ID });
    expect(await workerIds()).toEqual([PEER_ID, 'test-w1'].sort());
    call.write({ heartbeat: { usage: { cpu_percent: 1 }, jobs: [] } });

    // Reports about a job of another worker change nothing.
    const before = await snapshotDb(cluster.coordinator);
    call.write({ heartbeat: { jobs: [{ job_id: job.id, attempt: job.attempt, fps: 999, bytes_out: 1 }] } });
    call.write({ job_rejected: { job_id: job.id, attempt: job.attempt, reason: 'REJECT_REASON_AT_CAPACITY', message: 'stolen' } });
    call.write({ job_ended: { job_id: job.id, attempt: job.attempt, outcome: 'JOB_OUTCOME_FAILED', message: 'stolen', exit_code: 1 } });
    call.write({ job_ended: { job_id: job.id, attempt: job.attempt, outcome: 'JOB_OUTCOME_COMPLETED', exit_code: 0 } });
    await watcher.expectFlowing();
    expect(await snapshotDb(cluster.coordinator)).toEqual(before);
    const still = await cluster.coordinator.api<JobView>(`/api/jobs/${job.id}`);
    expect(still.body.state).toBe('running');
    expect(still.body.workerId).toBe('test-w1');
    call.end();
  });

  test('JobStream with the right token for a job id of another worker: PERMISSION_DENIED', async () => {
    const before = await snapshotDb(cluster.coordinator);
    const call = client.JobStream(peerMetadata(PEER_ID, TOKEN));
    const status = callStatus(call);
    call.write({ open: { job_id: job.id, attempt: job.attempt } });
    const s = await status;
    expect(grpc.status[s.code]).toBe('PERMISSION_DENIED');
    expect(await snapshotDb(cluster.coordinator)).toEqual(before);
    await watcher.expectFlowing();
  });

  test("posing as the job's worker id on a second stream is refused too (the job is already attached)", async () => {
    const call = client.JobStream(peerMetadata('test-w1', TOKEN));
    const status = callStatus(call);
    call.write({ open: { job_id: job.id, attempt: job.attempt } });
    expect(grpc.status[(await status).code]).toBe('PERMISSION_DENIED');
    await watcher.expectFlowing();
  });

  test('a peer that floods output for a job it does not own: nothing reaches clients', async () => {
    const before = await snapshotDb(cluster.coordinator);
    const flood = markerPackets(300); // ~56 KiB per message
    // With an open for the stolen job first, and without any open at all.
    for (const withOpen of [true, false]) {
      const call = client.JobStream(peerMetadata(PEER_ID, TOKEN));
      const status = callStatus(call);
      if (withOpen) call.write({ open: { job_id: job.id, attempt: job.attempt } });
      let writes = 0;
      let finished = false;
      void status.then(() => (finished = true));
      while (!finished && writes < 400) {
        writes++;
        const ok = call.write({ output: flood });
        if (!ok) await Promise.race([new Promise((r) => call.once('drain', r)), status]);
      }
      const s = await status;
      expect(['PERMISSION_DENIED', 'INVALID_ARGUMENT', 'CANCELLED']).toContain(grpc.status[s.code]);
      call.cancel();
    }
    await watcher.expectFlowing(60_000);
    expect(watcher.foreignPids.size).toBe(0);
    expect(await snapshotDb(cluster.coordinator)).toEqual(before);
  });

  test('a peer cannot register under the id of a connected worker with a different register.worker_id', async () => {
    const call = client.Control(peerMetadata('test-w1', TOKEN));
    const status = callStatus(call);
    register(call, 'someone-else');
    expect(grpc.status[(await status).code]).toBe('PERMISSION_DENIED');
    await watcher.expectFlowing();
  });
});
