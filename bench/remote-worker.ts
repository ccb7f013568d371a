// How much one job stream carries to and from a worker on another host, and whether
// flow control still holds there. Run by hand, as root (it makes a network namespace):
//
//   bun bench/remote-worker.ts [--seconds=10] [--delay-ms=50] [--loss=0.1] [--only=NAME]
//
// A coordinator-side gRPC server runs here in the default namespace; a worker-side
// client runs in a namespace behind a veth pair with netem delay on both ends (RTT =
// 2 x delay). Both use the product's real gRPC settings (coordinator/grpc/server.ts
// grpcServerOptions, worker/client/grpc-connection.ts channelOptions) and the real
// JobStream contract; the payload is random bytes in 64 KiB messages, so FFmpeg is not
// the bottleneck. For each configuration it measures:
//   down / up      source bytes coordinator -> worker / output worker -> coordinator,
//                  writer honouring write() === false, reader reading as fast as it can;
//   slow-down/up   the same with a reader that takes only 1 Mbit/s: the writer must be
//                  held back (accepted - read stays near the windows) and the reader's
//                  RSS must stay flat. That is what "backpressure intact" means here.
//
//   --lanes=auto   the lanes the coordinator suggests at this RTT with default settings
//                  (common/job-lanes.ts chooseLanes: 25 Mbit/s per job at least);
//   --lanes=N      the product's job stream lanes instead of raw calls: the server side
//                  is the coordinator's ActiveJob (openLane, writeInput/waitDrain striping,
//                  output reassembly), the client side the worker's bridgeJobLanes
//                  (N connections) around a stand-in for FFmpeg (a slow stdin = slow-down;
//                  a slow consumer of ActiveJob.onOutput pausing the lanes = slow-up).
import * as grpc from '@grpc/grpc-js';
import { parseArgs } from 'node:util';
import { loadTranscodeProto } from '../proto/load';
import type { JobDownlink } from '../proto/gen/tvarr/transcode/v1/JobDownlink';
import type { JobUplink } from '../proto/gen/tvarr/transcode/v1/JobUplink';
import { channelOptions } from '../worker/client/grpc-connection';
import { grpcServerOptions } from '../coordinator/grpc/server';
import { createRemoteHost, canCreateNamespaces } from '../tests/helpers/netns';
import { readJsonLines } from '../tests/helpers/json-lines';
import type { JobUplink__Output } from '../proto/gen/tvarr/transcode/v1/JobUplink';
import { ActiveJob } from '../coordinator/jobs/active-job';
import { bridgeJobLanes, openJobLanes } from '../worker/client/job-lanes';
import type { JobProcess } from '../worker/runner/job-process';
import { setLogLevel, createLogger } from '../common/log';
import { chooseLanes } from '../common/job-lanes';

type Direction = 'down' | 'up';
interface Scenario {
  direction: Direction;
  /** reader's rate in bytes/s; 0 = as fast as it can */
  slowReaderBps: number;
}
interface Config {
  name: string;
  /** extra client channel options on top of channelOptions() */
  client: grpc.ChannelOptions;
  /** extra server options on top of grpcServerOptions() */
  server: grpc.ServerOptions;
}
interface RoleResult {
  role: 'server' | 'client';
  written: number;
  read: number;
  readSeconds: number;
  rssStartMb: number;
  rssMaxMb: number;
  rssEndMb: number;
}

const CHUNK = 64 * 1024;
const SLOW_BPS = 125_000; // 1 Mbit/s
const payload = Buffer.alloc(CHUNK, 0x47);

const { values: args } = parseArgs({
  options: {
    role: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    seconds: { type: 'string', default: '10' },
    'delay-ms': { type: 'string', default: '50' },
    loss: { type: 'string', default: '0.1' },
    scenario: { type: 'string' },
    config: { type: 'string' },
    only: { type: 'string' },
    streams: { type: 'string', default: '1' },
    scenarios: { type: 'string', default: 'down,up,slow-down,slow-up' },
    lanes: { type: 'string', default: '0' },
  },
});
// --lanes=auto: what the coordinator would suggest with no setting (chooseLanes from the RTT).
const LANES = args.lanes === 'auto' ? chooseLanes(2 * Number(args['delay-ms'])) : Number(args.lanes);
// Whole 188-byte packets, as the worker's output aligner requires (~64 KiB).
const TS_CHUNK = 188 * 348;
const tsPayload = Buffer.alloc(TS_CHUNK, 0x47);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const rssMb = () => Math.round((process.memoryUsage.rss() / 1048576) * 10) / 10;

/** Writes 64 KiB messages as long as the stream accepts them, waiting on 'drain'. */
async function writeFlat(call: { write(m: unknown): boolean; once(e: string, f: () => void): unknown }, make: () => unknown, untilMs: number, onWrite: () => void): Promise<void> {
  let closed = false;
  for (const e of ['status', 'error', 'close', 'finish']) call.once(e, () => (closed = true));
  while (Date.now() < untilMs && !closed) {
    onWrite();
    if (!call.write(make())) {
      // 'drain', or the other side closing, or the run's end: whichever comes first.
      await new Promise<void>((resolve) => {
        const events = ['drain', 'status', 'error', 'close'];
        const done = () => {
          for (const e of events) (call as unknown as NodeJS.EventEmitter).off(e, done);
          clearTimeout(timer);
          resolve();
        };
        for (const e of events) call.once(e, done);
        const timer = setTimeout(done, Math.max(0, untilMs - Date.now()));
      });
    }
  }
}

/** Reads messages, counting bytes; a slow reader pauses the call so only `bps` get through. */
function readCounting<M>(call: NodeJS.EventEmitter & { pause(): unknown; resume(): unknown }, bytesOf: (m: M) => number, bps: number, stats: { read: number; first: number; last: number }) {
  call.on('data', (m: M) => {
    const n = bytesOf(m);
    if (n === 0) return;
    const now = Date.now();
    if (stats.first === 0) stats.first = now;
    stats.last = now;
    stats.read += n;
    if (bps > 0) {
      call.pause();
      setTimeout(() => call.resume(), (n / bps) * 1000);
    }
  });
}

function sampleRss(into: { max: number }): ReturnType<typeof setInterval> {
  return setInterval(() => {
    into.max = Math.max(into.max, rssMb());
  }, 100);
}

async function runServer(): Promise<void> {
  const scenario = JSON.parse(args.scenario!) as Scenario;
  const config = JSON.parse(args.config!) as Config;
  const seconds = Number(args.seconds);
  const server = new grpc.Server({ ...grpcServerOptions({ heartbeatIntervalMs: 2000, workerLossDeadlineMs: 6000, maxMessageBytes: 4 << 20 }), ...config.server });
  const proto = loadTranscodeProto();
  const rssStartMb = rssMb();
  const rss = { max: rssStartMb };
  const timer = sampleRss(rss);
  const stats = { read: 0, first: 0, last: 0 };
  let written = 0;
  let open = Number(args.streams);
  const done = new Promise<void>((resolveAll) => {
    const resolve = () => {
      if (--open === 0) resolveAll();
    };
    server.addService(proto.tvarr.transcode.v1.TranscodeCoordinator.service, {
      Control: (call: grpc.ServerDuplexStream<unknown, unknown>) => call.end(),
      JobStream: (call: grpc.ServerDuplexStream<JobUplink, JobDownlink>) => {
        readCounting(call, (m: JobUplink) => m.output?.length ?? 0, scenario.direction === 'up' ? scenario.slowReaderBps / Number(args.streams) : 0, stats);
        call.once('data', () => {
          const until = Date.now() + seconds * 1000;
          if (scenario.direction === 'down') {
            void writeFlat(call as never, () => ({ input: payload }), until, () => (written += CHUNK)).then(() => {
              call.end();
              resolve();
            });
          } else {
            setTimeout(() => {
              call.end();
              resolve();
            }, seconds * 1000);
          }
        });
      },
    });
  });
  const port = await new Promise<number>((res, rej) => server.bindAsync(`${args.host}:0`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  console.log(JSON.stringify({ port }));
  await done;
  clearInterval(timer);
  const out: RoleResult = { role: 'server', written, read: stats.read, readSeconds: (stats.last - stats.first) / 1000, rssStartMb, rssMaxMb: rss.max, rssEndMb: rssMb() };
  console.log(JSON.stringify(out));
  server.forceShutdown();
  process.exit(0);
}

/** Coordinator side with lanes: the product's ActiveJob behind N JobStream calls. */
async function runLanesServer(): Promise<void> {
  const scenario = JSON.parse(args.scenario!) as Scenario;
  const config = JSON.parse(args.config!) as Config;
  const seconds = Number(args.seconds);
  const server = new grpc.Server({ ...grpcServerOptions({ heartbeatIntervalMs: 2000, workerLossDeadlineMs: 6000, maxMessageBytes: 4 << 20 }), ...config.server });
  const proto = loadTranscodeProto();
  const rssStartMb = rssMb();
  const rss = { max: rssStartMb };
  const timer = sampleRss(rss);
  const stats = { read: 0, first: 0, last: 0 };
  let written = 0;
  const job = new ActiveJob({ jobId: 'bench', runId: 'bench', attempt: 1, workerId: 'bench', encoder: 'copy', kind: 'cpu' });
  const calls: grpc.ServerDuplexStream<JobUplink__Output, JobDownlink>[] = [];
  // A slow consumer of the reassembled output pauses every lane, as a busy coordinator would.
  let resumeAt = 0;
  let resumeTimer: ReturnType<typeof setTimeout> | undefined;
  job.onOutput = (chunk) => {
    const now = Date.now();
    if (stats.first === 0) stats.first = now;
    stats.last = now;
    stats.read += chunk.byteLength;
    if (scenario.direction !== 'up' || !scenario.slowReaderBps) return;
    resumeAt = Math.max(resumeAt, now) + (chunk.byteLength / scenario.slowReaderBps) * 1000;
    for (const c of calls) c.pause();
    clearTimeout(resumeTimer);
    resumeTimer = setTimeout(() => calls.forEach((c) => c.resume()), resumeAt - now);
  };
  server.addService(proto.tvarr.transcode.v1.TranscodeCoordinator.service, {
    Control: (call: grpc.ServerDuplexStream<unknown, unknown>) => call.end(),
    JobStream: (call: grpc.ServerDuplexStream<JobUplink__Output, JobDownlink>) => {
      calls.push(call);
      call.on('error', () => {});
      call.on('data', (m: JobUplink__Output) => {
        if (m.msg === 'open' && m.open) job.openLane(m.open.lane, m.open.lanes, call);
        else if (m.msg === 'output_chunk' && m.output_chunk) job.handleOutputChunk(m.output_chunk.seq, m.output_chunk.data);
      });
    },
  });
  const port = await new Promise<number>((res, rej) => server.bindAsync(`${args.host}:0`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  console.log(JSON.stringify({ port }));
  await job.waitAttached();
  const until = Date.now() + seconds * 1000;
  if (scenario.direction === 'down') {
    while (Date.now() < until && !job.ended) {
      written += payload.byteLength;
      if (!job.writeInput(payload)) await Promise.race([job.waitDrain(), sleep(until - Date.now())]);
    }
  } else {
    await sleep(seconds * 1000);
  }
  clearInterval(timer);
  const out: RoleResult = { role: 'server', written, read: stats.read, readSeconds: (stats.last - stats.first) / 1000, rssStartMb, rssMaxMb: rss.max, rssEndMb: rssMb() };
  console.log(JSON.stringify({ ...out, reorderFailure: job.ended?.reason ?? null }));
  server.forceShutdown();
  process.exit(0);
}

/** Worker side with lanes: bridgeJobLanes around a stand-in for FFmpeg. */
async function runLanesClient(): Promise<void> {
  const scenario = JSON.parse(args.scenario!) as Scenario;
  const config = JSON.parse(args.config!) as Config;
  const seconds = Number(args.seconds);
  setLogLevel('error');
  const { TranscodeCoordinator } = loadTranscodeProto().tvarr.transcode.v1;
  const clients = Array.from({ length: LANES }, () =>
    new TranscodeCoordinator(`${args.host}:${args.port}`, grpc.credentials.createInsecure(), { ...channelOptions({ keepaliveTimeMs: 2000, keepaliveTimeoutMs: 2000 }), ...config.client, 'grpc.use_local_subchannel_pool': 1 }),
  );
  const rssStartMb = rssMb();
  const rss = { max: rssStartMb };
  const timer = sampleRss(rss);
  const stats = { read: 0, first: 0, last: 0 };
  let written = 0;
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  let cancelled = false;
  let exitResolve!: (e: { code: number; signal: null; message: string }) => void;
  // Only what bridgeJobLanes uses of a JobProcess.
  const proc = {
    bytesIn: 0,
    bytesOut: 0,
    lastProgress: undefined,
    hasExited: false,
    exited: new Promise((r) => (exitResolve = r)),
    async write(chunk: Uint8Array) {
      const now = Date.now();
      if (stats.first === 0) stats.first = now;
      stats.last = now;
      stats.read += chunk.byteLength;
      if (scenario.direction === 'down' && scenario.slowReaderBps) await sleep((chunk.byteLength / scenario.slowReaderBps) * 1000);
    },
    async endInput() {
      stop();
    },
    async cancel() {
      cancelled = true;
      stop();
    },
    async *output() {
      if (scenario.direction === 'up') {
        const until = Date.now() + (seconds + 5) * 1000;
        while (!cancelled && Date.now() < until) {
          written += TS_CHUNK;
          yield tsPayload;
        }
      } else {
        await stopped;
      }
      proc.hasExited = true;
      exitResolve({ code: 0, signal: null, message: '' });
    },
  };
  const calls = openJobLanes(clients, () => new grpc.Metadata(), { jobId: 'bench', attempt: 1 });
  await bridgeJobLanes({ calls, proc: proc as unknown as JobProcess, ref: { jobId: 'bench', attempt: 1 }, logger: createLogger('bench'), closeTimeoutMs: 1000 });
  clearInterval(timer);
  const out: RoleResult = { role: 'client', written, read: stats.read, readSeconds: (stats.last - stats.first) / 1000, rssStartMb, rssMaxMb: rss.max, rssEndMb: rssMb() };
  console.log(JSON.stringify(out));
  for (const c of clients) c.close();
  process.exit(0);
}

async function runClient(): Promise<void> {
  const scenario = JSON.parse(args.scenario!) as Scenario;
  const config = JSON.parse(args.config!) as Config;
  const seconds = Number(args.seconds);
  const { TranscodeCoordinator } = loadTranscodeProto().tvarr.transcode.v1;
  const client = new TranscodeCoordinator(`${args.host}:${args.port}`, grpc.credentials.createInsecure(), {
    ...channelOptions({ keepaliveTimeMs: 2000, keepaliveTimeoutMs: 2000 }),
    ...config.client,
  });
  const rssStartMb = rssMb();
  const rss = { max: rssStartMb };
  const timer = sampleRss(rss);
  const stats = { read: 0, first: 0, last: 0 };
  let written = 0;
  // --streams=K: one job striped over K JobStream calls, the slow reader's rate split between them.
  const k = Number(args.streams);
  // Each stripe on its own connection (own subchannel pool): HTTP/2's connection window
  // is also 64 KiB, so stripes sharing one connection share its cap.
  const clients = Array.from({ length: k }, (_, i) =>
    i === 0 ? client : new TranscodeCoordinator(`${args.host}:${args.port}`, grpc.credentials.createInsecure(), { ...channelOptions({ keepaliveTimeMs: 2000, keepaliveTimeoutMs: 2000 }), ...config.client, 'grpc.use_local_subchannel_pool': 1 }),
  );
  const calls = clients.map((c) => c.JobStream(new grpc.Metadata()));
  await Promise.all(
    calls.map(async (call) => {
      readCounting(call, (m: JobDownlink) => m.input?.length ?? 0, scenario.direction === 'down' ? scenario.slowReaderBps / k : 0, stats);
      call.write({ open: { job_id: 'bench', attempt: 1 } });
      const ended = new Promise<void>((r) => {
        call.on('status', () => r());
        call.on('error', () => r());
      });
      if (scenario.direction === 'up') {
        await writeFlat(call as never, () => ({ output: payload }), Date.now() + seconds * 1000, () => (written += CHUNK));
      }
      await ended;
    }),
  );
  clearInterval(timer);
  const out: RoleResult = { role: 'client', written, read: stats.read, readSeconds: (stats.last - stats.first) / 1000, rssStartMb, rssMaxMb: rss.max, rssEndMb: rssMb() };
  console.log(JSON.stringify(out));
  for (const call of calls) call.cancel();
  for (const c of clients) c.close();
  process.exit(0);
}

async function runOne(hostAddr: string, exec: (a: string[]) => string[], config: Config, scenario: Scenario) {
  const common = [`--lanes=${LANES}`, `--streams=${args.streams}`, `--seconds=${args.seconds}`, `--scenario=${JSON.stringify(scenario)}`, `--config=${JSON.stringify(config)}`];
  const me = new URL(import.meta.url).pathname;
  const server = Bun.spawn([process.execPath, me, '--role=server', `--host=${hostAddr}`, ...common], { stdout: 'pipe', stderr: 'inherit' });
  let serverResult: RoleResult | undefined;
  let portResolve!: (p: number) => void;
  const portP = new Promise<number>((r) => (portResolve = r));
  const serverLines = readJsonLines(server.stdout, (o) => (o.port ? portResolve(o.port as number) : (serverResult = o as unknown as RoleResult)));
  const port = await portP;
  const client = Bun.spawn(exec([process.execPath, me, '--role=client', `--host=${hostAddr}`, `--port=${port}`, ...common]), { stdout: 'pipe', stderr: 'inherit' });
  let clientResult: RoleResult | undefined;
  await Promise.all([readJsonLines(client.stdout, (o) => (clientResult = o as unknown as RoleResult)), serverLines, client.exited, server.exited]);
  if (!serverResult || !clientResult) throw new Error(`${config.name}: a role produced no result`);
  const [writer, reader] = scenario.direction === 'down' ? [serverResult, clientResult] : [clientResult, serverResult];
  return {
    config: `${config.name}${LANES > 1 ? ` job lanes x${LANES}` : args.streams === '1' ? '' : ` x${args.streams} streams`}`,
    scenario: `${scenario.slowReaderBps ? 'slow-' : ''}${scenario.direction}`,
    mbitPerS: Math.round(((reader.read * 8) / 1e6 / Math.max(reader.readSeconds, 0.001)) * 10) / 10,
    readMb: Math.round(reader.read / 1e4) / 100,
    aheadMb: Math.round((writer.written - reader.read) / 1e4) / 100,
    readerRssMb: `${reader.rssStartMb} -> max ${reader.rssMaxMb}`,
  };
}

// Configurations compared: the product's settings first, then the alternatives measured.
const CONFIGS: Config[] = [
  { name: 'product', client: {}, server: {} },
  { name: 'http2-defaults', client: { 'grpc-node.flow_control_window': 65535 }, server: { 'grpc-node.flow_control_window': 65535 } as never },
  { name: 'client-window-256KiB', client: { 'grpc-node.flow_control_window': 256 << 10 }, server: {} },
  { name: 'client-window-1MiB', client: { 'grpc-node.flow_control_window': 1 << 20 }, server: {} },
  { name: 'client-window-4MiB', client: { 'grpc-node.flow_control_window': 4 << 20 }, server: {} },
];

async function orchestrate(): Promise<void> {
  const why = canCreateNamespaces();
  if (why) {
    console.error(`cannot run: ${why} (run as root on Linux)`);
    process.exit(1);
  }
  const delayMs = Number(args['delay-ms']);
  const loss = Number(args.loss);
  const host = await createRemoteHost({ delayMs, lossPercent: loss });
  const cleanup = () => host.destroy();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      cleanup();
      process.exit(130);
    });
  }
  console.log(`remote worker bench (${host.link}): RTT ${2 * delayMs} ms, loss ${loss}% each way, ${args.seconds} s per run, ${new Date().toISOString()}`);
  const rows = [];
  try {
    for (const config of CONFIGS.filter((c) => !args.only || c.name === args.only)) {
      for (const scenario of ([
        { direction: 'down', slowReaderBps: 0 },
        { direction: 'up', slowReaderBps: 0 },
        { direction: 'down', slowReaderBps: SLOW_BPS },
        { direction: 'up', slowReaderBps: SLOW_BPS },
      ] as Scenario[]).filter((sc) => args.scenarios!.split(',').includes(`${sc.slowReaderBps ? 'slow-' : ''}${sc.direction}`))) {
        const row = await runOne(host.hostAddress, host.exec, config, scenario);
        console.log(JSON.stringify(row));
        rows.push(row);
      }
    }
  } finally {
    cleanup();
  }
  console.table(rows);
}

if (args.role === 'server') await (LANES > 1 ? runLanesServer() : runServer());
else if (args.role === 'client') await (LANES > 1 ? runLanesClient() : runClient());
else await orchestrate();
