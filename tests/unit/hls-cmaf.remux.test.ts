// fMP4 (CMAF) from HLS MPEG-TS segments, checked with FFmpeg: the init segment names the
// right codec and size (H.264 and HEVC, with AAC), init + fragments decode without
// errors, and fragment decode times (tfdt) increase segment after segment.
import { afterAll, describe, expect, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { remuxToCmaf } from '../../coordinator/streams/hls/fmp4/cmaf-muxer';
import { TsSegmenter, type TsSegment } from '../../coordinator/streams/hls/ts-segmenter';
import { makeTempDir } from '../helpers/media';
import { fragmentDecodeTimes as decodeTimes } from '../helpers/hls-client';

const temp = makeTempDir('cmaf');
afterAll(() => temp.cleanup());

async function clip(codec: 'libx264' | 'libx265'): Promise<Uint8Array> {
  const path = `${temp.dir}/${codec}.ts`;
  const proc = Bun.spawn(
    [
      'ffmpeg', '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '4', '-c:v', codec, '-preset', 'ultrafast', '-g', '25', '-bf', '0', '-pix_fmt', 'yuv420p',
      ...(codec === 'libx265' ? ['-x265-params', 'log-level=error'] : []),
      '-c:a', 'aac', '-f', 'mpegts', path,
    ],
    { stdout: 'ignore', stderr: 'pipe' },
  );
  if ((await proc.exited) !== 0) throw new Error(await new Response(proc.stderr).text());
  return new Uint8Array(readFileSync(path));
}

async function probe(path: string): Promise<{ codec_type: string; codec_name: string; width?: number; height?: number }[]> {
  const proc = Bun.spawn(['ffprobe', '-v', 'error', '-show_streams', '-of', 'json', path], { stdout: 'pipe', stderr: 'pipe' });
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  if (code !== 0) throw new Error(await new Response(proc.stderr).text());
  return JSON.parse(out).streams;
}

async function decodeErrors(path: string): Promise<string> {
  const proc = Bun.spawn(['ffmpeg', '-v', 'error', '-i', path, '-f', 'null', '-'], { stdout: 'ignore', stderr: 'pipe' });
  const [err] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  return err.trim();
}

describe('CMAF remux of HLS segments', () => {
  test('garbage or a truncated SPS gives null (406 at the route), not an exception', async () => {
    const segments: TsSegment[] = [];
    const segmenter = new TsSegmenter((s) => segments.push(s), { targetSeconds: 1, maxGapSeconds: 5, maxSegmentBytes: 8 << 20 });
    segmenter.push(await clip('libx264'));
    const data = segments[0]!.data.slice();
    // Cut the first video PES short right after its SPS start code: the SPS fields run out.
    const sps = data.findIndex((_, i) => data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1 && (data[i + 3]! & 0x1f) === 7);
    data.fill(0xff, sps + 6, Math.min(data.length, sps + 188));
    expect(() => remuxToCmaf(data, 1)).not.toThrow();
    expect(remuxToCmaf(new Uint8Array(188 * 10).fill(0x47), 1)).toBeNull();
  });

  for (const [encoder, codec] of [['libx264', 'h264'], ['libx265', 'hevc']] as const) {
    test(`${codec} + AAC: init names the codec and size, fragments decode, decode times increase`, async () => {
      const segments: TsSegment[] = [];
      const segmenter = new TsSegmenter((s) => segments.push(s), { targetSeconds: 1, maxGapSeconds: 5, maxSegmentBytes: 8 << 20 });
      segmenter.push(await clip(encoder));
      expect(segments.length).toBe(3);
      const remuxed = segments.map((s) => remuxToCmaf(s.data, s.index + 1)!);
      expect(remuxed.every((r) => r !== null)).toBe(true);
      expect(remuxed[0]!.codecs).toMatch(codec === 'h264' ? /^avc1\.[0-9a-f]{6},mp4a\.40\.2$/ : /^hvc1\.1\.6\.L\d+\.B0,mp4a\.40\.2$/);
      const path = `${temp.dir}/${codec}.mp4`;
      writeFileSync(path, Buffer.concat([remuxed[0]!.init, ...remuxed.map((r) => r.fragment)]));
      const streams = await probe(path);
      const video = streams.find((s) => s.codec_type === 'video')!;
      expect([video.codec_name, video.width, video.height]).toEqual([codec, 320, 240]);
      expect(streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('aac');
      expect(await decodeErrors(path)).toBe('');
      const times = remuxed.map((r) => decodeTimes(r.fragment));
      for (let i = 1; i < times.length; i++) {
        expect(times[i]!.get(1)!).toBeGreaterThan(times[i - 1]!.get(1)!);
        expect(times[i]!.get(2)!).toBeGreaterThan(times[i - 1]!.get(2)!);
        // Consecutive segments of 1 s: video decode times 90,000 ticks apart.
        expect(times[i]!.get(1)! - times[i - 1]!.get(1)!).toBe(90_000);
      }
    });
  }
});
