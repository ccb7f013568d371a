// The job stream's own cost per byte, away from the rest of the system (issue 15): a
// JobStream server (the coordinator's service) and client (the worker's) in two
// processes on loopback, the server sending source chunks down and the client sending
// MPEG-TS up in ~77 KiB "FFmpeg reads" cut into whole packets, both at full speed.
// Prints CPU ms and minor page faults per MB for each process, so the encodings can be compared on a busy
// machine where the full-system figures swing by 2x:
//   bun bench/relay-wire.ts --mode=new|old [--mb=200]
//   new: pre-encoded bulk messages (common/job-stream-wire.ts), TsPacketSplitter
//   old: generated (protobufjs) encoding of { input } / { output }, TsPacketAligner
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { downlinkInput, uplinkOutput } from '../common/job-stream-wire';
import { jobBytesService } from '../coordinator/grpc/server';
import { loadTranscodeProto } from '../proto/load';
import { createCoordinatorClient } from '../worker/client/grpc-connection';
import { writeBytes } from '../worker/client/job-stream';
import { directTarget } from '../worker/client/coordinator-rotation';
import { TsPacketAligner } from '../worker/runner/ts-packet-aligner';
import { TsPacketSplitter } from '../worker/runner/ts-packet-splitter';

const args = process.argv.slice(2);
const arg = (name: string, def: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const mode = arg('mode', 'new');
const total = Number(arg('mb', '200')) * 1e6;
/** Minor page faults so far: a fresh buffer's first touch costs one per 4 KiB page. */
const minorFaults = () => Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[7]);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

if (arg('role', 'main') === 'server') {
  const plain = loadTranscodeProto().tvarr.transcode.v1.TranscodeCoordinator.service;
  const server = new grpc.Server();
  server.addService(mode === 'new' ? jobBytesService() : plain, {
    Control: () => {},
    JobStream: (call: grpc.ServerDuplexStream<{ output?: Buffer }, unknown>) => {
      const c0 = cpuMs();
      const f0 = minorFaults();
      let got = 0;
      let sent = 0;
      const chunk = new Uint8Array(64 * 1024).fill(0x47);
      call.on('data', (m: { output?: Buffer }) => void (got += m.output?.byteLength ?? 0));
      const down = (async () => {
        while (sent < total) {
          sent += chunk.byteLength;
          const ok = mode === 'new' ? call.write(downlinkInput(chunk) as never) : call.write({ input: chunk });
          if (!ok) await new Promise((r) => call.once('drain', r));
        }
      })();
      call.on('end', async () => {
        await down;
        call.end();
        console.log(JSON.stringify({ side: 'server', mode, mb: (got + sent) / 1e6, cpuMsPerMB: (cpuMs() - c0) / ((got + sent) / 1e6), faultsPerMB: (minorFaults() - f0) / ((got + sent) / 1e6) }));
        setTimeout(() => process.exit(0), 100);
      });
    },
  });
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (_e, port) => console.log(`port ${port}`));
} else if (arg('role', 'main') === 'client') {
  const address = `127.0.0.1:${arg('port', '0')}`;
  const config = { keepaliveTimeMs: 10_000, keepaliveTimeoutMs: 5000 };
  const { TranscodeCoordinator } = loadTranscodeProto().tvarr.transcode.v1;
  const client = mode === 'new' ? createCoordinatorClient(config, directTarget(address)) : new TranscodeCoordinator(address, grpc.credentials.createInsecure());
  const c0 = cpuMs();
  const f0 = minorFaults();
  const call = client.JobStream(new grpc.Metadata());
  let got = 0;
  call.on('data', (m: { input?: Buffer }) => void (got += m.input?.byteLength ?? 0));
  const ended = new Promise((r) => call.on('end', r));
  const splitter = new TsPacketSplitter();
  const aligner = new TsPacketAligner();
  let sent = 0;
  while (sent < total) {
    // A fresh read each time, as Bun's pipe reader hands out.
    const read = new Uint8Array(77 * 1024 + 13).fill(0x47);
    let ok: boolean;
    if (mode === 'new') {
      const pieces = splitter.push(read);
      ok = writeBytes(call, uplinkOutput(pieces));
    } else {
      const packets = aligner.push(read);
      ok = call.write({ output: Buffer.from(packets.buffer, packets.byteOffset, packets.byteLength) });
    }
    sent += read.byteLength;
    if (!ok) await new Promise((r) => call.once('drain', r));
  }
  call.end();
  await ended;
  console.log(JSON.stringify({ side: 'client', mode, mb: (got + sent) / 1e6, cpuMsPerMB: (cpuMs() - c0) / ((got + sent) / 1e6), faultsPerMB: (minorFaults() - f0) / ((got + sent) / 1e6) }));
  process.exit(0);
} else {
  const server = Bun.spawn([process.execPath, import.meta.path, '--role=server', `--mode=${mode}`, `--mb=${total / 1e6}`], { stdout: 'pipe', stderr: 'inherit' });
  const reader = server.stdout.getReader();
  let text = '';
  while (!/port \d+/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
  const port = text.match(/port (\d+)/)![1]!;
  const client = Bun.spawn([process.execPath, import.meta.path, '--role=client', `--mode=${mode}`, `--mb=${total / 1e6}`, `--port=${port}`], { stdout: 'inherit', stderr: 'inherit' });
  await client.exited;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    process.stdout.write(value);
  }
  await server.exited;
}
