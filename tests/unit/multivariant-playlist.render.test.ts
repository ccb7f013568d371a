// The HLS multivariant playlist of a ladder: its text (RFC 8216bis 4.4.6; fMP4 with its
// audio group, and the one-track media playlists it points to), the estimates
// used before a rendition runs, and the facts measured on real segments (FFmpeg-made
// H.264 + AAC cut by the HLS segmenter): codec string from the SPS, size, frame rate and
// bits per second.
import { afterAll, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import {
  audioCodecString,
  describeVariant,
  estimateBandwidth,
  estimateVideoCodec,
  renderMultivariantPlaylist,
  type RenditionProfile,
} from '../../coordinator/streams/ladder/multivariant-playlist';
import { frameRateOf, measureRendition } from '../../coordinator/streams/ladder/rendition-facts';
import { TsSegmenter, type TsSegment } from '../../coordinator/streams/hls/ts-segmenter';
import { SegmentWindow } from '../../coordinator/streams/hls/segment-window';
import { makeTempDir } from '../helpers/media';

const temp = makeTempDir('multivariant');
afterAll(() => temp.cleanup());

const p = (id: string, width: number, height: number, videoBitrateKbps: number, over: Partial<RenditionProfile> = {}): RenditionProfile => ({
  id, videoCodec: 'h264', width, height, videoBitrateKbps, audioCodec: 'aac', audioBitrateKbps: 64, ...over,
});

test('estimates: profile bitrate + 10% mux overhead, H.264 High at the level the size needs', () => {
  expect(estimateBandwidth(p('a', 640, 360, 800))).toBe(Math.round(864 * 1000 * 1.1));
  expect(estimateBandwidth(p('a', 640, 360, 800, { audioCodec: 'none', audioBitrateKbps: 0 }))).toBe(880_000);
  // No video bitrate (the encoder's own rate control): a guess from the picture size, never 0.
  expect(estimateBandwidth(p('a', 1280, 720, 0))).toBeGreaterThan(1_000_000);
  expect(estimateBandwidth(p('a', 0, 0, 0))).toBeGreaterThan(1_000_000);
  expect(estimateVideoCodec(p('a', 320, 180, 200))).toBe('avc1.64000d'); // 240 MBs x 30 fps: level 1.3
  expect(estimateVideoCodec(p('a', 320, 180, 200), 25)).toBe('avc1.64000c'); // x 25 fps: level 1.2
  expect(estimateVideoCodec(p('a', 1280, 720, 3000))).toBe('avc1.64001f'); // 3600 MBs: level 3.1
  expect(estimateVideoCodec(p('a', 1920, 1080, 5000))).toBe('avc1.640028'); // 8160 MBs: level 4
  expect(estimateVideoCodec(p('a', 0, 0, 800))).toBe('avc1.640028'); // source size unknown
  expect(estimateVideoCodec(p('h', 1920, 1080, 5000, { videoCodec: 'hevc' }))).toBe('hvc1.1.6.L120.B0');
  expect([audioCodecString('aac'), audioCodecString('ac3'), audioCodecString('none')]).toEqual(['mp4a.40.2', 'ac-3', null]);
});

test('rendering: header, one EXT-X-STREAM-INF per rendition in ladder order, URI on the next line', () => {
  const variants = [
    describeVariant('r360.m3u8', p('r360', 640, 360, 800), null),
    describeVariant('r180.m3u8?format=hls-fmp4&session=abc', p('r180', 320, 180, 200), {
      peakBps: 301_234.6, averageBps: 250_100.2, codecs: 'avc1.64000d,mp4a.40.2', width: 320, height: 180, frameRate: 25,
    }),
  ];
  const text = renderMultivariantPlaylist(variants, 'fmp4');
  expect(text).toBe(
    [
      '#EXTM3U',
      '#EXT-X-VERSION:7',
      '#EXT-X-INDEPENDENT-SEGMENTS',
      '#EXT-X-STREAM-INF:BANDWIDTH=950400,AVERAGE-BANDWIDTH=950400,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2"',
      'r360.m3u8',
      '#EXT-X-STREAM-INF:BANDWIDTH=301235,AVERAGE-BANDWIDTH=250100,RESOLUTION=320x180,FRAME-RATE=25.000,CODECS="avc1.64000d,mp4a.40.2"',
      'r180.m3u8?format=hls-fmp4&session=abc',
      '',
    ].join('\n'),
  );
  expect(renderMultivariantPlaylist(variants, 'ts')).toContain('#EXT-X-VERSION:3\n');
  expect(() => renderMultivariantPlaylist([], 'ts')).toThrow();
});

test('fMP4 with an audio group: one EXT-X-MEDIA (DEFAULT, AUTOSELECT, CHANNELS, URI) first, every variant names it, CODECS keeps the audio codec', () => {
  const facts = { peakBps: 300_000, averageBps: 250_000, codecs: 'avc1.64000d,mp4a.40.2', width: 320, height: 180, frameRate: 25 };
  const variants = [
    describeVariant('r180.m3u8?format=hls-fmp4&track=video', p('r180', 320, 180, 200), facts),
    describeVariant('r108.m3u8?format=hls-fmp4&track=video', p('r108', 192, 108, 100), null),
  ];
  const text = renderMultivariantPlaylist(variants, 'fmp4', { groupId: 'audio', name: 'audio', uri: 'r180.m3u8?format=hls-fmp4&track=audio', channels: 2 });
  expect(text).toBe(
    [
      '#EXTM3U',
      '#EXT-X-VERSION:7',
      '#EXT-X-INDEPENDENT-SEGMENTS',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="r180.m3u8?format=hls-fmp4&track=audio"',
      '#EXT-X-STREAM-INF:BANDWIDTH=300000,AVERAGE-BANDWIDTH=250000,RESOLUTION=320x180,FRAME-RATE=25.000,CODECS="avc1.64000d,mp4a.40.2",AUDIO="audio"',
      'r180.m3u8?format=hls-fmp4&track=video',
      '#EXT-X-STREAM-INF:BANDWIDTH=180400,AVERAGE-BANDWIDTH=180400,RESOLUTION=192x108,CODECS="avc1.64000b,mp4a.40.2",AUDIO="audio"', // estimated: (100 + 64) kbps + 10%, level 1.1
      'r108.m3u8?format=hls-fmp4&track=video',
      '',
    ].join('\n'),
  );
  // Channels not read yet: the attribute is left out rather than guessed.
  expect(renderMultivariantPlaylist(variants, 'fmp4', { groupId: 'audio', name: 'audio', uri: 'a.m3u8', channels: null })).toContain(
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,URI="a.m3u8"\n',
  );
});

test('one track of the fMP4 fragments: .video.m4s / .audio.m4s with the init named by its period, repeated after a discontinuity', () => {
  const seg = (index: number, discontinuity = false): TsSegment => ({ index, duration: 2, data: new Uint8Array(188), discontinuity, videoCodec: 'h264', audioStreamTypes: [0x0f] });
  const window = new SegmentWindow('ep', 2, { listed: 3, grace: 1 }, 7);
  for (const s of [seg(40), seg(41), seg(42, true), seg(43), seg(44)]) window.add(s);
  // Listed 42-44: 42 opened a period (its own init), and the window slid past 40, 41.
  expect(window.renderPlaylist('r/', 'fmp4', 'audio').split('\n').slice(3)).toEqual([
    '#EXT-X-MEDIA-SEQUENCE:42',
    '#EXT-X-DISCONTINUITY-SEQUENCE:7',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    '#EXT-X-DISCONTINUITY',
    '#EXT-X-MAP:URI="r/ep-42.audio.init.mp4"',
    '#EXTINF:2.000,',
    'r/ep-42.audio.m4s',
    '#EXTINF:2.000,',
    'r/ep-43.audio.m4s',
    '#EXTINF:2.000,',
    'r/ep-44.audio.m4s',
    '',
  ]);
  window.add(seg(45));
  // 43 first now: its init is still its period's (42), not its own name.
  expect(window.renderPlaylist('r/', 'fmp4', 'video')).toContain('#EXT-X-DISCONTINUITY-SEQUENCE:8\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI="r/ep-42.video.init.mp4"\n#EXTINF:2.000,\nr/ep-43.video.m4s\n');
  // Without a track: the muxed fragments as before.
  expect(window.renderPlaylist('r/', 'fmp4')).toContain('#EXT-X-MAP:URI="r/ep-43.init.mp4"\n#EXTINF:2.000,\nr/ep-43.m4s\n');
});

test('measured codecs without audio get the profile audio named (AC-3 stays in MPEG-TS); no size without one', () => {
  const v = describeVariant('d.m3u8', p('d', 0, 0, 500, { audioCodec: 'ac3', audioBitrateKbps: 192 }), {
    peakBps: 800_000, averageBps: 900_000, codecs: 'avc1.64001f', width: null, height: null, frameRate: null,
  });
  expect(v.codecs).toBe('avc1.64001f,ac-3');
  expect(v.resolution).toBeNull();
  // AVERAGE-BANDWIDTH never above BANDWIDTH.
  expect(v.averageBandwidth).toBe(800_000);
});

test('frame rate from decode times, 3 decimals', () => {
  expect(frameRateOf([0, 3600, 7200, 10800])).toBe(25);
  expect(frameRateOf([0, 3003, 6006])).toBe(29.97);
  expect(frameRateOf([0])).toBeNull();
  expect(frameRateOf([5, 5])).toBeNull();
});

test('facts of real segments: codec string from the SPS, size, frame rate, peak and mean bits per second', async () => {
  const path = `${temp.dir}/clip.ts`;
  const proc = Bun.spawn(
    [
      'ffmpeg', '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=256x144:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '3', '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main', '-g', '25', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '64k', '-f', 'mpegts', path,
    ],
    { stdout: 'ignore', stderr: 'pipe' },
  );
  if ((await proc.exited) !== 0) throw new Error(await new Response(proc.stderr).text());
  const segments: TsSegment[] = [];
  const segmenter = new TsSegmenter((s) => segments.push(s), { targetSeconds: 1, maxGapSeconds: 5, maxSegmentBytes: 8 << 20 });
  segmenter.push(new Uint8Array(readFileSync(path)));
  expect(segments.length).toBeGreaterThanOrEqual(2);

  const facts = measureRendition(segments)!;
  // Main profile (77 = 0x4d); the level byte is the SPS's own: check it against ffprobe.
  const probe = Bun.spawn(['ffprobe', '-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=profile,level', '-of', 'json', path], { stdout: 'pipe' });
  const { streams } = JSON.parse(await new Response(probe.stdout).text()) as { streams: { profile: string; level: number }[] };
  expect(streams[0]!.profile).toBe('Main');
  // avc1.PPCCLL: profile_idc, constraint flags (x264 sets constraint_set1 for Main), level_idc.
  expect(facts.codecs).toMatch(new RegExp(`^avc1\\.4d[0-9a-f]{2}${streams[0]!.level.toString(16).padStart(2, '0')},mp4a\\.40\\.2$`));
  expect([facts.width, facts.height]).toEqual([256, 144]);
  expect(facts.frameRate).toBe(25);
  const rates = segments.map((s) => (s.data.length * 8) / s.duration);
  expect(facts.peakBps).toBeCloseTo(Math.max(...rates), 3);
  expect(facts.averageBps).toBeLessThanOrEqual(facts.peakBps);
  expect(facts.averageBps).toBeGreaterThan(0);

  // Garbage from a worker gives no codec facts, never an exception.
  const junk = measureRendition([{ data: new Uint8Array(188 * 4).fill(0x47), duration: 2 }])!;
  expect(junk.codecs).toBeNull();
  expect(measureRendition([])).toBeNull();
});
