import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { PID_PAT, TS_PACKET_SIZE } from '../../common/mpegts/constants.ts';
import { isRandomAccess, readPid } from '../../common/mpegts/packet-header.ts';
import { setLogLevel } from '../../common/log.ts';
import { SharedBuffer } from '../../coordinator/streams/shared-buffer.ts';
import { concat, decodeWithFfmpeg, makeClip, makeTempDir, randomChunks, readAll } from './mpegts-fixtures.ts';

let clip: Uint8Array;
const temp = makeTempDir('shared-buffer-life-');
const KiB = 1024;

beforeAll(async () => {
  clip = await makeClip(temp.dir, 'clip.ts', { seconds: 6, gop: 25 }); // ~110 KB per GOP
});
let afterLog = () => {};
afterAll(() => {
  afterLog();
  temp.remove();
});

describe('SharedBuffer: memory and slow readers', () => {
  test('a stalled reader is skipped forward to PAT, PMT, keyframe; memory stays bounded', async () => {
    const max = 256 * KiB;
    const buffer = new SharedBuffer({ maxBufferedBytes: max });
    const writeSize = 4 * KiB;
    const chunks = randomChunks(clip, writeSize, 11);
    const third = Math.floor(chunks.length / 3);
    for (const chunk of chunks.slice(0, third)) buffer.write(chunk);
    const reader = buffer.createReader().getReader();
    expect((await reader.read()).value!.length).toBe(2 * TS_PACKET_SIZE); // PAT + PMT
    expect((await reader.read()).value!.length).toBeGreaterThan(0);
    let peak = 0;
    for (const chunk of chunks.slice(third)) {
      buffer.write(chunk);
      peak = Math.max(peak, buffer.stats().bufferedBytes);
    }
    buffer.end();
    // Retained history never exceeds the budget by more than one write.
    expect(peak).toBeLessThanOrEqual(max + writeSize);
    expect(peak).toBeGreaterThan(max - writeSize);

    const resumed = (await reader.read()).value!;
    expect(buffer.stats().slowReaderSkips).toBe(1);
    expect(readPid(resumed, 0)).toBe(PID_PAT);
    expect(readPid(resumed, TS_PACKET_SIZE)).toBe(0x1000);
    const rest: Uint8Array[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest.push(r.value);
    const after = concat(rest);
    expect(isRandomAccess(after, 0)).toBe(true);
    const decoded = await decodeWithFfmpeg(concat([resumed, after]));
    expect(decoded.errors).toBe('');
    expect(decoded.videoFrames % 25).toBe(0); // whole GOPs from a keyframe to the end
    expect(buffer.readerCount).toBe(0);
  });
});

describe('SharedBuffer: lifecycle', () => {
  test('end() lets readers drain what remains, then closes them', async () => {
    const buffer = new SharedBuffer({ maxBufferedBytes: 8 * 1024 * KiB });
    const counts: number[] = [];
    buffer.onReadersChanged((n) => counts.push(n));
    buffer.write(clip);
    const caughtUp = buffer.createReader();
    const drained = await new Promise<Uint8Array>((resolve) => {
      const lagging = buffer.createReader();
      buffer.end();
      buffer.write(clip); // ignored after end
      resolve(readAll(lagging));
    });
    expect(drained.length).toBeGreaterThan(0);
    expect((await readAll(caughtUp)).length).toBe(drained.length);
    expect(buffer.readerCount).toBe(0);
    expect(counts).toEqual([1, 2, 1, 0]);
    expect(buffer.stats().bytesIn).toBe(clip.length);
    // A reader created after the end still gets the last GOP, then closes.
    expect((await readAll(buffer.createReader())).length).toBe(drained.length);
  });

  test('cancel() detaches a reader, decrements readerCount and fires onReadersChanged', async () => {
    const buffer = new SharedBuffer({ maxBufferedBytes: 1024 * KiB });
    const counts: number[] = [];
    const unsubscribe = buffer.onReadersChanged((n) => counts.push(n));
    const a = buffer.createReader();
    const b = buffer.createReader().getReader();
    const pending = b.read(); // waits: no keyframe yet
    expect(buffer.readerCount).toBe(2);
    await a.cancel();
    expect(buffer.readerCount).toBe(1);
    await b.cancel();
    expect((await pending).done).toBe(true);
    expect(buffer.readerCount).toBe(0);
    expect(counts).toEqual([1, 2, 1, 0]);
    unsubscribe();
    buffer.createReader();
    expect(counts).toEqual([1, 2, 1, 0]);
    buffer.write(clip); // waking a cancelled reader must not enqueue into it
    await Bun.sleep(1);
    expect(buffer.stats().bytesOut).toBe(0);
  });

  test('waitForKeyframe() rejects when the stream ends without one; a throwing listener is contained', async () => {
    const buffer = new SharedBuffer({ maxBufferedBytes: 1024 * KiB });
    setLogLevel('silent'); // the contained error is logged; keep test output readable
    afterLog = () => setLogLevel('info');
    buffer.onReadersChanged(() => {
      throw new Error('listener bug');
    });
    const stream = buffer.createReader();
    buffer.write(clip.subarray(0, 3 * TS_PACKET_SIZE)); // SDT, PAT, PMT only
    const waiting = buffer.waitForKeyframe();
    buffer.end();
    await expect(waiting).rejects.toThrow('before any keyframe');
    expect((await readAll(stream)).length).toBe(0);
    expect(() => new SharedBuffer({ maxBufferedBytes: 0 })).toThrow();
  });

  test('throughput sanity (printed, not asserted)', async () => {
    const buffer = new SharedBuffer({ maxBufferedBytes: 8 * 1024 * KiB });
    const chunks = randomChunks(concat(Array.from({ length: 20 }, () => clip)), 64 * KiB, 12);
    const countBytes = async (stream: ReadableStream<Uint8Array>) => {
      let n = 0;
      for await (const chunk of stream) n += chunk.length;
      return n;
    };
    const readers = Array.from({ length: 200 }, () => countBytes(buffer.createReader()));
    let ingestMs = 0;
    const started = performance.now();
    for (let i = 0; i < chunks.length; i++) {
      const t = performance.now();
      buffer.write(chunks[i]!);
      ingestMs += performance.now() - t;
      if (i % 8 === 7) await Bun.sleep(0); // let readers keep up, as a live relay would
    }
    buffer.end();
    await Promise.all(readers);
    const totalSeconds = (performance.now() - started) / 1000;
    const { bytesIn, bytesOut, slowReaderSkips } = buffer.stats();
    console.log(
      `SharedBuffer ingest: ${((bytesIn * 8) / (ingestMs / 1000) / 1e9).toFixed(2)} Gbit/s; ` +
        `fan-out to 200 readers: ${((bytesOut * 8) / totalSeconds / 1e9).toFixed(2)} Gbit/s delivered ` +
        `(${(bytesOut / 1e6).toFixed(0)} MB, ${slowReaderSkips} skips)`,
    );
    expect(bytesOut).toBeGreaterThan(0);
  });
});
