// Renditions whose segments align: the source's grid (cut at the first source keyframe
// of each 2 s cell, numbered one by one) and the HLS segmenter cutting on it. Two real
// renditions of one source, encoded by separate FFmpegs that keyed the source's keyframes
// (-copyts -force_key_frames source, as ladder renditions' jobs run) and started 4 s
// apart (the later one mid-cell), give segments with the same sequence numbers, start times and durations; so do
// two copies of the source's bytes joined at different keyframes (byte for byte).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { PacketKind, ProgramTracker, TS_PACKET_SIZE } from '../../common/mpegts';
import { pesPts } from '../../coordinator/streams/splice-point';
import { GRID_HISTORY, SegmentGrid } from '../../coordinator/streams/segment-grid';
import { PTS_HZ, readPesPresentationTime } from '../../coordinator/streams/hls/pes-timestamp';
import { TsSegmenter, type TsSegment } from '../../coordinator/streams/hls/ts-segmenter';
import { concat, decodeErrors, makeTempDir } from '../helpers/media';

const temp = makeTempDir('grid');
afterAll(() => temp.cleanup());

const s = (seconds: number) => Math.round(seconds * PTS_HZ);

describe('SegmentGrid', () => {
  test('cuts at the first keyframe of each new cell, numbered from the cell index on, one by one', () => {
    const grid = new SegmentGrid(2);
    for (const t of [11.7, 12.7, 13.7, 14.7, 15.7, 16.7]) grid.keyframe(s(t));
    expect(grid.history.map((c) => [c.pts / PTS_HZ, c.number])).toEqual([[11.7, 5], [12.7, 6], [14.7, 7], [16.7, 8]]);
    expect(grid.cutAt(s(14.7), 0)).toBe(7);
    expect(grid.cutAt(s(13.7), 1800)).toBeNull(); // a keyframe that opens no segment
    expect(grid.cutAt(s(14.7) + 1500, 1800)).toBe(7); // an encoder's rounding (1/25 s time base) still matches
    expect(grid.cutAt(s(14.7) + 2000, 1800)).toBeNull();
  });

  test('keyframes further apart than a cell: every one cuts, numbers stay consecutive (no gap HLS could not list)', () => {
    const grid = new SegmentGrid(2);
    for (let t = 0; t < 40; t += 5) grid.keyframe(s(100 + t));
    const numbers = grid.history.map((c) => c.number);
    expect(numbers).toEqual(numbers.map((_, i) => 50 + i));
  });

  test('a repeated or earlier keyframe never cuts; a new timeline cuts at once and keeps counting; history is bounded', () => {
    const grid = new SegmentGrid(2);
    grid.keyframe(s(10));
    grid.keyframe(s(10));
    grid.keyframe(s(8));
    expect(grid.history.length).toBe(1);
    grid.newTimeline();
    grid.keyframe(s(1.1));
    expect(grid.history).toEqual([{ pts: s(1.1), number: 6 }]);
    for (let t = 0; t < 200; t++) grid.keyframe(s(4 + 2 * t));
    expect(grid.history.length).toBe(GRID_HISTORY);
    expect(grid.history.at(-1)!.number - grid.history[0]!.number).toBe(GRID_HISTORY - 1);
  });

  test('across the 33-bit wrap the cut comes and the number goes on', () => {
    const grid = new SegmentGrid(2);
    grid.keyframe(2 ** 33 - s(1));
    grid.keyframe(s(0.5));
    expect(grid.history.map((c) => c.number)).toEqual([47721, 47722]);
    expect(grid.cutAt(s(0.5), 10)).toBe(47722);
  });
});

/** 14 s of 320x240 H.264 (a keyframe every second) + AAC at an odd timestamp offset: the source. */
async function makeSource(path: string): Promise<Uint8Array> {
  await run([
    'ffmpeg', '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '14', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-sc_threshold', '0', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
    '-output_ts_offset', '10.31234', '-f', 'mpegts', path,
  ]);
  return new Uint8Array(readFileSync(path));
}

/** A rendition as a ladder rendition's job makes it (worker/runner/build-args.ts with keyframesFollowSource). */
async function makeRendition(input: Uint8Array, name: string, size: string): Promise<Uint8Array> {
  const inPath = `${temp.dir}/${name}-in.ts`;
  const outPath = `${temp.dir}/${name}.ts`;
  writeFileSync(inPath, input);
  await run([
    'ffmpeg', '-hide_banner', '-loglevel', 'error', '-y', '-copyts', '-i', inPath,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-s', size, '-force_key_frames', 'source', '-g', '250', '-sc_threshold', '0', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-ac', '2', '-ar', '48000', '-muxdelay', '0', '-muxpreload', '0', '-f', 'mpegts', outPath,
  ]);
  return new Uint8Array(readFileSync(outPath));
}

async function run(cmd: string[]): Promise<void> {
  const proc = Bun.spawn(cmd, { stdout: 'ignore', stderr: 'pipe' });
  if ((await proc.exited) !== 0) throw new Error(await new Response(proc.stderr).text());
}

/** The source's keyframes as its upstream registers them (source-upstream.ts -> LatestGop). */
function gridOf(source: Uint8Array): SegmentGrid {
  const grid = new SegmentGrid(2);
  const tracker = new ProgramTracker();
  for (let o = 0; o < source.length; o += TS_PACKET_SIZE) {
    if (tracker.inspect(source, o) === PacketKind.Keyframe) grid.keyframe(pesPts(source, o));
  }
  return grid;
}

/** PAT + PMT + everything from the `n`th keyframe (0-based) on: a job fed from that GOP. */
function fromKeyframe(bytes: Uint8Array, n: number): Uint8Array {
  const tracker = new ProgramTracker();
  const psi: Uint8Array[] = [];
  let seen = 0;
  for (let o = 0; o < bytes.length; o += TS_PACKET_SIZE) {
    const kind = tracker.inspect(bytes, o);
    if (kind === PacketKind.Pat || kind === PacketKind.Pmt) psi.splice(kind - 1, 1, bytes.subarray(o, o + TS_PACKET_SIZE));
    if (kind === PacketKind.Keyframe && seen++ === n) return concat([...psi, bytes.subarray(o)]);
  }
  throw new Error('not enough keyframes');
}

function segmentOnGrid(bytes: Uint8Array, grid: SegmentGrid | null): TsSegment[] {
  const out: TsSegment[] = [];
  const segmenter = new TsSegmenter((seg) => out.push(seg), { targetSeconds: 2, maxGapSeconds: 5, maxSegmentBytes: 8 << 20, grid });
  for (let o = 0; o < bytes.length; o += 7001) segmenter.push(bytes.subarray(o, o + 7001));
  return out;
}

/** PTS of a segment's first video frame (its keyframe), 90 kHz. */
function firstVideoPts(data: Uint8Array): number {
  const tracker = new ProgramTracker();
  for (let o = 0; o < data.length; o += TS_PACKET_SIZE) {
    if (tracker.inspect(data, o) === PacketKind.Keyframe) return readPesPresentationTime(data, o)!;
  }
  throw new Error('no keyframe');
}

const shape = (segments: TsSegment[]) => segments.map((seg) => ({ n: seg.index, start: firstVideoPts(seg.data), duration: seg.duration.toFixed(3) }));

describe('TsSegmenter on the source grid', () => {
  let source: Uint8Array;
  let grid: SegmentGrid;
  let early: TsSegment[];
  let late: TsSegment[];

  beforeAll(async () => {
    source = await makeSource(`${temp.dir}/source.ts`);
    grid = gridOf(source);
    // Two renditions, two FFmpegs: one fed from the start, one from the source's keyframe 4
    // (4 s later, in the middle of a grid cell).
    const [a, b] = await Promise.all([makeRendition(source, 'a', '256x144'), makeRendition(fromKeyframe(source, 4), 'b', '192x108')]);
    early = segmentOnGrid(a, grid);
    late = segmentOnGrid(b, grid);
  });

  test('two renditions started 4 s apart: the same numbers cover the same frames, for the same time', async () => {
    expect(early.length).toBeGreaterThanOrEqual(5);
    expect(late.length).toBeGreaterThanOrEqual(3);
    const a = shape(early);
    const b = shape(late);
    // Consecutive numbers, from the grid's (not from 0).
    expect(a.map((x) => x.n)).toEqual(a.map((_, i) => a[0]!.n + i));
    expect(a[0]!.n).toBe(grid.history[0]!.number);
    // The later one starts at a grid cut (no shorter segment of its own), then matches.
    const common = b.filter((x) => a.some((y) => y.n === x.n));
    expect(common.length).toBe(b.length);
    for (const x of b) {
      const y = a.find((z) => z.n === x.n)!;
      expect({ n: x.n, start: x.start, duration: x.duration }).toEqual({ n: y.n, start: y.start, duration: y.duration });
      // Within an encoder's rounding of the source keyframe the grid registered under that number.
      const cut = grid.history.find((c) => c.number === x.n)!;
      expect(Math.abs(cut.pts - x.start)).toBeLessThanOrEqual(1800);
    }
    // Every segment after the first is 2 s (keyframes every second, cells of 2 s).
    expect(a.slice(1).map((x) => x.duration)).toEqual(a.slice(1).map(() => '2.000'));
    for (const seg of [late[0]!, early[1]!]) expect(await decodeErrors(seg.data)).toBe('');
  });

  test('the source bytes joined at two different keyframes: common segments are identical byte for byte', () => {
    const whole = segmentOnGrid(source, grid);
    const joined = segmentOnGrid(fromKeyframe(source, 4), grid);
    expect(joined.length).toBeGreaterThan(0);
    for (const seg of joined) {
      const same = whole.find((w) => w.index === seg.index)!;
      expect(Buffer.from(seg.data).equals(Buffer.from(same.data))).toBe(true);
    }
  });

  test('new parameter sets between grid cuts: split there, the rest takes the next number and lasts to the grid cut after it', () => {
    // Rendition a up to the source's keyframe 8 (mid-cell), then rendition b (another size:
    // other SPS) from that frame on (b's keyframe 4): a failover to another encoder.
    const a = segmentOnGrid(concat([cutBefore(readRendition('a'), 8), fromKeyframe(readRendition('b'), 4)]), grid);
    const numbers = a.map((x) => x.index);
    expect(numbers).toEqual(numbers.map((_, i) => numbers[0]! + i));
    const split = a.findIndex((x) => x.discontinuity);
    expect(split).toBeGreaterThan(0);
    expect(a[split - 1]!.duration).toBeCloseTo(1, 2); // from its grid cut to the mid-cell keyframe
    expect(a[split]!.duration).toBeCloseTo(3, 2); // the rest of that cell and the whole next one
    // From there on, the same numbers and starts as the rendition that never changed.
    for (const x of a.slice(split + 1)) {
      const y = early.find((e) => e.index === x.index)!;
      expect(firstVideoPts(x.data)).toBe(firstVideoPts(y.data));
    }
  });

  test('without a grid the segmenter cuts as before: 0-based, at the first keyframe 2 s after the start', () => {
    const plain = segmentOnGrid(readRendition('b'), null);
    expect(plain[0]!.index).toBe(0);
    expect(plain.map((x) => x.duration.toFixed(3))).toEqual(plain.map(() => '2.000'));
  });
});

function readRendition(name: string): Uint8Array {
  return new Uint8Array(readFileSync(`${temp.dir}/${name}.ts`));
}

/** Everything before the `n`th keyframe (0-based). */
function cutBefore(bytes: Uint8Array, n: number): Uint8Array {
  const tracker = new ProgramTracker();
  let seen = 0;
  for (let o = 0; o < bytes.length; o += TS_PACKET_SIZE) {
    if (tracker.inspect(bytes, o) === PacketKind.Keyframe && seen++ === n) return bytes.subarray(0, o);
  }
  throw new Error('not enough keyframes');
}
