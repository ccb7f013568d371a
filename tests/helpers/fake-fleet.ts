// A fleet of fake workers in one process, for the fleet test and bench: N Control streams
// that do exactly what the proto's comments ask of an idle worker (register first, answer
// every Ping with a Pong, heartbeat at the interval Registered gives) and nothing else.
// They run no jobs: the coordinator's cost of holding a large idle fleet is what is measured.
//
//   bun tests/helpers/fake-fleet.ts --coordinator=127.0.0.1:9090 --count=1000 [--prefix=fleet] [--per-channel=50]
//
// Prints one JSON line per event on stdout: {"event":"registered","count":N} as workers
// register (every 100 and at the end), {"event":"heartbeats","total":T} every `count`
// heartbeats sent, {"event":"lost","workerId",...} if a stream ends.
// SIGUSR1 makes every worker go silent (no heartbeat, no pong) while its connection stays up
// and answers keepalive pings: a hung worker only the coordinator's loss sweep can find.
// Runs until killed.
import * as grpc from '@grpc/grpc-js';
import { parseArgs } from 'node:util';
import { loadTranscodeProto } from '../../proto/load';
import { registerMessage } from './scripted-peer';
import { peerMetadata } from './security';
import type { CoordinatorCommand__Output } from '../../proto/gen/tvarr/transcode/v1/CoordinatorCommand';
import type { WorkerEvent } from '../../proto/gen/tvarr/transcode/v1/WorkerEvent';

const { values } = parseArgs({
  options: {
    coordinator: { type: 'string' },
    count: { type: 'string', default: '100' },
    prefix: { type: 'string', default: 'fleet' },
    'per-channel': { type: 'string', default: '50' },
    token: { type: 'string' },
    'keepalive-ms': { type: 'string', default: '10000' },
  },
});
const target = values.coordinator!;
const count = Number(values.count);
const perChannel = Math.max(1, Number(values['per-channel']));
const print = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

const proto = loadTranscodeProto();
const Client = proto.tvarr.transcode.v1.TranscodeCoordinator;
const channels: InstanceType<typeof Client>[] = [];
let registered = 0;
let heartbeats = 0;
let silent = false;
process.on('SIGUSR1', () => {
  silent = true;
  print({ event: 'silent' });
});

function startWorker(i: number): void {
  const channelIndex = Math.floor(i / perChannel);
  channels[channelIndex] ??= new Client(target, grpc.credentials.createInsecure(), { 'grpc.keepalive_time_ms': Number(values['keepalive-ms']), 'grpc.keepalive_timeout_ms': 2250, 'grpc.keepalive_permit_without_calls': 1 });
  const client = channels[channelIndex]!;
  const workerId = `${values.prefix}-${String(i).padStart(5, '0')}`;
  const call = client.Control(peerMetadata(workerId, values.token));
  let timer: ReturnType<typeof setInterval> | undefined;
  let interval = 0;
  const beat = (ms: number) => {
    if (timer) clearInterval(timer);
    interval = ms;
    timer = setInterval(() => {
      if (silent) return;
      send({ heartbeat: { usage: usage(), jobs: [] } });
      // One line per `count` heartbeats: about one per heartbeat round of the whole fleet.
      if (++heartbeats % count === 0) print({ event: 'heartbeats', total: heartbeats });
    }, ms);
  };
  const send = (e: WorkerEvent) => silent || call.write(e);
  // Usage changes a little every heartbeat, as a real worker's does.
  const usage = () => ({ cpu_percent: 1 + Math.random(), memory_used_bytes: 1 << 28, memory_total_bytes: 1 << 32, load1: 0.1, gpus: [] });
  send({ register: registerMessage(workerId, { version: 'fake-fleet', hostname: 'fleet-host', limits: { max_jobs: 1, max_gpu_jobs: 0, max_cpu_jobs: 1 } }) });
  call.on('data', (cmd: CoordinatorCommand__Output) => {
    if (cmd.command === 'registered' && cmd.registered) {
      registered += 1;
      if (registered % 100 === 0 || registered === count) print({ event: 'registered', count: registered });
      beat(Math.max(50, cmd.registered.heartbeat_interval_ms || 250));
    } else if (cmd.command === 'ping' && cmd.ping) {
      send({ pong: { nonce: cmd.ping.nonce } });
      // The proto's rule: a Ping's non-zero heartbeat_interval_ms replaces the interval.
      const next = cmd.ping.heartbeat_interval_ms;
      if (next > 0 && next !== interval && timer) beat(Math.max(50, next));
    }
  });
  const lost = (reason: string) => {
    if (timer) clearInterval(timer);
    timer = undefined;
    print({ event: 'lost', workerId, reason });
  };
  call.on('error', (err: Error) => lost(err.message));
  call.on('end', () => lost('ended'));
}

// Register in small bursts: a real fleet does not dial in within one millisecond.
for (let i = 0; i < count; i++) {
  startWorker(i);
  if (i % 50 === 49) await new Promise((r) => setTimeout(r, 20));
}
print({ event: 'started', count });
