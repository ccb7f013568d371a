import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { PID_PAT, TS_PACKET_SIZE } from '../../common/mpegts/constants.ts';
import { ContinuityChecker } from '../../common/mpegts/continuity.ts';
import { isRandomAccess, readPid } from '../../common/mpegts/packet-header.ts';
import { PacketKind, ProgramTracker } from '../../common/mpegts/program-tracker.ts';
import { SharedBuffer } from '../../coordinator/streams/shared-buffer.ts';
import {
  concat,
  decodeWithFfmpeg,
  firstDifference,
  makeClip,
  makeTempDir,
  packetOffsets,
  randomChunks,
} from './mpegts-fixtures.ts';

let clip: Uint8Array;
let keyframes: number[];
const temp = makeTempDir('shared-buffer-join-');
const MiB = 1024 * 1024;

beforeAll(async () => {
  clip = await makeClip(temp.dir, 'clip.ts', { seconds: 4, gop: 25 });
  const tracker = new ProgramTracker();
  keyframes = packetOffsets(clip).filter((o) => tracker.inspect(clip, o) === PacketKind.Keyframe);
});
afterAll(() => temp.remove());

/** Reads every chunk of a stream, keeping chunk boundaries for alignment checks. */
async function readChunks(stream: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

function expectCleanStart(out: Uint8Array): void {
  expect(readPid(out, 0)).toBe(PID_PAT);
  expect(readPid(out, TS_PACKET_SIZE)).toBe(0x1000);
  expect(readPid(out, 2 * TS_PACKET_SIZE)).toBe(0x100);
  expect(isRandomAccess(out, 2 * TS_PACKET_SIZE)).toBe(true);
}

describe('SharedBuffer: joining', () => {
  test('a reader joining mid-stream starts at PAT, PMT, latest keyframe and decodes cleanly', async () => {
    const buffer = new SharedBuffer({ maxBufferedBytes: 8 * MiB });
    const cut = Math.floor(clip.length * 0.6) + 77; // mid-GOP and mid-packet
    for (const chunk of randomChunks(clip.subarray(0, cut), 20_000, 3)) buffer.write(chunk);
    const stream = buffer.createReader();
    for (const chunk of randomChunks(clip.subarray(cut), 20_000, 4)) buffer.write(chunk);
    buffer.end();
    const chunks = await readChunks(stream);
    for (const chunk of chunks) expect(chunk.length % TS_PACKET_SIZE).toBe(0);
    const out = concat(chunks);
    expectCleanStart(out);
    // Latest keyframe wholly written before the join; from it on, the bytes are FFmpeg's own.
    const joinedAt = keyframes.filter((k) => k + TS_PACKET_SIZE <= cut).at(-1)!;
    expect(firstDifference(out.subarray(2 * TS_PACKET_SIZE), clip.subarray(joinedAt))).toBeNull();
    expect(new ContinuityChecker().check(out)).toEqual([]);
    const gop = keyframes.indexOf(joinedAt);
    expect(gop).toBeGreaterThan(0);
    const decoded = await decodeWithFfmpeg(out);
    expect(decoded.errors).toBe('');
    expect(decoded.videoFrames).toBe(100 - 25 * gop);
    expect(buffer.readerCount).toBe(0);
  });

  test('a reader that arrives before any keyframe waits, then gets the whole stream from it', async () => {
    const buffer = new SharedBuffer({ maxBufferedBytes: 8 * MiB });
    const stream = buffer.createReader();
    let ready = false;
    const waiting = buffer.waitForKeyframe().then(() => (ready = true));
    const reading = readChunks(stream);
    buffer.write(clip.subarray(0, keyframes[0]!)); // SDT, PAT, PMT: no entry point yet
    await Bun.sleep(5);
    expect(ready).toBe(false);
    for (const chunk of randomChunks(clip.subarray(keyframes[0]!), 5000, 5)) {
      buffer.write(chunk);
      await Bun.sleep(0); // let the reader run between writes, as in a live relay
    }
    await waiting;
    buffer.end();
    const out = concat(await reading);
    expectCleanStart(out);
    expect(firstDifference(out.subarray(2 * TS_PACKET_SIZE), clip.subarray(keyframes[0]!))).toBeNull();
    expect(buffer.stats().keyframes).toBe(4);
    const decoded = await decodeWithFfmpeg(out);
    expect(decoded.errors).toBe('');
    expect(decoded.videoFrames).toBe(100);
  });

  test('hundreds of readers get identical bytes from shared chunks', async () => {
    const buffer = new SharedBuffer({ maxBufferedBytes: 8 * MiB });
    const half = Math.floor(clip.length / 2);
    buffer.write(clip.subarray(0, half));
    const streams = Array.from({ length: 300 }, () => buffer.createReader());
    expect(buffer.readerCount).toBe(300);
    const reading = Promise.all(streams.map(readChunks));
    for (const chunk of randomChunks(clip.subarray(half), 64 * 1024, 6)) {
      buffer.write(chunk);
      await Bun.sleep(0);
    }
    buffer.end();
    const results = await reading;
    const reference = concat(results[0]!);
    for (const chunks of results) expect(firstDifference(concat(chunks), reference)).toBeNull();
    // No per-reader copy: the same large chunk reaches two readers as views of one buffer.
    const big = (chunks: Uint8Array[]) => chunks.find((c) => c.length > 16 * 1024)!;
    expect(big(results[0]!).buffer).toBe(big(results[299]!).buffer);
    const stats = buffer.stats();
    expect(stats.readers).toBe(0);
    expect(stats.bytesOut).toBe(reference.length * 300);
  });
});
