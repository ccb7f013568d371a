// A worker with several coordinators (TVARR_COORDINATOR_URL "A,B") against scripted
// coordinators on loopback ports: it holds one Control stream, moves to the next address
// at once when that one is lost (no backoff between addresses), registers there as the
// same identity with its running jobs, and keeps a job whose own coordinator is alive.
import { afterEach, beforeAll, expect, test } from 'bun:test';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { LogFields, Logger } from '../../common/log';
import { parseWorkerConfig } from '../../worker/config';
import { WorkerAgent } from '../../worker/client/worker-agent';
import type { Capabilities } from '../../worker/probe/capabilities';
import { isEvent, ScriptedCoordinator, type JobCall } from '../helpers/scripted-coordinator';

const TOKEN = 'move-test-token';
// Backoff far above the bound asserted: a move that waited it (at least half of 10 s,
// equal jitter) could not pass, so passing says "no backoff between addresses".
const BACKOFF_MS = '10000';
const MOVE_BOUND_MS = 4000;

const caps: Capabilities = {
  ffmpegVersion: '5.1-test',
  encoders: [{ name: 'libx264', codec: 'h264', family: 'software', kind: 'cpu' }],
  rejectedEncoders: [],
  gpus: [],
  speedFps: 100,
};
// Remux only: cheap on 2 cores, and FFmpeg writes output as input arrives.
const copySpec = { encoder: 'copy', width: 0, height: 0, video_bitrate_kbps: 0, audio_codec: 'copy', audio_bitrate_kbps: 0, gop_frames: 0, preset: '' };

/** Log lines kept for assertions (the worker's own logger interface). */
function recordingLogger(lines: Array<{ level: string; msg: string } & LogFields>, base: LogFields = {}): Logger {
  const at = (level: string) => (msg: string, fields?: LogFields) => void lines.push({ ...base, ...fields, level, msg });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (f) => recordingLogger(lines, { ...base, ...f }) };
}

let input: Uint8Array;
const started: Array<{ stop(): void | Promise<void> }> = [];

beforeAll(async () => {
  // 20 s of a tiny pattern: enough to keep a job running across a move when fed slowly.
  const gen = Bun.spawn(['ffmpeg', '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '20', '-c:v', 'libx264', '-preset', 'ultrafast',
    '-g', '25', '-c:a', 'aac', '-f', 'mpegts', '-'], { stdout: 'pipe', stderr: 'inherit' });
  input = new Uint8Array(await new Response(gen.stdout).arrayBuffer());
  expect(await gen.exited).toBe(0);
});

afterEach(async () => {
  for (const s of started.splice(0).reverse()) await s.stop();
});

async function coordinators(n: number): Promise<ScriptedCoordinator[]> {
  const list = await Promise.all(Array.from({ length: n }, () => ScriptedCoordinator.start()));
  for (const c of list) started.push({ stop: () => c.kill() });
  return list;
}

function startAgent(urls: string, opts: { random?: number; backoffMs?: string } = {}) {
  const lines: Array<{ level: string; msg: string } & LogFields> = [];
  const config = parseWorkerConfig({
    TVARR_COORDINATOR_URL: urls, TVARR_AUTH_TOKEN: TOKEN, TVARR_WORKER_ID: 'w-move',
    TVARR_MAX_JOBS: '2', TVARR_MAX_CPU_JOBS: '2', TVARR_RECONNECT_BASE_MS: opts.backoffMs ?? BACKOFF_MS, TVARR_RECONNECT_MAX_MS: opts.backoffMs ?? BACKOFF_MS,
  }, { hostname: 'test-host', cpuCount: 2, nvidiaGpuCount: 0, otherGpuCount: 0 });
  const agent = new WorkerAgent({ config, capabilities: caps, logger: recordingLogger(lines), version: 'test', random: () => opts.random ?? 0 });
  agent.start();
  started.push({ stop: () => agent.stop('test finished') });
  return { agent, lines };
}

/** Feeds the input in small slices, paced, until stopped or the input is used up. */
function feed(call: JobCall, paceMs = 20) {
  let stopped = false;
  let offset = 0;
  const done = (async () => {
    while (!stopped && offset < input.length) {
      const piece = Buffer.from(input.subarray(offset, offset + 188 * 40));
      offset += piece.length;
      if (!call.write({ input: piece })) await new Promise((r) => call.once('drain', r));
      await Bun.sleep(paceMs);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
    },
    /** The rest at once, then input_ended: the job completes. */
    finish: async () => {
      stopped = true;
      await done;
      call.write({ input: Buffer.from(input.subarray(offset)) });
      call.write({ input_ended: { reason: 'test source ended' } });
    },
  };
}

test('A is killed: the worker registers on B as the same identity, without waiting the backoff', async () => {
  const [a, b] = await coordinators(2);
  const { agent, lines } = startAgent(`${a!.address},${b!.address}`, { random: 0 });
  const onA = new Promise<{ address: string }>((r) => agent.once('registered', r));
  const first = await a!.acceptRegister();
  expect(first.metadata.get('x-worker-id')).toEqual(['w-move']);
  expect((await onA).address).toBe(a!.address);

  const killedAt = performance.now();
  a!.kill();
  const moved = new Promise<{ address: string }>((r) => agent.once('registered', r));
  const second = await b!.acceptRegister({ timeoutMs: 9000 });
  const tookMs = second.at - killedAt;
  expect(tookMs).toBeLessThan(MOVE_BOUND_MS);
  expect((await moved).address).toBe(b!.address);
  // Same identity: token, worker id and registration as on A.
  expect(second.metadata.get('authorization')).toEqual([`Bearer ${TOKEN}`]);
  expect(second.metadata.get('x-worker-id')).toEqual(['w-move']);
  expect(second.msg.register!.worker_id).toBe('w-move');
  expect(second.msg.register!.hostname).toBe('test-host');
  // One line for the move, naming both addresses and never the token.
  const move = lines.filter((l) => l.msg === 'coordinator lost; trying next');
  expect(move).toHaveLength(1);
  expect(move[0]).toMatchObject({ level: 'warn', address: a!.address, next: b!.address });
  expect(lines.some((l) => l.msg === 'control stream lost; reconnecting')).toBe(false); // no backoff waited
  expect(JSON.stringify(lines)).not.toContain(TOKEN);
  // It heartbeats on B: the Control stream there is the one held.
  await b!.control.next(isEvent('heartbeat'), 'heartbeat on B');
  console.log(`moved from A to B ${tookMs.toFixed(0)} ms after A was killed`);
}, 30_000);

test('addresses that refuse are passed over at once: the live one is reached without a backoff', async () => {
  const [live, dead1, dead2] = await coordinators(3);
  const refused = [dead1!.address, dead2!.address];
  dead1!.kill();
  dead2!.kill();
  // random 0 starts at the first entry: both dead ones are tried before the live one.
  const t0 = performance.now();
  const { lines } = startAgent(`${refused[0]},${refused[1]},${live!.address}`, { random: 0 });
  const reg = await live!.acceptRegister({ timeoutMs: 9000 });
  expect(reg.at - t0).toBeLessThan(MOVE_BOUND_MS);
  expect(lines.filter((l) => l.msg === 'coordinator lost; trying next').map((l) => l.address)).toEqual(refused);
  expect(lines.some((l) => l.msg === 'control stream lost; reconnecting')).toBe(false);
}, 30_000);

test('an address that takes the connection but never answers (a frozen coordinator) is given up within the keepalive deadline', async () => {
  const [live] = await coordinators(1);
  const sockets: net.Socket[] = [];
  const silent = net.createServer((s) => void sockets.push(s.on('error', () => {})));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  started.push({ stop: () => (sockets.forEach((s) => s.destroy()), void silent.close()) });
  const silentAddress = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
  // Keepalive 500 ms + 2250 ms by default: given up at about 2.75 s, far below both the
  // 15 s registration deadline and the backoff (at least 10 s here).
  const t0 = performance.now();
  const { lines } = startAgent(`${silentAddress},${live!.address}`, { random: 0, backoffMs: '20000' });
  const reg = await live!.acceptRegister({ timeoutMs: 12_000 });
  expect(reg.at - t0).toBeLessThan(6000);
  const move = lines.find((l) => l.msg === 'coordinator lost; trying next');
  expect(move).toMatchObject({ address: silentAddress, next: live!.address });
  console.log(`silent address given up after ${(reg.at - t0).toFixed(0)} ms: ${String(move?.reason)}`);
}, 30_000);

test('coordinators that register the worker and drop it at once are not dialled in a loop: the round ends with the backoff', async () => {
  const [a, b] = await coordinators(2);
  for (const c of [a!, b!]) {
    void (async () => {
      for (;;) {
        const reg = await c.control.next(isEvent('register'), 'register', 60_000).catch(() => undefined);
        if (!reg) return;
        reg.call.write({ registered: { worker_id: 'w-move', heartbeat_interval_ms: 200 } });
        reg.call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'dropped at once' });
      }
    })();
  }
  const { lines } = startAgent(`${a!.address},${b!.address}`, { random: 0 });
  const deadline = Date.now() + 9000;
  while (!lines.some((l) => l.msg === 'control stream lost; reconnecting') && Date.now() < deadline) await Bun.sleep(20);
  await Bun.sleep(500);
  // One registration on each, then the backoff (at least 5 s here), not a third one.
  expect(lines.filter((l) => l.msg === 'registered').map((l) => l.address)).toEqual([a!.address, b!.address]);
  expect(lines.find((l) => l.msg === 'control stream lost; reconnecting')?.retryInMs).toBeGreaterThanOrEqual(5000);
}, 30_000);

test('the Control stream alone is lost: the job keeps streaming to A, B gets it in active_jobs and its job_ended', async () => {
  const [a, b] = await coordinators(2);
  const { agent } = startAgent(`${a!.address},${b!.address}`, { random: 0 });
  const regA = await a!.acceptRegister();
  regA.call.write({ start_job: { job_id: 'j-keep', attempt: 2, spec: copySpec } });
  const job = await a!.jobs.next((j) => j.open?.job_id === 'j-keep', 'job stream on A');
  const feeder = feed(job.call);
  while (job.bytes() === 0) await Bun.sleep(20);

  // A closes the worker's Control call (UNAVAILABLE) but stays up, its job stream too.
  regA.call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'control stream dropped' });
  const regB = await b!.acceptRegister({ timeoutMs: 9000 });
  expect(regB.msg.register!.active_jobs).toEqual([{ job_id: 'j-keep', attempt: 2 }]);
  expect(agent.activeJobs).toEqual([{ jobId: 'j-keep', attempt: 2 }]);

  // Output still flows to A after the move, and B never saw a job stream.
  const before = job.bytes();
  const deadline = Date.now() + 10_000;
  while (job.bytes() <= before && Date.now() < deadline) await Bun.sleep(20);
  expect(job.bytes()).toBeGreaterThan(before);
  expect(b!.jobs.all).toHaveLength(0);

  await feeder.finish();
  await job.ended;
  const ended = await b!.control.next(isEvent('job_ended'), 'job_ended on B');
  expect(ended.msg.job_ended).toMatchObject({ job_id: 'j-keep', attempt: 2, outcome: 'JOB_OUTCOME_COMPLETED', exit_code: 0 });
  expect(a!.control.all.filter((m) => m.msg.event === 'job_ended')).toHaveLength(0);
}, 60_000);

test("a job B lists in Registered.cancel_jobs is stopped; a job whose coordinator died ends by itself", async () => {
  const [a, b] = await coordinators(2);
  // A short backoff: B's session may end before its first heartbeat, and then the worker
  // waits one before it tries A again (not what this test is about).
  const { agent } = startAgent(`${a!.address},${b!.address}`, { random: 0, backoffMs: '300' });
  const regA = await a!.acceptRegister();
  regA.call.write({ start_job: { job_id: 'j-unwanted', attempt: 1, spec: copySpec } });
  const unwanted = await a!.jobs.next((j) => j.open?.job_id === 'j-unwanted', 'job stream on A');
  const feeder = feed(unwanted.call);
  while (unwanted.bytes() === 0) await Bun.sleep(20);

  regA.call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'control stream dropped' });
  await b!.acceptRegister({ cancelJobs: [{ job_id: 'j-unwanted', attempt: 1 }], timeoutMs: 9000 });
  const ended = await b!.control.next(isEvent('job_ended'), 'job_ended on B');
  expect(ended.msg.job_ended).toMatchObject({ job_id: 'j-unwanted', outcome: 'JOB_OUTCOME_CANCELLED' });
  await feeder.stop();

  // Now a job started by B, whose coordinator is then killed: its stream fails, FFmpeg is
  // stopped, and the job_ended is handed to whichever coordinator the worker is on next.
  const control = b!.control.all.find((m) => m.msg.event === 'register')!.call;
  control.write({ start_job: { job_id: 'j-orphan', attempt: 1, spec: copySpec } });
  const orphan = await b!.jobs.next((j) => j.open?.job_id === 'j-orphan', 'job stream on B');
  const feeder2 = feed(orphan.call);
  while (orphan.bytes() === 0) await Bun.sleep(20);
  await feeder2.stop();
  b!.kill();
  await a!.acceptRegister({ timeoutMs: 9000 });
  const report = await a!.control.next(isEvent('job_ended'), 'job_ended on A');
  expect(report.msg.job_ended?.job_id).toBe('j-orphan');
  expect(report.msg.job_ended?.outcome).not.toBe('JOB_OUTCOME_COMPLETED');
  while (agent.activeJobs.length > 0) await Bun.sleep(20);
}, 60_000);
