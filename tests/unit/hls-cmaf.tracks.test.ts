// One remux per segment, every fMP4 form of it: the muxed fragment HLS lists (unchanged)
// and each track on its own for DASH (dash.js plays no multiplexed Representation). Each
// single-track init + fragment is that track only and decodes; the times the DASH
// manifest lists (earliest presentation time, duration) are the fragments' own, and run
// on from one segment to the next. The per-segment cache hands out one Blob per kind.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { remuxToCmaf, remuxToCmafTracks } from '../../coordinator/streams/hls/fmp4/cmaf-muxer';
import { cmafFacts, segmentBlob } from '../../coordinator/streams/hls/segment-cmaf';
import { TsSegmenter, type TsSegment } from '../../coordinator/streams/hls/ts-segmenter';
import { fragmentDecodeTimes } from '../helpers/hls-client';
import { concat, decodeErrors, ffprobeBytes, makeTempDir } from '../helpers/media';

const temp = makeTempDir('cmaf-tracks');
afterAll(() => temp.cleanup());

/** 5 s of H.264 (with B-frames when asked) + AAC, cut into 1 s segments. */
async function segmentsOf(name: string, bframes: number): Promise<TsSegment[]> {
  const path = `${temp.dir}/${name}.ts`;
  const proc = Bun.spawn(
    [
      'ffmpeg', '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '5', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '25', '-bf', String(bframes), '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'mpegts', path,
    ],
    { stdout: 'ignore', stderr: 'pipe' },
  );
  if ((await proc.exited) !== 0) throw new Error(await new Response(proc.stderr).text());
  const out: TsSegment[] = [];
  new TsSegmenter((s) => out.push(s), { targetSeconds: 1, maxGapSeconds: 5, maxSegmentBytes: 8 << 20 }).push(new Uint8Array(readFileSync(path)));
  return out;
}

let plain: TsSegment[];
let reordered: TsSegment[];
beforeAll(async () => {
  [plain, reordered] = await Promise.all([segmentsOf('plain', 0), segmentsOf('bframes', 2)]);
});

describe('CMAF tracks of a segment', () => {
  test('the muxed form is what HLS fMP4 served before; video and audio alone are one track each, and decode', async () => {
    const seg = plain[1]!;
    const all = remuxToCmafTracks(seg.data, seg.index + 1)!;
    const muxed = remuxToCmaf(seg.data, seg.index + 1)!;
    expect(Buffer.from(all.muxed.fragment).equals(Buffer.from(muxed.fragment))).toBe(true);
    expect(Buffer.from(all.muxed.init).equals(Buffer.from(muxed.init))).toBe(true);
    const video = concat([all.video!.init, all.video!.fragment]);
    const audio = concat([all.audio!.init, all.audio!.fragment]);
    expect((await ffprobeBytes(video)).streams.map((s) => [s.codec_name, s.width, s.height])).toEqual([['h264', 320, 240]]);
    expect((await ffprobeBytes(audio)).streams.map((s) => s.codec_name)).toEqual(['aac']);
    expect(await decodeErrors(video)).toBe('');
    expect(await decodeErrors(audio)).toBe('');
    expect([all.video!.codec, all.audio!.codec, all.audio!.sampleRate, all.audio!.channels]).toEqual([expect.stringMatching(/^avc1\./), 'mp4a.40.2', 48_000, 1]);
  });

  test('listed times are the fragments\' own: tfdt (plus the first composition offset with B-frames), and each segment\'s end is the next one\'s start', () => {
    for (const segments of [plain, reordered]) {
      const tracks = segments.map((s) => remuxToCmafTracks(s.data, s.index + 1)!);
      for (const [i, t] of tracks.entries()) {
        const vTfdt = fragmentDecodeTimes(t.video!.fragment).get(1)!;
        expect(t.video!.start - vTfdt).toBe(segments === plain ? 0 : 2 * 3600); // two B-frames: the keyframe shows 2 frames after it decodes
        expect(fragmentDecodeTimes(t.audio!.fragment).get(2)).toBe(t.audio!.start);
        expect(t.video!.duration).toBe(t.video!.samples * 3600);
        const next = tracks[i + 1];
        if (!next) continue;
        expect(next.video!.start).toBe(t.video!.start + t.video!.duration);
        expect(next.audio!.start).toBe(t.audio!.start + t.audio!.duration);
      }
    }
  });

  test('the segment cache remuxes once: the same Blob for every request, facts without the bytes, null for a kind it cannot carry', () => {
    const seg = plain[2]!;
    const first = segmentBlob(seg, 'video.m4s');
    expect(segmentBlob(seg, 'video.m4s')).toBe(first);
    expect(first!.type).toBe('video/iso.segment');
    expect(segmentBlob(seg, 'audio.init.mp4')!.type).toBe('audio/mp4');
    const facts = cmafFacts(seg)!;
    expect(facts.video).toMatchObject({ width: 320, height: 240, timescale: 90_000 });
    expect(facts.video).not.toHaveProperty('fragment');
    const garbage = { ...seg, data: new Uint8Array(188 * 4).fill(0x47) };
    expect(segmentBlob(garbage, 'video.m4s')).toBeNull();
    expect(cmafFacts(garbage)).toBeNull();
    expect(segmentBlob(garbage, 'ts')!.size).toBe(188 * 4);
  });
});
