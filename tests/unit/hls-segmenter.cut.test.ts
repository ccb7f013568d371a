// The HLS segmenter on real FFmpeg output: cuts at keyframes on the GOP, every segment
// opens with PAT + PMT + keyframe, and only a real timeline break is flagged. Plus the
// live window (sliding, discontinuity sequence) and the format negotiation rules.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { SegmentWindow } from '../../coordinator/streams/hls/segment-window';
import { TsSegmenter, type TsSegment } from '../../coordinator/streams/hls/ts-segmenter';
import { chooseFormat, isApplePlayer, parseFormat } from '../../coordinator/streams/hls/negotiate';
import { parseMediaPlaylist, segmentOpening } from '../helpers/hls-client';
import { concat, decodeErrors, makeTempDir } from '../helpers/media';
import { PacketKind, ProgramTracker } from '../../common/mpegts';

const temp = makeTempDir('hls-unit');

/** 4 s of 320x240 H.264 (GOP 25 at 25 fps) + AAC, timestamps shifted by `offset` seconds. */
async function clip(name: string, offset: number, seconds = 4): Promise<Uint8Array> {
  const path = `${temp.dir}/${name}.ts`;
  const proc = Bun.spawn(
    [
      'ffmpeg', '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
      '-output_ts_offset', String(offset), '-f', 'mpegts', path,
    ],
    { stdout: 'ignore', stderr: 'pipe' },
  );
  if ((await proc.exited) !== 0) throw new Error(await new Response(proc.stderr).text());
  return new Uint8Array(readFileSync(path));
}

/** PAT + PMT + everything from the `n`th keyframe (0-based) on: a producer joining mid-stream. */
function fromKeyframe(bytes: Uint8Array, n: number): Uint8Array {
  const tracker = new ProgramTracker();
  const psi: Uint8Array[] = [];
  let seen = 0;
  for (let o = 0; o < bytes.length; o += 188) {
    const kind = tracker.inspect(bytes, o);
    if (kind === PacketKind.Pat || kind === PacketKind.Pmt) psi.splice(kind - 1, 1, bytes.subarray(o, o + 188));
    if (kind === PacketKind.Keyframe && seen++ === n) return concat([...psi, bytes.subarray(o)]);
  }
  throw new Error('not enough keyframes');
}

/** Feeds bytes in odd-sized chunks (not packet-aligned), as a network read would. */
function segment(bytes: Uint8Array, targetSeconds = 2): TsSegment[] {
  const out: TsSegment[] = [];
  const segmenter = new TsSegmenter((s) => out.push(s), { targetSeconds, maxGapSeconds: 5, maxSegmentBytes: 8 * 1024 * 1024 });
  for (let o = 0; o < bytes.length; o += 7001) segmenter.push(bytes.subarray(o, o + 7001));
  return out;
}

let a: Uint8Array;
let continued: Uint8Array;
let jumped: Uint8Array;
let rewound: Uint8Array;

beforeAll(async () => {
  [a, continued, jumped, rewound] = await Promise.all([clip('a', 0), clip('b', 0, 8), clip('c', 100), clip('d', 0)]);
});
afterAll(() => temp.cleanup());

describe('TsSegmenter', () => {
  test('cuts at the first keyframe at least the target after the start: 2 s from a 1 s GOP', async () => {
    const segments = segment(a);
    // 4 s: keyframes at 0,1,2,3 -> one closed 2 s segment (0-2); 2-4 stays open until the next keyframe.
    expect(segments.map((s) => [s.index, Number(s.duration.toFixed(2)), s.discontinuity])).toEqual([[0, 2, false]]);
    expect(segments[0]!.videoCodec).toBe('h264');
    expect(segments[0]!.audioStreamTypes).toEqual([0x0f]);
    expect(segmentOpening(segments[0]!.data)).toEqual({ startsWithPat: true, pmtBeforeMedia: true, firstMediaIsKeyframe: true });
    expect(await decodeErrors(segments[0]!.data)).toBe('');
    expect(segment(a, 1).map((s) => Number(s.duration.toFixed(2)))).toEqual([1, 1, 1]);
  });

  test('a splice whose timestamps continue (copyts) needs no discontinuity', () => {
    // A second producer on the same timeline: PAT + PMT, then the 8 s clip from its 4 s keyframe.
    const segments = segment(concat([a, fromKeyframe(continued, 4)]));
    expect(segments.map((s) => s.discontinuity)).toEqual([false, false, false]);
    expect(segments.map((s) => Number(s.duration.toFixed(2)))).toEqual([2, 2, 2]);
  });

  test('time jumping ahead or going back is a break: cut at the new keyframe, flagged', async () => {
    for (const next of [jumped, rewound]) {
      const segments = segment(concat([a, next]));
      // 0-2, then 2-4 closed early by the break, then the new timeline starts flagged.
      expect(segments.map((s) => s.discontinuity)).toEqual([false, false, true]);
      expect(Number(segments[1]!.duration.toFixed(2))).toBe(2);
      for (const s of segments) expect(segmentOpening(s.data).firstMediaIsKeyframe).toBe(true);
      expect(await decodeErrors(segments[2]!.data)).toBe('');
    }
  });

  test('garbage and a stream with no keyframe yield nothing and stay bounded', () => {
    const out: TsSegment[] = [];
    const segmenter = new TsSegmenter((s) => out.push(s), { targetSeconds: 2, maxGapSeconds: 5, maxSegmentBytes: 64 * 1024 });
    segmenter.push(new Uint8Array(100_000).fill(0x47));
    segmenter.push(a.subarray(0, 188 * 3)); // PAT/PMT only
    expect(out).toEqual([]);
    // A 64 KiB cap: 4 s of video exceeds it, the open segment is dropped, the next one flagged.
    for (let o = 0; o < a.length; o += 4096) segmenter.push(a.subarray(o, o + 4096));
    expect(segmenter.droppedSegments).toBeGreaterThan(0);
  });
});

describe('SegmentWindow', () => {
  const fake = (index: number, discontinuity = false): TsSegment => ({ index, duration: 2.002, data: new Uint8Array(188), discontinuity, videoCodec: 'h264', audioStreamTypes: [] });

  test('lists the newest segments, keeps a few more, counts discontinuities that left', () => {
    const window = new SegmentWindow('ep0', 2, { listed: 3, grace: 2 });
    for (let i = 0; i < 10; i++) window.add(fake(i, i === 4 || i === 8));
    const playlist = parseMediaPlaylist(window.renderPlaylist('p/'));
    expect(playlist.mediaSequence).toBe(7);
    expect(playlist.segments.map((s) => [s.sequence, s.uri, s.discontinuity])).toEqual([
      [7, 'p/ep0-7.ts', false],
      [8, 'p/ep0-8.ts', true],
      [9, 'p/ep0-9.ts', false],
    ]);
    expect(playlist.discontinuitySequence).toBe(1); // segment 4's tag left the playlist
    expect(playlist.targetDuration).toBe(2);
    expect(window.get(5)?.index).toBe(5); // grace: out of the playlist, still served
    expect(window.get(4)).toBeNull();
    expect(window.get(10)).toBeNull();
    expect(window.count).toBe(5);
    // fMP4: fragments, an init segment first and again after the discontinuity.
    const fmp4 = window.renderPlaylist('p/', 'fmp4');
    expect(fmp4).toContain('#EXT-X-VERSION:7');
    expect(fmp4.match(/#EXT-X-MAP:URI="[^"]+"/g)).toEqual(['#EXT-X-MAP:URI="p/ep0-7.init.mp4"', '#EXT-X-MAP:URI="p/ep0-8.init.mp4"']);
    expect(parseMediaPlaylist(fmp4).segments.map((x) => x.uri)).toEqual(['p/ep0-7.m4s', 'p/ep0-8.m4s', 'p/ep0-9.m4s']);
  });
});

describe('format negotiation', () => {
  test('Apple players get HLS for codecs HLS carries; everyone else keeps MPEG-TS; ?format= wins', () => {
    const apple = 'AppleCoreMedia/1.0.0.21A329 (iPhone; U; CPU OS 17_0 like Mac OS X; en_us)';
    const safari = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15';
    const chrome = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
    expect([apple, safari, chrome, 'VLC/3.0.20 LibVLC/3.0.20', 'curl/8.5.0', null].map(isApplePlayer)).toEqual([true, true, false, false, false, false]);
    expect(chooseFormat(null, apple, 'h264')).toBe('hls');
    expect(chooseFormat(null, apple, 'vp9')).toBe('ts');
    expect(chooseFormat(null, apple, 'mpeg2video')).toBe('ts');
    expect(chooseFormat(null, apple, 'copy')).toBe('hls');
    expect(chooseFormat(null, 'curl/8.5.0', 'h264')).toBe('ts');
    expect(chooseFormat('ts', apple, 'h264')).toBe('ts');
    expect(parseFormat('hls')).toBe('hls');
    expect(parseFormat(null)).toBeNull();
    expect(parseFormat('dash')).toBe('dash');
    expect(chooseFormat('dash', 'curl/8.5.0', 'h264')).toBe('dash');
    expect(parseFormat('webm')).toEqual({ error: expect.stringContaining('ts, hls, hls-fmp4, dash') });
  });
});
