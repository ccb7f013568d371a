// "A worker refusing a job: the job lands on the next candidate", with real parts: a
// coordinator process, a real worker process (worker/main.ts, real FFmpeg), and a
// scripted peer that speaks proto/transcode.proto over real gRPC. The peer advertises a
// GPU encoder (so the scheduler ranks it first) and refuses every StartJob, as a worker
// whose GPU is gone would. It stands in for hardware this machine does not have.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import * as grpc from '@grpc/grpc-js';
import { loadTranscodeProto, WORKER_ID_METADATA_KEY } from '../../proto/load';
import type { CoordinatorCommand__Output } from '../../proto/gen/tvarr/transcode/v1/CoordinatorCommand';
import type { WorkerEvent } from '../../proto/gen/tvarr/transcode/v1/WorkerEvent';
import { TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { readFor } from '../helpers/media';
import { eventually } from '../helpers/processes';

const PEER_ID = 'scripted-gpu-refuser';
const REFUSAL = 'scripted refusal: CUDA device lost';

/** A worker written from the .proto alone: registers h264_nvenc, refuses every job. */
class RefusingGpuPeer {
  readonly starts: { jobId: string; attempt: number }[] = [];
  private readonly call: grpc.ClientDuplexStream<WorkerEvent, CoordinatorCommand__Output>;
  private readonly client: grpc.Client;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private startWaiters: (() => void)[] = [];
  readonly registered: Promise<void>;

  constructor(address: string) {
    const proto = loadTranscodeProto();
    const client = new proto.tvarr.transcode.v1.TranscodeCoordinator(address, grpc.credentials.createInsecure());
    this.client = client;
    const md = new grpc.Metadata();
    md.set(WORKER_ID_METADATA_KEY, PEER_ID);
    this.call = client.Control(md);
    this.registered = new Promise((resolve, reject) => {
      this.call.on('data', (cmd: CoordinatorCommand__Output) => {
        if (cmd.command === 'registered') {
          // Heartbeats are part of the protocol: without them the coordinator marks us lost.
          this.heartbeat = setInterval(() => this.call.write({ heartbeat: { jobs: [] } }), 500);
          resolve();
        } else if (cmd.command === 'start_job' && cmd.start_job) {
          const { job_id, attempt } = cmd.start_job;
          this.starts.push({ jobId: job_id, attempt });
          this.call.write({ job_rejected: { job_id, attempt, reason: 'REJECT_REASON_ENCODER_UNAVAILABLE', message: REFUSAL } });
          for (const w of this.startWaiters.splice(0)) w();
        }
      });
      this.call.on('error', (err) => reject(err));
    });
    this.call.on('error', () => {}); // after registration: the coordinator may close us at shutdown
    this.call.write({
      register: {
        worker_id: PEER_ID,
        name: 'scripted GPU refuser',
        version: 'test',
        hostname: 'nowhere',
        ffmpeg_version: 'none',
        encoders: [{ name: 'h264_nvenc', codec: 'h264', kind: 'ENCODER_KIND_GPU', family: 'nvenc' }],
        rejected_encoders: [],
        gpus: [{ vendor: 'nvidia', name: 'scripted', device: '0', memory_bytes: 0 }],
        limits: { max_jobs: 4, max_gpu_jobs: 4, max_cpu_jobs: 0 },
        speed_fps: 1000,
        active_jobs: [],
        draining: false,
      },
    });
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.call.cancel();
    this.client.close();
  }
}

interface JobView {
  id: string;
  runId: string;
  workerId: string;
  state: string;
  attempt: number;
  failureReason: string | null;
  createdAt: number;
}
interface CandidatesView {
  candidates: { workerId: string; rank: number | null; encoder: string | null; excluded: { code: string; reason: string } | null }[];
}

describe('dispatch: a refused job lands on the next candidate', () => {
  const cluster = new TestCluster();
  let peer: RefusingGpuPeer;

  beforeAll(async () => {
    await cluster.startCoordinator();
    await cluster.startWorker('w1');
    peer = new RefusingGpuPeer(cluster.coordinator.grpcAddress);
    await peer.registered;
    await cluster.coordinator.proc.waitForLog((l) => l.msg === 'worker registered' && l.workerId === PEER_ID, 30_000);
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);
  });

  afterAll(async () => {
    peer?.close();
    await cluster.stop();
  });

  test('the candidates endpoint ranks the GPU peer first and the real worker second', async () => {
    const { status, body } = await cluster.coordinator.api<CandidatesView>(`/api/workers/candidates?profile=${TINY_H264_PROFILE.id}`);
    expect(status).toBe(200);
    expect(body.candidates.map((c) => [c.workerId, c.rank, c.encoder])).toEqual([
      [PEER_ID, 1, 'h264_nvenc'],
      ['test-w1', 2, 'libx264'],
    ]);
  });

  test('the refused attempt is failed with the refusal reason; the next attempt runs on the real worker', async () => {
    const res = await fetch(`${cluster.coordinator.httpUrl}/stream/pattern/${TINY_H264_PROFILE.id}`);
    expect(res.status).toBe(200);
    const bytes = await readFor(res.body!, 1500);
    expect(bytes.byteLength).toBeGreaterThan(0);
    expect(bytes[0]).toBe(0x47);

    expect(peer.starts).toHaveLength(1);
    const { body: jobs } = await cluster.coordinator.api<JobView[]>('/api/jobs');
    const refused = jobs.find((j) => j.id === peer.starts[0]!.jobId);
    expect(refused).toBeDefined();
    expect(refused!.workerId).toBe(PEER_ID);
    expect(refused!.state).toBe('failed');
    expect(refused!.failureReason).toContain('REJECT_REASON_ENCODER_UNAVAILABLE');
    expect(refused!.failureReason).toContain(REFUSAL);
    const next = jobs.find((j) => j.runId === refused!.runId && j.id !== refused!.id);
    expect(next).toBeDefined();
    expect(next!.workerId).toBe('test-w1');
    expect(next!.state).toBe('running');
    expect(next!.createdAt).toBeGreaterThanOrEqual(refused!.createdAt);
  });

  test('50 concurrent stream requests against 3 small workers: no limit exceeded, the rest get 503 with the reason', async () => {
    // Third worker: a real one with a single slot.
    await cluster.startWorker('w2', { TVARR_MAX_JOBS: '1', TVARR_MAX_CPU_JOBS: '1' });
    // The previous test's client left; its job stops after the idle grace. Start from empty workers.
    await eventually('the previous variant to stop', async () => {
      const { body } = await cluster.coordinator.api<JobView[]>('/api/jobs?limit=1000');
      return body.every((j) => j.state !== 'running' && j.state !== 'pending');
    });
    for (let i = 0; i < 50; i++) {
      await cluster.createProfile({ ...TINY_H264_PROFILE, id: `h264-240p-${i}`, name: `H.264 240p #${i}` });
    }
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) => fetch(`${cluster.coordinator.httpUrl}/stream/pattern/h264-240p-${i}`)),
    );
    try {
      const ok = responses.filter((r) => r.status === 200);
      const unavailable = responses.filter((r) => r.status === 503);
      expect(ok.length + unavailable.length).toBe(50);
      // Free slots: w1 has 2, w2 has 1; the GPU peer refuses everything it is offered.
      expect(ok).toHaveLength(3);
      for (const r of unavailable) {
        const body = (await r.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toBe('no_capacity');
        expect(body.error.message).toContain('test-w1 (full: jobs 2/2)');
        expect(body.error.message).toContain('test-w2 (full: jobs 1/1)');
      }
      const { body: workers } = await cluster.coordinator.api<{ id: string; activeJobs: number; maxJobs: number }[]>('/api/workers');
      const byId = Object.fromEntries(workers.map((w) => [w.id, w]));
      expect(byId['test-w1']!.activeJobs).toBe(2);
      expect(byId['test-w2']!.activeJobs).toBe(1);
      for (const w of workers) expect(w.activeJobs).toBeLessThanOrEqual(w.maxJobs);
      // Every offer to the refusing peer was refused and recorded, never left live.
      const { body: peerJobs } = await cluster.coordinator.api<JobView[]>(`/api/jobs?workerId=${PEER_ID}&limit=1000`);
      expect(peerJobs.length).toBeGreaterThan(1);
      for (const j of peerJobs) expect(j.state).toBe('failed');
    } finally {
      await Promise.all(responses.map((r) => r.body?.cancel().catch(() => {})));
    }
  });

  test('unknown profile: 404 with the error shape', async () => {
    const { status, body } = await cluster.coordinator.api<{ error: { code: string; message: string } }>('/api/workers/candidates?profile=nope');
    expect(status).toBe(404);
    expect(body.error.code).toBe('not_found');
    const missing = await cluster.coordinator.api<{ error: { code: string } }>('/api/workers/candidates');
    expect(missing.status, JSON.stringify(missing.body)).toBe(422);
  });
});
