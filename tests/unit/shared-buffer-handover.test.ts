// SharedBuffer.write(chunk, { handOver: true }): the relay path gives up its gRPC message
// buffers, and the buffer keeps them without a copy (issue 15: that copy was 12-14% of
// the coordinator's CPU). The stream the clients get must not change.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { TS_PACKET_SIZE } from '../../common/mpegts/constants.ts';
import { ContinuityChecker } from '../../common/mpegts/continuity.ts';
import { SharedBuffer } from '../../coordinator/streams/shared-buffer.ts';
import { decodeWithFfmpeg, makeClip, makeTempDir, readAll } from './mpegts-fixtures.ts';

let first: Uint8Array;
let second: Uint8Array;
const temp = makeTempDir('shared-buffer-handover-');
const MiB = 1024 * 1024;
/** What the worker sends: whole packets, ~64 KiB per message. */
const MESSAGE_BYTES = 348 * TS_PACKET_SIZE;

beforeAll(async () => {
  [first, second] = await Promise.all([
    makeClip(temp.dir, 'a.ts', { seconds: 2 }),
    makeClip(temp.dir, 'b.ts', { seconds: 2, tsOffset: 2 }),
  ]);
});
afterAll(() => temp.remove());

/** Fresh, packet-aligned messages, as grpc-js hands them over (each its own allocation). */
function messages(bytes: Uint8Array, size = MESSAGE_BYTES): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; o += size) out.push(bytes.slice(o, Math.min(o + size, bytes.length)));
  return out;
}

async function relay(handOver: boolean): Promise<Uint8Array> {
  const buffer = new SharedBuffer({ maxBufferedBytes: 8 * MiB });
  const reading = readAll(buffer.createReader());
  for (const m of messages(first)) buffer.write(m, { handOver });
  buffer.beginSegment();
  for (const m of messages(second)) buffer.write(m, { handOver });
  buffer.end();
  return reading;
}

describe('SharedBuffer: handed-over chunks', () => {
  test('clients get the same bytes as with copied chunks, across a splice: continuous counters, clean decode', async () => {
    const copied = await relay(false);
    const kept = await relay(true);
    expect(kept.length).toBe(copied.length);
    expect(Buffer.compare(Buffer.from(kept), Buffer.from(copied))).toBe(0);
    expect(new ContinuityChecker().check(kept)).toEqual([]);
    const decoded = await decodeWithFfmpeg(kept);
    expect(decoded.errors).toBe('');
    expect(decoded.videoFrames).toBe(100);
  });

  test('a handed-over message is kept without a copy; a lent one is copied, so its owner may reuse it', async () => {
    const [a, b] = messages(first);
    const kept = new SharedBuffer({ maxBufferedBytes: 8 * MiB });
    const keptReader = kept.createReader().getReader();
    kept.write(a!, { handOver: true });
    kept.write(b!, { handOver: true });
    // The reader waits for an entry point (the clip starts with PAT, PMT, keyframe).
    const prefix = await keptReader.read(); // PAT + PMT before the entry point
    expect(prefix.value!.length).toBe(2 * TS_PACKET_SIZE);
    // The first message is joined with the gate's PAT and PMT (a copy); once the
    // producer has passed its entry point, each message is kept as it came.
    expect((await keptReader.read()).value!.buffer).not.toBe(a!.buffer);
    expect((await keptReader.read()).value!.buffer).toBe(b!.buffer);

    const lent = new SharedBuffer({ maxBufferedBytes: 8 * MiB });
    const lentReader = lent.createReader().getReader();
    const reused = first.slice(0, MESSAGE_BYTES);
    const original = reused.slice();
    lent.write(reused);
    reused.fill(0x47); // the producer reuses its buffer at once
    await lentReader.read();
    const lentBody = await lentReader.read();
    expect(lentBody.value!.buffer).not.toBe(reused.buffer);
    // The bytes as written from the keyframe on (a first segment's counters are already
    // continuous), not the producer's reused buffer.
    const body = lentBody.value!;
    expect(Buffer.compare(Buffer.from(body), Buffer.from(original.subarray(original.length - body.length)))).toBe(0);
  });

  test('a small handed-over chunk is copied (it may be a view of a shared allocation pool)', async () => {
    const buffer = new SharedBuffer({ maxBufferedBytes: 8 * MiB });
    const reader = buffer.createReader().getReader();
    const small = messages(first, 10 * TS_PACKET_SIZE);
    buffer.write(small[0]!, { handOver: true });
    buffer.write(small[1]!, { handOver: true });
    await reader.read(); // prefix
    const body = await reader.read();
    expect(body.value!.buffer).not.toBe(small[0]!.buffer);
    expect(body.value!.buffer).not.toBe(small[1]!.buffer);
  });
});
