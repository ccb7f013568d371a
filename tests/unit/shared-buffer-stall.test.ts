// A reader that stops reading is disconnected once its unread backlog has stayed past
// the retained window for stalledReaderTimeoutMs; a reader that keeps reading, however
// slowly, is only skipped forward. Time is the test's own clock.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { setLogLevel } from '../../common/log.ts';
import { SharedBuffer } from '../../coordinator/streams/shared-buffer.ts';
import { concat, makeClip, makeTempDir, randomChunks } from './mpegts-fixtures.ts';

const KiB = 1024;
let clip: Uint8Array;
const temp = makeTempDir('shared-buffer-stall-');

beforeAll(async () => {
  setLogLevel('silent');
  clip = await makeClip(temp.dir, 'clip.ts', { seconds: 6, gop: 25 });
});
afterAll(() => {
  setLogLevel('info');
  temp.remove();
});

describe('SharedBuffer: stalled readers', () => {
  test('a reader that never reads again is disconnected after the timeout; a slow reader stays', async () => {
    let now = 1_000_000;
    const buffer = new SharedBuffer({ maxBufferedBytes: 128 * KiB, stalledReaderTimeoutMs: 5_000, now: () => now });
    const counts: number[] = [];
    buffer.onReadersChanged((n) => counts.push(n));
    const chunks = randomChunks(concat([clip, clip, clip]), 4 * KiB, 3);
    const warmup = Math.floor(chunks.length / 6);
    for (const c of chunks.slice(0, warmup)) buffer.write(c);

    const stalled = buffer.createReader().getReader();
    await stalled.read(); // reads once, then never again
    const lastRead = now;
    const slow = buffer.createReader().getReader();
    let slowBytes = 0;
    let stalledAt: number | null = null;
    for (let i = warmup; i < chunks.length; i++) {
      now += 100; // 10 writes a second
      buffer.write(chunks[i]!);
      // The slow reader takes one chunk for every 32 written: it falls behind and is
      // skipped forward, but it keeps reading.
      if (i % 32 === 0) slowBytes += (await slow.read()).value?.byteLength ?? 0;
      if (stalledAt === null && buffer.readerCount === 1) stalledAt = now;
    }
    expect(stalledAt).not.toBeNull();
    expect(stalledAt! - lastRead).toBeGreaterThanOrEqual(5_000);
    expect(buffer.stats().stalledReaderDisconnects).toBe(1);
    expect(buffer.stats().slowReaderSkips).toBeGreaterThan(0);
    expect(slowBytes).toBeGreaterThan(0);
    expect(buffer.readerCount).toBe(1);
    expect(counts).toEqual([1, 2, 1]);
    // The stalled reader's stream errors (the HTTP layer then closes its connection).
    await expect(stalled.read()).rejects.toThrow('stopped reading');
  });

  test('a reader that keeps up is never stalled, whatever the clock says; without a timeout there is no rule', async () => {
    let now = 0;
    const buffer = new SharedBuffer({ maxBufferedBytes: 128 * KiB, stalledReaderTimeoutMs: 1_000, now: () => now });
    let got = 0;
    const consumer = (async () => {
      for await (const chunk of buffer.createReader()) got += chunk.byteLength;
    })();
    for (const c of randomChunks(clip, 4 * KiB, 5)) {
      now += 10_000; // ten timeouts between writes
      buffer.write(c);
      await Bun.sleep(0);
    }
    buffer.end();
    await consumer;
    expect(got).toBeGreaterThan(clip.length / 2);
    expect(buffer.stats().stalledReaderDisconnects).toBe(0);

    const off = new SharedBuffer({ maxBufferedBytes: 64 * KiB, now: () => now });
    off.createReader();
    for (const c of randomChunks(clip, 4 * KiB, 6)) {
      now += 60_000;
      off.write(c);
    }
    expect(off.readerCount).toBe(1);
    expect(off.stats().stalledReaderDisconnects).toBe(0);
  });
});
