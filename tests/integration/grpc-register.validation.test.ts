// The worker contract's registration rules (proto/transcode.proto, Register and Limits),
// against an in-process coordinator on real gRPC: values out of range are refused with
// INVALID_ARGUMENT naming the field and store nothing; slot limits left at 0 still get
// jobs; peer free text is clipped; a JobStream without `open` and a flood of control
// messages are cut off; workers are bounded, pruned and deletable. On both engines.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createLogger, setLogLevel } from '../../common/log';
import { parseCoordinatorConfig } from '../../coordinator/config';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/start-coordinator';
import type { TranscodeCoordinatorClient } from '../../proto/gen/tvarr/transcode/v1/TranscodeCoordinator';
import type { Register } from '../../proto/gen/tvarr/transcode/v1/Register';
import { TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { makeTempDir } from '../helpers/media';
import { eventually } from '../helpers/processes';
import { ScriptedPeer } from '../helpers/scripted-peer';
import { callStatus, grpcClient, peerMetadata } from '../helpers/security';
import * as grpc from '@grpc/grpc-js';
import { eq, sql } from 'drizzle-orm';
import type { Engine, Store } from '../../coordinator/db/store';
import { ENGINES, freshDatabaseEnv } from './scheduler-fixtures';

const ADMIN = 'admin-token-0123456789';

async function start(engine: Engine, dir: string, env: Record<string, string> = {}): Promise<RunningCoordinator> {
  setLogLevel('silent');
  const config = parseCoordinatorConfig({
    ...(await freshDatabaseEnv(engine, dir, 'grpc_register')),
    TVARR_HTTP_HOST: '127.0.0.1',
    TVARR_HTTP_PORT: '0',
    TVARR_GRPC_HOST: '127.0.0.1',
    TVARR_GRPC_PORT: '0',
    TVARR_ADMIN_TOKEN: ADMIN,
    TVARR_JOB_START_TIMEOUT_MS: '1500',
    ...env,
  });
  return startCoordinator(config, createLogger('coordinator'));
}

function api(c: RunningCoordinator, method: string, path: string, body?: unknown) {
  return fetch(`http://127.0.0.1:${c.httpPort}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** Rows of `table` that belong to a worker, counted in the database itself. */
async function rowsOfWorker(store: Store, table: 'metrics' | 'workerEncoders', workerId: string): Promise<number> {
  const t = store.t[table];
  const [row] = await store.db.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(t).where(eq(t.workerId, workerId));
  return row?.n ?? 0;
}

const workerIds = async (c: RunningCoordinator) => ((await (await api(c, 'GET', '/api/workers')).json()) as { id: string }[]).map((w) => w.id).sort();

describe.each(ENGINES)('registration ranges (%s)', (engine) => {
  const temp = makeTempDir('grpc-register');
  let c: RunningCoordinator;
  let client: TranscodeCoordinatorClient;
  const peers: ScriptedPeer[] = [];
  const peer = (id: string) => {
    const p = new ScriptedPeer(client, id);
    peers.push(p);
    return p;
  };

  beforeAll(async () => {
    c = await start(engine, temp.dir);
    client = grpcClient(`127.0.0.1:${c.grpcPort}`);
    expect((await api(c, 'POST', '/api/sources', { id: 'pattern', name: 'Pattern', url: TINY_PATTERN_URL })).status).toBe(201);
    expect((await api(c, 'POST', '/api/profiles', TINY_H264_PROFILE)).status).toBe(201);
  });

  afterAll(async () => {
    for (const p of peers) p.close();
    client?.close();
    await c?.stop();
    temp.cleanup();
  });

  const many = <T>(n: number, f: (i: number) => T) => Array.from({ length: n }, (_, i) => f(i));
  const cases: [string, Partial<Register>, string][] = [
    ['max_jobs 4294967295', { limits: { max_jobs: 4294967295, max_gpu_jobs: 0, max_cpu_jobs: 1 } }, 'register.limits.max_jobs'],
    ['max_jobs 257', { limits: { max_jobs: 257, max_gpu_jobs: 0, max_cpu_jobs: 1 } }, 'register.limits.max_jobs'],
    ['max_jobs 0', { limits: { max_jobs: 0, max_gpu_jobs: 0, max_cpu_jobs: 1 } }, 'register.limits.max_jobs'],
    ['max_gpu_jobs 1000', { limits: { max_jobs: 2, max_gpu_jobs: 1000, max_cpu_jobs: 1 } }, 'register.limits.max_gpu_jobs'],
    ['max_cpu_jobs 1000', { limits: { max_jobs: 2, max_gpu_jobs: 0, max_cpu_jobs: 1000 } }, 'register.limits.max_cpu_jobs'],
    ['no limits', { limits: null }, 'register.limits'],
    ['speed_fps 1e308', { speed_fps: 1e308 }, 'register.speed_fps'],
    ['speed_fps NaN', { speed_fps: Number.NaN }, 'register.speed_fps'],
    ['speed_fps Infinity', { speed_fps: Number.POSITIVE_INFINITY }, 'register.speed_fps'],
    ['speed_fps -1', { speed_fps: -1 }, 'register.speed_fps'],
    ['129 encoders', { encoders: many(129, (i) => ({ name: `enc${i}`, codec: 'h264', kind: 'ENCODER_KIND_CPU', family: 'software' })) }, 'register.encoders'],
    ['129 rejected encoders', { rejected_encoders: many(129, (i) => ({ name: `enc${i}`, codec: 'h264', reason: 'x' })) }, 'register.rejected_encoders'],
    ['17 GPUs', { gpus: many(17, (i) => ({ vendor: 'nvidia', name: 'gpu', device: String(i), memory_bytes: 0 })) }, 'register.gpus'],
    ['257 active jobs', { active_jobs: many(257, (i) => ({ job_id: `j${i}`, attempt: 1 })) }, 'register.active_jobs'],
    ['a 129-character name', { name: 'n'.repeat(129) }, 'register.name'],
    ['a 65-character version', { version: 'v'.repeat(65) }, 'register.version'],
    ['a 256-character hostname', { hostname: 'h'.repeat(256) }, 'register.hostname'],
    ['a 257-character ffmpeg_version', { ffmpeg_version: 'f'.repeat(257) }, 'register.ffmpeg_version'],
    ['an encoder name with a space', { encoders: [{ name: 'lib x264', codec: 'h264', kind: 'ENCODER_KIND_CPU', family: 'software' }] }, 'register.encoders[0].name'],
    ['an empty encoder codec', { encoders: [{ name: 'libx264', codec: '', kind: 'ENCODER_KIND_CPU', family: 'software' }] }, 'register.encoders[0].codec'],
    [
      'an encoder listed twice',
      {
        encoders: [
          { name: 'libx264', codec: 'h264', kind: 'ENCODER_KIND_CPU', family: 'software' },
          { name: 'libx264', codec: 'h264', kind: 'ENCODER_KIND_CPU', family: 'software' },
        ],
      },
      'register.encoders[1].name',
    ],
    ['a 33-character family', { encoders: [{ name: 'libx264', codec: 'h264', kind: 'ENCODER_KIND_CPU', family: 'f'.repeat(33) }] }, 'register.encoders[0].family'],
    ['a 300-character GPU name', { gpus: [{ vendor: 'nvidia', name: 'g'.repeat(300), device: '0', memory_bytes: 0 }] }, 'register.gpus[0].name'],
  ];

  for (const [label, over, field] of cases) {
    test(`${label}: INVALID_ARGUMENT naming ${field}, nothing stored`, async () => {
      const p = peer('peer-bad').register(over);
      const end = await p.ended;
      expect(end.codeName).toBe('INVALID_ARGUMENT');
      expect(end.details.startsWith(`${field} `)).toBe(true);
      expect(await workerIds(c)).not.toContain('peer-bad');
    });
  }

  test('a rejected encoder reason of 100 000 characters is clipped to 512, not refused', async () => {
    const p = peer('peer-long-reason').register({ rejected_encoders: [{ name: 'h264_nvenc', codec: 'h264', reason: 'r'.repeat(100_000) }], draining: true });
    await p.registered;
    const view = (await (await api(c, 'GET', '/api/workers/peer-long-reason')).json()) as { rejectedEncoders: { reason: string }[] };
    expect(view.rejectedEncoders[0]!.reason.length).toBe(512);
    p.close();
  });

  test('max_jobs 2 with both slot fields 0 is scheduled (each class up to max_jobs); a huge JobRejected.message is clipped', async () => {
    const p = peer('peer-zero-slots').register({ limits: { max_jobs: 2, max_gpu_jobs: 0, max_cpu_jobs: 0 }, speed_fps: 1000 }).keepAlive();
    await p.registered;
    const view = (await (await api(c, 'GET', '/api/workers/peer-zero-slots')).json()) as { maxJobs: number; maxCpuJobs: number; maxGpuJobs: number };
    expect([view.maxJobs, view.maxCpuJobs, view.maxGpuJobs]).toEqual([2, 2, 2]);
    const cand = (await (await api(c, 'GET', `/api/workers/candidates?profile=${TINY_H264_PROFILE.id}`)).json()) as {
      candidates: { workerId: string; rank: number | null }[];
    };
    expect(cand.candidates.find((x) => x.workerId === 'peer-zero-slots')?.rank).toBe(1);

    // A client asks for the variant: the StartJob goes to this peer, which refuses it with 1 MB of text.
    const abort = new AbortController();
    const stream = fetch(`http://127.0.0.1:${c.httpPort}/stream/pattern/${TINY_H264_PROFILE.id}`, { signal: abort.signal }).catch(() => null);
    const start = await p.nextCommand((x) => x.command === 'start_job');
    const { job_id, attempt } = start.start_job!;
    const rejectedEvent = c.ctx.events.waitFor('job:rejected', (e) => e.jobId === job_id);
    // job:ended comes once the attempt's row is written (job:rejected comes before).
    const endedEvent = c.ctx.events.waitFor('job:ended', (e) => e.jobId === job_id);
    p.send({ job_rejected: { job_id, attempt, reason: 'REJECT_REASON_AT_CAPACITY', message: 'm'.repeat(1_000_000) } });
    const rejected = await rejectedEvent;
    expect(rejected.reason.length).toBeLessThanOrEqual(1100);
    expect((await endedEvent).state).toBe('failed');
    const job = (await (await api(c, 'GET', `/api/jobs/${job_id}`)).json()) as { state: string; failureReason: string };
    expect(job.state).toBe('failed');
    expect(job.failureReason.length).toBeLessThanOrEqual(1200);
    abort.abort();
    await stream;
    p.close();
  });

  test('a JobStream that never sends open is closed with DEADLINE_EXCEEDED', async () => {
    const call = client.JobStream(peerMetadata('peer-silent'));
    const end = await callStatus(call);
    expect(grpc.status[end.code]).toBe('DEADLINE_EXCEEDED');
    expect(end.details).toContain('open');
  });

  test('a second registration under a connected id: ALREADY_EXISTS, the first session keeps working', async () => {
    const first = peer('peer-owner').register().keepAlive();
    await first.registered;
    const lost: string[] = [];
    const off = c.ctx.events.on('worker:lost', (e) => lost.push(e.workerId));
    const impostor = peer('peer-owner').register({ speed_fps: 999_999, limits: { max_jobs: 256, max_gpu_jobs: 256, max_cpu_jobs: 256 } });
    const end = await impostor.ended;
    expect(end.codeName).toBe('ALREADY_EXISTS');
    off();
    expect(lost).toEqual([]);
    expect(c.registry.get('peer-owner')).toBeDefined();
    const view = (await (await api(c, 'GET', '/api/workers/peer-owner')).json()) as { state: string; maxJobs: number; speedFps: number };
    expect([view.state, view.maxJobs, view.speedFps]).toEqual(['online', 2, 100]);
    // The first session still gets answers: its stream is open and heartbeats are taken.
    first.send({ heartbeat: { jobs: [] } });
    expect(c.registry.get('peer-owner')).toBeDefined();
    first.close();
  });

  test('a flood of control messages is cut off with RESOURCE_EXHAUSTED; other sessions are untouched', async () => {
    const bystander = peer('peer-bystander').register({ draining: true }).keepAlive();
    await bystander.registered;
    const flooder = peer('peer-flood').register({ draining: true });
    await flooder.registered;
    // Empty heartbeats as fast as the connection takes them, in batches so the end is seen.
    let sent = 0;
    let done = false;
    void flooder.ended.then(() => (done = true));
    while (!done && sent < 200_000) {
      for (let i = 0; i < 500; i++) flooder.send({ heartbeat: { jobs: [] } });
      sent += 500;
      await new Promise((r) => setTimeout(r, 1));
    }
    const end = await flooder.ended;
    expect(end.codeName).toBe('RESOURCE_EXHAUSTED');
    expect(sent).toBeLessThan(200_000);
    expect(c.registry.get('peer-flood')).toBeUndefined();
    expect(c.registry.get('peer-bystander')).toBeDefined();
    bystander.close();
  });
});

describe.each(ENGINES)('worker bounds: count, retention, delete (%s)', (engine) => {
  const temp = makeTempDir('grpc-register-bounds');
  let c: RunningCoordinator;
  let client: TranscodeCoordinatorClient;

  beforeAll(async () => {
    c = await start(engine, temp.dir, { TVARR_MAX_WORKERS: '2', TVARR_WORKER_RETENTION_MS: '1500' });
    client = grpcClient(`127.0.0.1:${c.grpcPort}`);
  });

  afterAll(async () => {
    client?.close();
    await c?.stop();
    temp.cleanup();
  });

  test('TVARR_MAX_WORKERS: a third worker id is refused with RESOURCE_EXHAUSTED; known ids still register', async () => {
    const a = new ScriptedPeer(client, 'bound-a').register().keepAlive();
    const b = new ScriptedPeer(client, 'bound-b').register().keepAlive();
    await Promise.all([a.registered, b.registered]);
    const third = new ScriptedPeer(client, 'bound-c').register();
    const end = await third.ended;
    expect(end.codeName).toBe('RESOURCE_EXHAUSTED');
    expect(end.details).toContain('TVARR_MAX_WORKERS');
    expect(await workerIds(c)).toEqual(['bound-a', 'bound-b']);

    // DELETE while connected: 409. After it disconnects: 204, its counters gone with it.
    expect((await api(c, 'DELETE', '/api/workers/bound-a')).status).toBe(409);
    const lost = c.ctx.events.waitFor('worker:lost', (e) => e.workerId === 'bound-a');
    a.close();
    await lost;
    expect(c.metrics.counters.get('worker_losses', 'bound-a')).toBe(1);
    const del = await api(c, 'DELETE', '/api/workers/bound-a');
    expect(del.status).toBe(204);
    expect((await api(c, 'DELETE', '/api/workers/bound-a')).status).toBe(404);
    expect(c.metrics.counters.get('worker_losses', 'bound-a')).toBe(0);
    expect(c.metrics.counters.get('worker_losses')).toBe(1); // the cluster-wide counter is kept
    expect(await rowsOfWorker(c.ctx.store, 'metrics', 'bound-a')).toBe(0);
    expect(await rowsOfWorker(c.ctx.store, 'workerEncoders', 'bound-a')).toBe(0);
    expect(await rowsOfWorker(c.ctx.store, 'workerEncoders', 'bound-b')).toBeGreaterThan(0);

    // Room again: the third id registers now.
    const again = new ScriptedPeer(client, 'bound-c').register();
    await again.registered;
    again.close();
    b.close();
  });

  test('an offline worker older than TVARR_WORKER_RETENTION_MS is pruned in the background', async () => {
    // The workers of the previous test went offline: the background prune removes them.
    await eventually('offline workers pruned', async () => (await workerIds(c)).length === 0, 20_000);
    const p = new ScriptedPeer(client, 'bound-old').register().keepAlive();
    await p.registered;
    const removed = c.ctx.events.waitFor('worker:removed', (e) => e.workerId === 'bound-old');
    p.close();
    const e = await removed;
    expect(e.reason).toContain('offline for more than 1500 ms');
    expect(await workerIds(c)).not.toContain('bound-old');
  });

  test('a worker deleted while its counters are being written leaves no per-worker rows behind', async () => {
    // worker:lost adds to its counters and starts a write; the delete comes in the same tick.
    // On PostgreSQL the two transactions ran side by side and the write re-created the rows.
    const p = new ScriptedPeer(client, 'bound-racy').register().keepAlive();
    await p.registered;
    const lost = c.ctx.events.waitFor('worker:lost', (e) => e.workerId === 'bound-racy');
    p.close();
    await lost;
    c.metrics.counters.add('bytes_in', 1000, 'bound-racy');
    await c.registry.remove('bound-racy', 'test');
    await c.metrics.counters.flush();
    expect(await rowsOfWorker(c.ctx.store, 'metrics', 'bound-racy')).toBe(0);
    expect(c.metrics.counters.get('bytes_in', 'bound-racy')).toBe(0);
  });
});
