import { describe, expect, test } from 'bun:test';
import { downlinkInput, downlinkInputChunk, PreframedMessage, uplinkOutput, uplinkOutputChunk } from '../../common/job-stream-wire';
import { loadTranscodeProto } from '../../proto/load';
import { TsPacketSplitter } from '../../worker/runner/ts-packet-splitter';

// The generated (protobufjs) codecs of the real .proto: what the other end decodes with.
const jobStream = loadTranscodeProto().tvarr.transcode.v1.TranscodeCoordinator.service.JobStream;
const decodeUp = (b: Uint8Array) => jobStream.requestDeserialize(Buffer.from(b)) as Record<string, unknown>;
const decodeDown = (b: Uint8Array) => jobStream.responseDeserialize(Buffer.from(b)) as Record<string, unknown>;
const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const join = (pieces: Uint8Array[]) => Buffer.concat(pieces.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));

describe('job stream bulk messages, pre-encoded', () => {
  test('each form decodes with the real .proto to the same message', () => {
    const data = bytes(70_000);
    const pieces = [data.subarray(0, 188), data.subarray(188, 65_000), data.subarray(65_000)];
    const up = decodeUp(uplinkOutput(pieces).toBytes());
    expect(up.msg).toBe('output');
    expect(Buffer.compare(up.output as Buffer, Buffer.from(data))).toBe(0);

    // A sequence number past 2^32 (a long-running laned job) survives the varint.
    const seq = 2 ** 33 + 5;
    const upChunk = decodeUp(uplinkOutputChunk(seq, pieces).toBytes()) as { msg: string; output_chunk: { seq: number; data: Buffer } };
    expect(upChunk.msg).toBe('output_chunk');
    expect(upChunk.output_chunk.seq).toBe(seq);
    expect(Buffer.compare(upChunk.output_chunk.data, Buffer.from(data))).toBe(0);

    const down = decodeDown(downlinkInput(data).toBytes());
    expect(down.msg).toBe('input');
    expect(Buffer.compare(down.input as Buffer, Buffer.from(data))).toBe(0);
    const downChunk = decodeDown(downlinkInputChunk(0, bytes(10)).toBytes()) as { msg: string; input_chunk: { seq: number; data: Buffer } };
    expect(downChunk.msg).toBe('input_chunk');
    expect(downChunk.input_chunk.seq).toBe(0);
    expect([...downChunk.input_chunk.data]).toEqual([...bytes(10)]);
  });

  test('copy() writes the encoding where grpc-js asks, and honours a source range', () => {
    const m = downlinkInput(bytes(1000));
    const frame = Buffer.alloc(m.byteLength + 5, 0xee);
    expect(m.copy(frame, 5)).toBe(m.byteLength);
    expect(frame[4]).toBe(0xee);
    expect(Buffer.compare(frame.subarray(5), Buffer.from(m.toBytes()))).toBe(0);
    const part = Buffer.alloc(10);
    m.copy(part, 0, 3, 13);
    expect([...part]).toEqual([...m.toBytes().subarray(3, 13)]);
  });

  test('a serializer that was not wrapped still encodes it right (the plain field is there)', () => {
    const data = bytes(5000, 7);
    const viaGenerated = jobStream.requestSerialize(uplinkOutputChunk(42, [data.subarray(0, 100), data.subarray(100)]) as never);
    const back = decodeUp(viaGenerated) as { output_chunk: { seq: number; data: Buffer } };
    expect(back.output_chunk.seq).toBe(42);
    expect(Buffer.compare(back.output_chunk.data, Buffer.from(data))).toBe(0);
    expect(uplinkOutput([data])).toBeInstanceOf(PreframedMessage);
  });
});

describe('TS packet splitter', () => {
  test('pieces are whole packets in order, and the bulk stays a view of the read', () => {
    const stream = bytes(188 * 1000 + 77, 3);
    const s = new TsPacketSplitter();
    const out: Uint8Array[] = [];
    let at = 0;
    let views = 0;
    for (const size of [5, 183, 77_000, 1, 187, 30_000, 188, 50_000, 7]) {
      const read = stream.slice(at, Math.min(stream.byteLength, at + size));
      at += read.byteLength;
      const pieces = s.push(read);
      const bulk = pieces.length === 0 ? 0 : join(pieces).byteLength;
      expect(bulk % 188).toBe(0);
      for (const p of pieces) if (p.buffer === read.buffer && p.byteLength > 188) views++;
      out.push(...pieces);
    }
    const rest = stream.subarray(at);
    for (const p of s.push(rest)) out.push(p);
    expect(s.pending).toBe(77);
    expect(Buffer.compare(join(out), Buffer.from(stream.subarray(0, 188 * 1000)))).toBe(0);
    // The large reads went out as views of themselves, not copies.
    expect(views).toBeGreaterThanOrEqual(3);
  });
});
