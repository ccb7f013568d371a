// The pre-encoded bulk messages through real grpc-js on loopback, with the product's own
// service (coordinator/grpc/server.ts) and client (worker/client/grpc-connection.ts): the
// shortcut relies on how grpc-js frames a serializer's result, so check it end to end.
import { afterAll, expect, test } from 'bun:test';
import * as grpc from '@grpc/grpc-js';
import { downlinkInput, downlinkInputChunk, uplinkOutput, uplinkOutputChunk } from '../../common/job-stream-wire';
import { jobBytesService } from '../../coordinator/grpc/server';
import { createCoordinatorClient } from '../../worker/client/grpc-connection';
import { writeBytes } from '../../worker/client/job-stream';
import { directTarget } from '../../worker/client/coordinator-rotation';

const server = new grpc.Server();
type Up = { msg: string; output?: Buffer; output_chunk?: { seq: number; data: Buffer }; progress?: unknown };
server.addService(jobBytesService(), {
  // Echo: output comes back as input, output_chunk as input_chunk, pre-encoded too.
  JobStream: (call: grpc.ServerDuplexStream<Up, unknown>) => {
    call.on('data', (m: Up) => {
      if (m.msg === 'output') call.write(downlinkInput(m.output!) as never);
      else if (m.msg === 'output_chunk') call.write(downlinkInputChunk(m.output_chunk!.seq, m.output_chunk!.data) as never);
      else if (m.msg === 'progress') call.write({ input_ended: { reason: 'progress seen' } });
    });
    call.on('end', () => call.end());
  },
  Control: () => {},
});
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
);
afterAll(() => server.forceShutdown());

test('output pieces and chunks cross grpc-js both ways byte for byte; other messages are untouched', async () => {
  const address = `127.0.0.1:${port}`;
  const config = { keepaliveTimeMs: 10_000, keepaliveTimeoutMs: 5000 };
  const client = createCoordinatorClient(config, directTarget(address));
  const call = client.JobStream(new grpc.Metadata());
  const got: { msg: string; input?: Buffer; input_chunk?: { seq: number; data: Buffer }; input_ended?: { reason: string } }[] = [];
  const done = new Promise<void>((resolve, reject) => {
    call.on('data', (m) => got.push(m as (typeof got)[number]));
    call.on('end', () => resolve());
    call.on('error', reject);
  });
  const a = Uint8Array.from({ length: 188 * 400 }, (_, i) => i & 0xff);
  const b = Uint8Array.from({ length: 188 * 3 }, (_, i) => (i * 7) & 0xff);
  writeBytes(call, uplinkOutput([a.subarray(0, 188), a.subarray(188)]));
  writeBytes(call, uplinkOutputChunk(2 ** 32 + 1, [b]));
  call.write({ progress: { job_id: 'j', attempt: 1 } });
  call.end();
  await done;
  client.close();
  expect(got.map((m) => m.msg)).toEqual(['input', 'input_chunk', 'input_ended']);
  expect(Buffer.compare(got[0]!.input!, Buffer.from(a))).toBe(0);
  expect(got[1]!.input_chunk!.seq).toBe(2 ** 32 + 1);
  expect(Buffer.compare(got[1]!.input_chunk!.data, Buffer.from(b))).toBe(0);
  expect(got[2]!.input_ended!.reason).toBe('progress seen');
});
