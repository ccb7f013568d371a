// The worker's gRPC client against a scripted coordinator on port 0: registration with
// metadata, heartbeats, rejections, a real transcode over a job stream, cancel, drain,
// and reconnect after the control stream drops.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadTranscodeProto } from '../../proto/load';
import type { JobUplink__Output } from '../../proto/gen/tvarr/transcode/v1/JobUplink';
import type { WorkerEvent__Output } from '../../proto/gen/tvarr/transcode/v1/WorkerEvent';
import { createLogger, setLogLevel } from '../../common/log';
import { parseWorkerConfig } from '../../worker/config';
import { WorkerAgent } from '../../worker/client/worker-agent';
import type { Capabilities } from '../../worker/probe/capabilities';
import { Inbox, ScriptedCoordinator, type ControlCall, type JobCall } from '../helpers/scripted-coordinator';


const controlEvents = new Inbox<{ call: ControlCall; msg: WorkerEvent__Output; metadata: grpc.Metadata }>();
const jobCalls = new Inbox<{ call: JobCall; open: JobUplink__Output['open']; output: Buffer[]; ended: Promise<void> }>();
let server: grpc.Server;
let agent: WorkerAgent;
let dir: string;
let input: Uint8Array;

const caps: Capabilities = {
  ffmpegVersion: '5.1-test',
  encoders: [{ name: 'libx264', codec: 'h264', family: 'software', kind: 'cpu' }],
  rejectedEncoders: [{ name: 'h264_nvenc', codec: 'h264', family: 'nvenc', reason: 'Cannot load libcuda.so.1' }],
  gpus: [],
  speedFps: 100,
};
const spec = { encoder: 'libx264', width: 160, height: 120, video_bitrate_kbps: 200, audio_codec: 'aac', audio_bitrate_kbps: 64, gop_frames: 25, preset: 'ultrafast' };

beforeAll(async () => {
  setLogLevel('warn');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'worker-client-'));
  const gen = Bun.spawn(['ffmpeg', '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast',
    '-c:a', 'aac', '-f', 'mpegts', '-'], { stdout: 'pipe', stderr: 'inherit' });
  input = new Uint8Array(await new Response(gen.stdout).arrayBuffer());
  expect(await gen.exited).toBe(0);

  const { TranscodeCoordinator } = loadTranscodeProto().tvarr.transcode.v1;
  server = new grpc.Server();
  server.addService(TranscodeCoordinator.service, {
    Control: (call: ControlCall) => {
      call.on('data', (msg: WorkerEvent__Output) => controlEvents.push({ call, msg, metadata: call.metadata }));
      call.on('error', () => {});
      call.on('end', () => call.end());
    },
    JobStream: (call: JobCall) => {
      const output: Buffer[] = [];
      let opened = false;
      const ended = new Promise<void>((resolve) => {
        call.on('data', (m: JobUplink__Output) => {
          if (!opened && m.open) {
            opened = true;
            jobCalls.push({ call, open: m.open, output, ended });
          } else if (m.output) output.push(m.output);
        });
        call.on('end', () => {
          call.end();
          resolve();
        });
        call.on('error', () => resolve());
      });
    },
  });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  const config = parseWorkerConfig({
    TVARR_COORDINATOR_URL: `127.0.0.1:${port}`, TVARR_AUTH_TOKEN: 'test-token', TVARR_WORKER_ID: 'w-test',
    TVARR_MAX_JOBS: '2', TVARR_MAX_CPU_JOBS: '2', TVARR_RECONNECT_BASE_MS: '20', TVARR_RECONNECT_MAX_MS: '200',
  }, { hostname: 'test-host', cpuCount: 2, nvidiaGpuCount: 0, otherGpuCount: 0 });
  agent = new WorkerAgent({ config, capabilities: caps, logger: createLogger('worker-test'), version: 'test' });
  agent.start();
});

afterAll(async () => {
  await agent?.stop('test finished');
  server?.forceShutdown();
  fs.rmSync(dir, { recursive: true, force: true });
});

const is = (type: keyof WorkerEvent__Output) => (e: { msg: WorkerEvent__Output }) => e.msg.event === type;

async function register(): Promise<ControlCall> {
  const reg = await controlEvents.next(is('register'), 'register');
  const registered = new Promise((r) => agent.once('registered', r));
  reg.call.write({ registered: { worker_id: 'w-test', heartbeat_interval_ms: 100 } });
  await registered;
  return reg.call;
}

let control: ControlCall;

test('registers with token, worker id and capabilities, then heartbeats', async () => {
  const reg = await controlEvents.next(is('register'), 'register');
  expect(reg.metadata.get('authorization')).toEqual(['Bearer test-token']);
  expect(reg.metadata.get('x-worker-id')).toEqual(['w-test']);
  const r = reg.msg.register!;
  expect(r.worker_id).toBe('w-test');
  expect(r.hostname).toBe('test-host');
  expect(r.encoders).toEqual([{ name: 'libx264', codec: 'h264', kind: 'ENCODER_KIND_CPU', family: 'software' }]);
  expect(r.rejected_encoders[0]?.reason).toBe('Cannot load libcuda.so.1');
  expect(r.limits).toEqual({ max_jobs: 2, max_gpu_jobs: 0, max_cpu_jobs: 2 });
  expect(r.draining).toBe(false);
  control = reg.call;
  control.write({ registered: { worker_id: 'w-test', heartbeat_interval_ms: 100 } });
  const hb = await controlEvents.next(is('heartbeat'), 'heartbeat');
  expect(hb.msg.heartbeat!.usage!.memory_total_bytes).toBeGreaterThan(0);
}, 30_000);

test("a Ping's heartbeat_interval_ms replaces the interval: heartbeats follow it, answered with the Pong", async () => {
  // Registered asked for 100 ms; the coordinator's fleet grows and it asks for 400 ms.
  const gaps = async (n: number) => {
    await controlEvents.next(is('heartbeat'), 'heartbeat');
    let at = performance.now();
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      await controlEvents.next(is('heartbeat'), 'heartbeat');
      const t = performance.now();
      out.push(t - at);
      at = t;
    }
    return out.sort((a, b) => a - b)[Math.floor(n / 2)]!; // the median gap
  };
  expect(await gaps(5)).toBeLessThan(250);
  control.write({ ping: { nonce: 7, heartbeat_interval_ms: 400 } });
  const pong = await controlEvents.next(is('pong'), 'pong');
  expect(Number(pong.msg.pong!.nonce)).toBe(7);
  expect(await gaps(4)).toBeGreaterThan(300);
  // 0 (an older coordinator) keeps the interval; back to 100 ms for the tests below.
  control.write({ ping: { nonce: 8, heartbeat_interval_ms: 0 } });
  await controlEvents.next(is('pong'), 'pong');
  expect(await gaps(3)).toBeGreaterThan(300);
  control.write({ ping: { nonce: 9, heartbeat_interval_ms: 100 } });
  await controlEvents.next(is('pong'), 'pong');
  expect(await gaps(5)).toBeLessThan(250);
}, 30_000);

test('rejects an encoder it does not have', async () => {
  control.write({ start_job: { job_id: 'j-nvenc', attempt: 1, spec: { ...spec, encoder: 'h264_nvenc' } } });
  const rej = await controlEvents.next(is('job_rejected'), 'job_rejected');
  expect(rej.msg.job_rejected).toMatchObject({ job_id: 'j-nvenc', attempt: 1, reason: 'REJECT_REASON_ENCODER_UNAVAILABLE' });
});

test('runs a job: source in over the job stream, H.264 TS out, job_ended COMPLETED', async () => {
  control.write({ start_job: { job_id: 'j1', attempt: 1, spec } });
  const job = await jobCalls.next((j) => j.open?.job_id === 'j1', 'job stream open');
  expect(job.open).toEqual({ job_id: 'j1', attempt: 1, lane: 0, lanes: 0 });
  for (let i = 0; i < input.length; i += 32 * 1024) {
    if (!job.call.write({ input: Buffer.from(input.subarray(i, i + 32 * 1024)) })) await new Promise((r) => job.call.once('drain', r));
  }
  job.call.write({ input_ended: { reason: 'test source ended' } });
  await job.ended;
  const ended = await controlEvents.next(is('job_ended'), 'job_ended');
  expect(ended.msg.job_ended).toMatchObject({ job_id: 'j1', attempt: 1, outcome: 'JOB_OUTCOME_COMPLETED', exit_code: 0 });
  const out = Buffer.concat(job.output);
  expect(out.length).toBeGreaterThan(0);
  expect(job.output.every((b) => b.length % 188 === 0 && b[0] === 0x47)).toBe(true);
  const file = path.join(dir, 'out.ts');
  fs.writeFileSync(file, out);
  const probe = Bun.spawn(['ffprobe', '-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', file], { stdout: 'pipe' });
  const info = JSON.parse(await new Response(probe.stdout).text()) as { streams: unknown[] };
  await probe.exited;
  expect(info.streams[0]).toMatchObject({ codec_name: 'h264', width: 160, height: 120 });
}, 30_000);

test("job_stream_address: the job stream goes to the job's owner, with the worker's credentials; JobEnded still on Control", async () => {
  const owner = await ScriptedCoordinator.start();
  try {
    control.write({ start_job: { job_id: 'j-owner', attempt: 2, spec, job_stream_address: owner.address } });
    const job = await owner.jobs.next((j) => j.open?.job_id === 'j-owner', 'job stream open at the owner');
    expect(job.open).toMatchObject({ job_id: 'j-owner', attempt: 2 });
    expect(job.call.metadata.get('authorization')).toEqual(['Bearer test-token']);
    expect(job.call.metadata.get('x-worker-id')).toEqual(['w-test']);
    expect(jobCalls.all.some((j) => j.open?.job_id === 'j-owner')).toBe(false);
    for (let i = 0; i < input.length; i += 32 * 1024) {
      if (!job.call.write({ input: Buffer.from(input.subarray(i, i + 32 * 1024)) })) await new Promise((r) => job.call.once('drain', r));
    }
    job.call.write({ input_ended: { reason: 'test source ended' } });
    await job.ended;
    expect(job.bytes()).toBeGreaterThan(0);
    const ended = await controlEvents.next((e) => e.msg.event === 'job_ended' && e.msg.job_ended?.job_id === 'j-owner', 'job_ended on Control');
    expect(ended.msg.job_ended).toMatchObject({ job_id: 'j-owner', attempt: 2, outcome: 'JOB_OUTCOME_COMPLETED' });
    expect(owner.control.all.length).toBe(0); // the owner never got a Control stream
  } finally {
    owner.server.forceShutdown();
  }
}, 30_000);

test('a job_stream_address that is not host:port is refused as an invalid spec', async () => {
  for (const [i, bad] of ['no-port', 'host:99999', `${'h'.repeat(256)}:1`, 'a b:1'].entries()) {
    control.write({ start_job: { job_id: `j-bad-${i}`, attempt: 1, spec, job_stream_address: bad } });
    const rej = await controlEvents.next((e) => e.msg.event === 'job_rejected' && e.msg.job_rejected?.job_id === `j-bad-${i}`, 'job_rejected');
    expect(rej.msg.job_rejected?.reason).toBe('REJECT_REASON_INVALID_SPEC');
  }
  expect(agent.activeJobs).toEqual([]);
});

test('cancel_job kills FFmpeg and reports CANCELLED', async () => {
  control.write({ start_job: { job_id: 'j2', attempt: 3, spec } });
  const job = await jobCalls.next((j) => j.open?.job_id === 'j2', 'job stream open');
  job.call.write({ input: Buffer.from(input.subarray(0, 188 * 100)) });
  control.write({ cancel_job: { job_id: 'j2', attempt: 3, reason: 'moved to another worker' } });
  const ended = await controlEvents.next(is('job_ended'), 'job_ended');
  expect(ended.msg.job_ended).toMatchObject({ job_id: 'j2', attempt: 3, outcome: 'JOB_OUTCOME_CANCELLED', message: 'moved to another worker' });
  expect(agent.activeJobs).toEqual([]);
}, 30_000);

test('a cancelled job holds no slot: a StartJob right behind the CancelJob of a full worker is accepted (a source restart)', async () => {
  // max_jobs 2: two running jobs fill the worker.
  control.write({ start_job: { job_id: 'full-1', attempt: 1, spec } });
  control.write({ start_job: { job_id: 'full-2', attempt: 1, spec } });
  const one = await jobCalls.next((j) => j.open?.job_id === 'full-1', 'job stream open');
  const two = await jobCalls.next((j) => j.open?.job_id === 'full-2', 'job stream open');
  one.call.write({ input: Buffer.from(input.subarray(0, 188 * 100)) });
  two.call.write({ input: Buffer.from(input.subarray(0, 188 * 100)) });
  // Cancel and restart in the same breath, as the coordinator does when a source changes codec.
  control.write({ cancel_job: { job_id: 'full-1', attempt: 1, reason: 'restart: source program-changed' } });
  control.write({ start_job: { job_id: 'full-3', attempt: 2, spec } });
  const three = await jobCalls.next((j) => j.open?.job_id === 'full-3', 'job stream open of the restart');
  expect(three.open?.job_id).toBe('full-3');
  const ended = await controlEvents.next((e) => e.msg.job_ended?.job_id === 'full-1', 'job_ended of the cancelled job');
  expect(ended.msg.job_ended?.outcome).toBe('JOB_OUTCOME_CANCELLED');
  // Still full: a fourth is refused while full-2 and full-3 run.
  control.write({ start_job: { job_id: 'full-4', attempt: 1, spec } });
  const rej = await controlEvents.next((e) => e.msg.job_rejected?.job_id === 'full-4', 'job_rejected');
  expect(rej.msg.job_rejected?.reason).toBe('REJECT_REASON_AT_CAPACITY');
  for (const id of ['full-2', 'full-3']) control.write({ cancel_job: { job_id: id, attempt: id === 'full-3' ? 2 : 1, reason: 'test done' } });
  for (const id of ['full-2', 'full-3']) await controlEvents.next((e) => e.msg.job_ended?.job_id === id, `job_ended ${id}`);
  expect(agent.activeJobs).toEqual([]);
}, 30_000);

test('drain rejects new jobs with DRAINING; resume accepts again', async () => {
  control.write({ drain: { reason: 'admin' } });
  control.write({ start_job: { job_id: 'j3', attempt: 1, spec } });
  const rej = await controlEvents.next(is('job_rejected'), 'job_rejected');
  expect(rej.msg.job_rejected).toMatchObject({ job_id: 'j3', reason: 'REJECT_REASON_DRAINING' });
  control.write({ resume: {} });
  control.write({ start_job: { job_id: 'j4', attempt: 1, spec } });
  const job = await jobCalls.next((j) => j.open?.job_id === 'j4', 'job stream open');
  // The coordinator dropping the job stream must stop FFmpeg too.
  job.call.emit('error', { code: grpc.status.CANCELLED, details: 'coordinator gave the job away' });
  const ended = await controlEvents.next(is('job_ended'), 'job_ended');
  expect(ended.msg.job_ended?.job_id).toBe('j4');
  expect(ended.msg.job_ended).toMatchObject({ outcome: 'JOB_OUTCOME_CANCELLED', message: expect.stringContaining('coordinator gave the job away') });
}, 30_000);

test('reconnects and registers again as the same identity after the control stream drops', async () => {
  const disconnected = new Promise((r) => agent.once('disconnected', r));
  control.emit('error', { code: grpc.status.UNAVAILABLE, details: 'coordinator restarting' });
  await disconnected;
  control = await register();
  expect(agent.activeJobs).toEqual([]);
}, 30_000);
