import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { PID_PAT, TS_PACKET_SIZE } from '../../common/mpegts/constants.ts';
import { ContinuityChecker } from '../../common/mpegts/continuity.ts';
import { isRandomAccess, readPid } from '../../common/mpegts/packet-header.ts';
import { SharedBuffer } from '../../coordinator/streams/shared-buffer.ts';
import { decodeWithFfmpeg, makeClip, makeTempDir, randomChunks, readAll } from './mpegts-fixtures.ts';

// Two separately encoded clips stand in for two workers; the second continues the
// first's timeline (as -copyts does for real failover).
let first: Uint8Array;
let second: Uint8Array;
const temp = makeTempDir('shared-buffer-splice-');
const MiB = 1024 * 1024;

beforeAll(async () => {
  [first, second] = await Promise.all([
    makeClip(temp.dir, 'a.ts', { seconds: 2 }),
    makeClip(temp.dir, 'b.ts', { seconds: 2, tsOffset: 2 }),
  ]);
});
afterAll(() => temp.remove());

function feed(buffer: SharedBuffer, bytes: Uint8Array, seed: number): void {
  for (const chunk of randomChunks(bytes, 30_000, seed)) buffer.write(chunk);
}

/** Packet index (in `out`) where segment 2's PAT/PMT/keyframe triplet begins. */
function findSplice(out: Uint8Array, fromPacket: number): number {
  for (let i = fromPacket; (i + 3) * TS_PACKET_SIZE <= out.length; i++) {
    const o = i * TS_PACKET_SIZE;
    if (
      readPid(out, o) === PID_PAT &&
      readPid(out, o + TS_PACKET_SIZE) === 0x1000 &&
      isRandomAccess(out, o + 2 * TS_PACKET_SIZE)
    ) return i;
  }
  return -1;
}

describe('SharedBuffer: splicing a new producer', () => {
  test('a clean handover keeps every PID continuous and decodes without errors', async () => {
    const buffer = new SharedBuffer({ maxBufferedBytes: 8 * MiB });
    const stream = buffer.createReader();
    const reading = readAll(stream);
    feed(buffer, first, 1);
    expect(buffer.segment).toBe(0);
    buffer.beginSegment();
    expect(buffer.segment).toBe(1);
    feed(buffer, second, 2);
    buffer.end();
    const out = await reading;
    expect(new ContinuityChecker().check(out)).toEqual([]);
    const decoded = await decodeWithFfmpeg(out);
    expect(decoded.errors).toBe('');
    expect(decoded.videoFrames).toBe(100);
    expect(buffer.stats().segment).toBe(1);
  });

  test('a producer cut mid-packet and a successor joined mid-stream splice at PAT, PMT, keyframe', async () => {
    const buffer = new SharedBuffer({ maxBufferedBytes: 8 * MiB });
    const reading = readAll(buffer.createReader());
    // Worker 1 dies mid-GOP, mid-packet; worker 2's first bytes arrive mid-packet too.
    const cut = Math.floor(first.length * 0.7) + 101;
    feed(buffer, first.subarray(0, cut), 3);
    buffer.beginSegment();
    const { droppedBytes: droppedBefore } = buffer.stats();
    feed(buffer, second.subarray(3001), 4);
    buffer.end();
    const out = await reading;

    expect(out.length % TS_PACKET_SIZE).toBe(0);
    const firstSegmentPackets = Math.floor(cut / TS_PACKET_SIZE) - 1; // less the SDT that preceded the first PAT
    const splice = findSplice(out, firstSegmentPackets - 1);
    expect(splice).toBe(firstSegmentPackets);
    expect(buffer.stats().droppedBytes - droppedBefore).toBeGreaterThan(0); // worker 2's pre-keyframe bytes
    // Counters continue across the splice on every PID.
    expect(new ContinuityChecker().check(out)).toEqual([]);
    const pids = new Set<number>();
    for (let o = 0; o < out.length; o += TS_PACKET_SIZE) pids.add(readPid(out, o));
    expect([...pids].sort((a, b) => a - b)).toEqual([0, 0x11, 0x100, 0x101, 0x1000]); // PAT, SDT, video, audio, PMT
    // FFmpeg reads it all. The frame cut off by the crash was already sent, so the
    // H.264 decoder may conceal it; the demuxer must see nothing wrong (no counter
    // errors, no corrupt packets), and every frame of the new producer decodes.
    const decoded = await decodeWithFfmpeg(out);
    expect(decoded.errors).not.toMatch(/mpegts|corrupt|continuity/i);
    expect(decoded.videoFrames).toBeGreaterThanOrEqual(25 + 25 + 1);
    console.log(`splice after a crash: ${decoded.videoFrames} frames; decoder said: ${decoded.errors || '(nothing)'}`);
  });

  test('readers already attached keep reading old output while the new producer is gated', async () => {
    const buffer = new SharedBuffer({ maxBufferedBytes: 8 * MiB });
    feed(buffer, first, 5);
    buffer.beginSegment();
    const late = buffer.createReader(); // joins at segment 0's last keyframe
    buffer.write(second.subarray(0, 500)); // SDT, PAT, PMT: not yet an entry point
    expect(buffer.stats().keyframes).toBe(2);
    feed(buffer, second.subarray(500), 6);
    buffer.end();
    const out = await readAll(late);
    expect(new ContinuityChecker().check(out)).toEqual([]);
    const decoded = await decodeWithFfmpeg(out);
    expect(decoded.errors).toBe('');
    expect(decoded.videoFrames).toBe(25 + 50);
  });
});
