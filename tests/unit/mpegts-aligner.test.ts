import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { TS_PACKET_SIZE, TS_SYNC_BYTE } from '../../common/mpegts/constants.ts';
import { PacketAligner } from '../../common/mpegts/packet-aligner.ts';
import { concat, firstDifference, makeClip, makeTempDir, randomChunks } from './mpegts-fixtures.ts';

let clip: Uint8Array;
const temp = makeTempDir('mpegts-aligner-');

beforeAll(async () => {
  clip = await makeClip(temp.dir, 'clip.ts', { seconds: 2 });
});
afterAll(() => temp.remove());

function alignAll(chunks: Uint8Array[], aligner = new PacketAligner()): { out: Uint8Array; spans: Uint8Array[] } {
  const spans: Uint8Array[] = [];
  for (const chunk of chunks) spans.push(...aligner.push(chunk));
  return { out: concat(spans), spans };
}

function expectAlignedSpans(spans: Uint8Array[]): void {
  for (const span of spans) {
    expect(span.length % TS_PACKET_SIZE).toBe(0);
    for (let o = 0; o < span.length; o += TS_PACKET_SIZE) expect(span[o]).toBe(TS_SYNC_BYTE);
  }
}

describe('PacketAligner', () => {
  test('reproduces real FFmpeg packets exactly under random chunk sizes', () => {
    expect(clip.length % TS_PACKET_SIZE).toBe(0);
    for (const [maxSize, seed] of [[1, 1], [7, 2], [200, 3], [5000, 4], [200_000, 5]] as const) {
      const aligner = new PacketAligner();
      const { out, spans } = alignAll(randomChunks(clip, maxSize, seed), aligner);
      expect(firstDifference(out, clip)).toBeNull();
      expectAlignedSpans(spans);
      expect(aligner.droppedBytes).toBe(0);
      expect(aligner.pendingBytes).toBe(0);
    }
  });

  test('returns views of the input, not copies, for packets inside one chunk', () => {
    const [span] = new PacketAligner().push(clip);
    expect(span!.buffer).toBe(clip.buffer);
    expect(span!.length).toBe(clip.length);
  });

  test('re-syncs after garbage that contains stray 0x47 bytes, whatever the chunking', () => {
    const packets = clip.subarray(0, 200 * TS_PACKET_SIZE);
    const noise = new Uint8Array(500);
    let x = 12345;
    for (let i = 0; i < noise.length; i++) noise[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    noise[0] = 0x00; // garbage that begins exactly like a packet is the next test's case
    noise[100] = 0x47;
    // A 0x47 exactly one packet before a real packet looks exactly like a packet (its
    // next boundary is a real sync byte); no sync-based aligner can reject it.
    noise[noise.length - TS_PACKET_SIZE] = 0x00;
    const garbage = [new Uint8Array([1, 2, 3]), new Uint8Array([0x11, 0x47, 0x00, 0x47, 9]), noise];
    const withGarbage = concat([
      packets.subarray(0, 10 * TS_PACKET_SIZE),
      garbage[0]!,
      packets.subarray(10 * TS_PACKET_SIZE, 50 * TS_PACKET_SIZE),
      garbage[1]!,
      packets.subarray(50 * TS_PACKET_SIZE, 120 * TS_PACKET_SIZE),
      garbage[2]!,
      packets.subarray(120 * TS_PACKET_SIZE),
    ]);
    for (const maxSize of [1, 3, 190, 1000, 100_000]) {
      const aligner = new PacketAligner();
      const { out, spans } = alignAll(randomChunks(withGarbage, maxSize, maxSize), aligner);
      expectAlignedSpans(spans);
      expect(firstDifference(out, packets)).toBeNull();
      expect(aligner.droppedBytes).toBe(3 + 5 + 500);
      expect(aligner.resyncs).toBe(3);
    }
  });

  test('out of sync, rejects a 0x47 whose next packet boundary is not a sync byte', () => {
    const packets = clip.subarray(0, 20 * TS_PACKET_SIZE);
    const fake = new Uint8Array([0x47, 0x00, 0x11, 0x47, 0x47, 9]);
    for (const maxSize of [1, 5, 200, 100_000]) {
      const aligner = new PacketAligner();
      const { out } = alignAll(randomChunks(concat([fake, packets]), maxSize, 2), aligner);
      expect(firstDifference(concat([out, ...aligner.flush()]), packets)).toBeNull();
      expect(aligner.droppedBytes).toBe(fake.length);
    }
  });

  test('after bytes go missing mid-packet, stays in phase and damages only that spot', () => {
    const P = TS_PACKET_SIZE;
    const packets = clip.subarray(0, 100 * P);
    const damaged = concat([packets.subarray(0, 30 * P + 50), packets.subarray(31 * P)]);
    for (const maxSize of [1, 64, 4096, 100_000]) {
      const { out, spans } = alignAll(randomChunks(damaged, maxSize, 3));
      expectAlignedSpans(spans);
      // In sync, packet 30's own sync byte is trusted, so it goes out holding the start
      // of packet 31 (a counter error tells the player); 31's remainder is skipped.
      expect(out.length).toBe(99 * P);
      expect(firstDifference(out.subarray(0, 30 * P), packets.subarray(0, 30 * P))).toBeNull();
      expect(firstDifference(out.subarray(31 * P), packets.subarray(32 * P))).toBeNull();
    }
  });

  test('out of sync, holds a packet until the next byte confirms it; flush() releases it', () => {
    const packets = clip.subarray(0, 3 * TS_PACKET_SIZE);
    const aligner = new PacketAligner();
    // Starts mid-packet: the first whole packet cannot be confirmed within this chunk.
    expect(aligner.push(packets.subarray(100, 2 * TS_PACKET_SIZE))).toEqual([]);
    expect(aligner.pendingBytes).toBe(TS_PACKET_SIZE);
    expect(concat(aligner.push(packets.subarray(2 * TS_PACKET_SIZE, 2 * TS_PACKET_SIZE + 1)))).toEqual(
      packets.subarray(TS_PACKET_SIZE, 2 * TS_PACKET_SIZE),
    );
    const rest = concat([...aligner.push(packets.subarray(2 * TS_PACKET_SIZE + 1)), ...aligner.flush()]);
    expect(rest).toEqual(packets.subarray(2 * TS_PACKET_SIZE));
  });

  test('starts mid-stream at the next real packet and reset() drops a partial packet', () => {
    const aligner = new PacketAligner();
    const { out } = alignAll([clip.subarray(1000, 1000 + 50 * TS_PACKET_SIZE)], aligner);
    const firstWhole = Math.ceil(1000 / TS_PACKET_SIZE) * TS_PACKET_SIZE;
    expect(out).toEqual(clip.subarray(firstWhole, firstWhole + (out.length)));
    expect(aligner.pendingBytes).toBeGreaterThan(0);
    aligner.reset();
    expect(aligner.pendingBytes).toBe(0);
    // After reset the next producer's stream is taken from its own first packet.
    expect(concat(aligner.push(clip.subarray(0, 10 * TS_PACKET_SIZE)))).toEqual(clip.subarray(0, 10 * TS_PACKET_SIZE));
  });

  test('throughput sanity (printed, not asserted)', () => {
    const big = concat(Array.from({ length: 40 }, () => clip));
    const chunks = randomChunks(big, 64 * 1024, 7);
    const aligner = new PacketAligner();
    const started = performance.now();
    let bytes = 0;
    for (let round = 0; round < 5; round++) {
      for (const chunk of chunks) for (const span of aligner.push(chunk)) bytes += span.length;
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`PacketAligner: ${((bytes * 8) / seconds / 1e9).toFixed(2)} Gbit/s over ${(bytes / 1e6).toFixed(0)} MB`);
    expect(bytes).toBe(big.length * 5);
  });
});
