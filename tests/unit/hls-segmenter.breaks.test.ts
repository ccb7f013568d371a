// Timeline breaks the segmenter must survive without stalling: time jumping back an hour
// or ahead five with the keyframe only some frames later (an encoder does not put one at
// the jump), a PMT naming another codec, and a keyframe with new parameter sets (a new
// resolution) which fMP4 needs a new init segment for. Hand-built packets give exact
// timelines; FFmpeg clips check the fMP4 side on real parameter sets.
import { afterAll, describe, expect, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { TS_PACKET_SIZE } from '../../common/mpegts/constants.ts';
import { readPid } from '../../common/mpegts/packet-header.ts';
import { parsePmt, writeSectionCrc } from '../../common/mpegts/psi.ts';
import { SharedBuffer } from '../../coordinator/streams/shared-buffer.ts';
import { demuxSegment } from '../../coordinator/streams/hls/fmp4/es-demux.ts';
import { remuxToCmaf, tracksOf } from '../../coordinator/streams/hls/fmp4/cmaf-muxer.ts';
import { PTS_HZ, readPesDecodeTime } from '../../coordinator/streams/hls/pes-timestamp.ts';
import { SegmentWindow } from '../../coordinator/streams/hls/segment-window.ts';
import { TsSegmenter, type TsSegment } from '../../coordinator/streams/hls/ts-segmenter.ts';
import { parseMediaPlaylist, segmentOpening } from '../helpers/hls-client';
import { concat, makeTempDir } from '../helpers/media';

const VIDEO = 0x100;
const AUDIO = 0x101;
const PMT_PID = 0x1000;
const FRAME = PTS_HZ / 25;
const H264 = 0x1b;
const HEVC = 0x24;

// Stand-in H.264 parameter sets: the segmenter compares them, it does not parse them.
const SPS_A = [0x67, 0x42, 0xc0, 0x0d, 0xaa];
const SPS_B = [0x67, 0x42, 0xc0, 0x1e, 0xbb];
const PPS = [0x68, 0xce, 0x3c, 0x80];

/** Builds a TS program packet by packet, with per-PID continuity counters. */
class Stream {
  private readonly cc = new Map<number, number>();
  readonly packets: Uint8Array[] = [];

  private header(pid: number, pusi: boolean, adaptation: number[] | null): Uint8Array {
    const packet = new Uint8Array(TS_PACKET_SIZE).fill(0xff);
    const cc = this.cc.get(pid) ?? 0;
    this.cc.set(pid, (cc + 1) & 0x0f);
    packet.set([0x47, (pusi ? 0x40 : 0) | (pid >> 8), pid & 0xff, (adaptation ? 0x30 : 0x10) | cc]);
    if (adaptation) packet.set([adaptation.length, ...adaptation], 4);
    this.packets.push(packet);
    return packet;
  }

  private psi(pid: number, tableId: number, body: number[]): void {
    const length = body.length + 4;
    const section = new Uint8Array(3 + length);
    section.set([tableId, 0xb0 | (length >> 8), length & 0xff, ...body]);
    writeSectionCrc(section, 0, section.length);
    this.header(pid, true, null).set([0, ...section], 4);
  }

  /** PAT + PMT: video (PCR) and AAC audio. */
  program(videoType = H264, version = 0): this {
    this.psi(0, 0x00, [0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xe0 | (PMT_PID >> 8), PMT_PID & 0xff]);
    this.psi(PMT_PID, 0x02, [
      0x00, 0x01, 0xc1 | (version << 1), 0x00, 0x00, 0xe0 | (VIDEO >> 8), VIDEO & 0xff, 0xf0, 0x00,
      videoType, 0xe0 | (VIDEO >> 8), VIDEO & 0xff, 0xf0, 0x00,
      0x0f, 0xe0 | (AUDIO >> 8), AUDIO & 0xff, 0xf0, 0x00,
    ]);
    return this;
  }

  /** An adaptation-field-only packet with discontinuity_indicator (what the shared buffer puts at a program change). */
  discontinuity(pid = VIDEO): this {
    const packet = new Uint8Array(TS_PACKET_SIZE).fill(0xff);
    const last = ((this.cc.get(pid) ?? 0) - 1) & 0x0f; // no payload: the counter repeats
    packet.set([0x47, pid >> 8, pid & 0xff, 0x20 | last, TS_PACKET_SIZE - 5, 0x80]);
    this.packets.push(packet);
    return this;
  }

  /**
   * `count` video frames from `start` seconds (one packet each, DTS = PTS), keyframes at
   * `firstKey`, `firstKey + gop`, ...; an audio packet after every video frame.
   */
  frames(start: number, count: number, options: { firstKey?: number; gop?: number; sps?: number[]; hevc?: boolean } = {}): this {
    const { firstKey = 0, gop = 25, sps = SPS_A, hevc = false } = options;
    for (let i = 0; i < count; i++) {
      const dts = Math.round(start * PTS_HZ) + i * FRAME;
      const key = i >= firstKey && (i - firstKey) % gop === 0;
      const packet = this.header(VIDEO, true, key ? [0x40] : null);
      const es = key
        ? hevc
          ? [0, 0, 0, 1, 0x40, 0x01, 0x0c, 0, 0, 0, 1, 0x42, 0x01, ...sps.slice(1), 0, 0, 0, 1, 0x44, 0x01, 0xc1, 0, 0, 1, 0x26, 0x01, 0xaf]
          : [0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, ...sps, 0, 0, 0, 1, ...PPS, 0, 0, 1, 0x65, 0x88, 0x84]
        : hevc
          ? [0, 0, 0, 1, 0x02, 0x01, 0xd0]
          : [0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x41, 0x9a];
      packet.set([0, 0, 1, 0xe0, 0, 0, 0x80, 0xc0, 0x0a, ...timestamp(3, dts), ...timestamp(1, dts), ...es], key ? 6 : 4);
      const audio = this.header(AUDIO, true, null);
      audio.set([0, 0, 1, 0xc0, 0, 0, 0x80, 0x80, 0x05, ...timestamp(2, dts)], 4);
    }
    return this;
  }

  bytes(): Uint8Array {
    return concat(this.packets);
  }
}

/** A 33-bit timestamp in the 5-byte PES layout with its 4-bit prefix. */
function timestamp(prefix: number, t: number): number[] {
  return [(prefix << 4) | (Math.floor(t / 2 ** 30) << 1) | 1, (t >> 22) & 0xff, ((t >> 14) & 0xfe) | 1, (t >> 7) & 0xff, ((t << 1) & 0xfe) | 1];
}

function segment(bytes: Uint8Array, targetSeconds = 2): TsSegment[] {
  const out: TsSegment[] = [];
  const segmenter = new TsSegmenter((s) => out.push(s), { targetSeconds, maxGapSeconds: 5, maxSegmentBytes: 8 * 1024 * 1024 });
  for (let o = 0; o < bytes.length; o += 5003) segmenter.push(bytes.subarray(o, o + 5003));
  return out;
}

const summary = (segments: TsSegment[]) => segments.map((s) => [Number(s.duration.toFixed(2)), s.discontinuity]);

/** Video decode times (seconds) of every frame in a segment. */
function videoTimes(data: Uint8Array): number[] {
  const times: number[] = [];
  for (let o = 0; o < data.length; o += TS_PACKET_SIZE) {
    const t = readPid(data, o) === VIDEO ? readPesDecodeTime(data, o) : null;
    if (t !== null) times.push(Number((t / PTS_HZ).toFixed(2)));
  }
  return times;
}

function pmtStreamTypes(data: Uint8Array): number[][] {
  const found: number[][] = [];
  for (let o = 0; o < data.length; o += TS_PACKET_SIZE) {
    if (readPid(data, o) === PMT_PID) found.push(parsePmt(data, o)!.streams.map((s) => s.streamType));
  }
  return found;
}

describe('TsSegmenter: timeline breaks between keyframes', () => {
  test('time going back an hour, keyframe 10 frames later: segments keep coming, the next one is a discontinuity', () => {
    const bytes = new Stream().program().frames(3600, 100).program().frames(0, 160, { firstKey: 10 }).bytes();
    const segments = segment(bytes);
    // 3600-3602, 3602-3604 (closed at the jump, one frame after its last), then the new
    // timeline from its first keyframe (0.4 s): 0.4-2.4, 2.4-4.4, 4.4 open.
    expect(summary(segments)).toEqual([[2, false], [2, false], [2, true], [2, false]]);
    expect(videoTimes(segments[1]!.data).at(-1)).toBe(3603.96);
    expect(videoTimes(segments[2]!.data)[0]).toBe(0.4); // the 10 frames before the keyframe were dropped
    for (const s of segments) {
      expect(s.duration).toBeGreaterThan(0);
      expect(s.duration).toBeLessThan(3);
      expect(segmentOpening(s.data)).toEqual({ startsWithPat: true, pmtBeforeMedia: true, firstMediaIsKeyframe: true });
      const times = videoTimes(s.data);
      expect(times.at(-1)! - times[0]!).toBeLessThan(3); // one timeline per segment
    }
  });

  test('time jumping ahead five hours, keyframe 10 frames later: likewise', () => {
    const bytes = new Stream().program().frames(0, 100).frames(5 * 3600, 160, { firstKey: 10 }).bytes();
    const segments = segment(bytes);
    expect(summary(segments)).toEqual([[2, false], [2, false], [2, true], [2, false]]);
    expect(videoTimes(segments[2]!.data)[0]).toBe(18000.4);
  });

  test('a jump back of less than a segment is a break too', () => {
    // 0-3 s, then back to 1.5 s mid-GOP: the keyframe at 1.9 s is before the open segment's start (2 s).
    const bytes = new Stream().program().frames(0, 75).frames(1.5, 120, { firstKey: 10 }).bytes();
    const segments = segment(bytes);
    expect(summary(segments)).toEqual([[2, false], [1, false], [2, true], [2, false]]);
    expect(videoTimes(segments[2]!.data)[0]).toBe(1.9);
  });

  test('a jump at a keyframe still cuts there (unchanged)', () => {
    const bytes = new Stream().program().frames(0, 100).frames(3600, 100).bytes();
    expect(summary(segment(bytes))).toEqual([[2, false], [2, false], [2, true]]);
  });
});

describe('TsSegmenter: another program', () => {
  test('H.264 -> HEVC at a splice (PAT, PMT, discontinuity packet, keyframe): the old segment ends before the new PMT', () => {
    const bytes = new Stream().program().frames(0, 90).program(HEVC).discontinuity().frames(3.6, 110, { hevc: true }).bytes();
    const segments = segment(bytes);
    // 0-2, 2-3.6 closed at the new PMT, HEVC from 3.6 flagged.
    expect(summary(segments)).toEqual([[2, false], [1.6, false], [2, true], [2, false]]);
    expect(segments.map((s) => s.videoCodec)).toEqual(['h264', 'h264', 'hevc', 'hevc']);
    expect(pmtStreamTypes(segments[1]!.data)).toEqual([[H264, 0x0f]]);
    expect(pmtStreamTypes(segments[2]!.data)).toEqual([[HEVC, 0x0f]]);
    expect(segmentOpening(segments[2]!.data)).toEqual({ startsWithPat: true, pmtBeforeMedia: true, firstMediaIsKeyframe: true });
  });

  test('a PMT change mid-GOP: closed at the PMT, nothing of the new program kept before its keyframe', () => {
    const bytes = new Stream().program().frames(0, 90).program(HEVC).frames(3.6, 115, { hevc: true, firstKey: 5 }).bytes();
    const segments = segment(bytes);
    expect(summary(segments)).toEqual([[2, false], [1.6, false], [2, true], [2, false]]);
    expect(videoTimes(segments[1]!.data).at(-1)).toBe(3.56);
    expect(videoTimes(segments[2]!.data)[0]).toBe(3.8);
    expect(segments[2]!.videoCodec).toBe('hevc');
  });

  test('a repeated PMT with the same layout changes nothing', () => {
    const stream = new Stream().program();
    // PSI about every half second, as FFmpeg writes it; keyframes every 25 frames throughout.
    for (let i = 0; i < 8; i++) stream.frames(i * 0.48, 12, { firstKey: (25 - ((i * 12) % 25)) % 25 }).program();
    expect(summary(segment(stream.bytes()))).toEqual([[2, false]]);
  });
});

describe('TsSegmenter: new parameter sets', () => {
  test('at a cut keyframe: that segment is flagged (fMP4 needs a new init there)', () => {
    const bytes = new Stream().program().frames(0, 100).frames(4, 100, { sps: SPS_B }).bytes();
    expect(summary(segment(bytes))).toEqual([[2, false], [2, false], [2, true]]);
  });

  test('inside a segment: split at the keyframe, the rest flagged', () => {
    // GOP 1 s, segments of 2 s: the new SPS comes at 3 s, one GOP into the 2-4 segment.
    const bytes = new Stream().program().frames(0, 75).frames(3, 125, { sps: SPS_B }).bytes();
    const segments = segment(bytes);
    expect(summary(segments)).toEqual([[2, false], [1, false], [2, true], [2, false]]);
    expect([videoTimes(segments[1]!.data)[0], videoTimes(segments[1]!.data).at(-1)]).toEqual([2, 2.96]);
    expect(videoTimes(segments[2]!.data)[0]).toBe(3);
    for (const s of segments) expect(segmentOpening(s.data)).toEqual({ startsWithPat: true, pmtBeforeMedia: true, firstMediaIsKeyframe: true });
  });

  test('the same parameter sets on every keyframe: no flag', () => {
    const bytes = new Stream().program().frames(0, 200).bytes();
    expect(summary(segment(bytes))).toEqual([[2, false], [2, false], [2, false]]);
  });
});

describe('SegmentWindow: discontinuities', () => {
  const fake = (index: number, discontinuity = false): TsSegment => ({ index, duration: 2, data: new Uint8Array(188), discontinuity, videoCodec: 'h264', audioStreamTypes: [] });

  test('EXT-X-DISCONTINUITY-SEQUENCE counts tags before the first listed segment, retained or not', () => {
    const window = new SegmentWindow('ep1', 2, { listed: 3, grace: 2 });
    for (let i = 0; i < 10; i++) window.add(fake(i, i === 1 || i === 6 || i === 7));
    // Retained 5-9, listed 7-9: segment 1's tag slid out entirely, segment 6's is a grace segment's.
    const playlist = window.renderPlaylist('p/');
    expect(parseMediaPlaylist(playlist).discontinuitySequence).toBe(2);
    expect(playlist.split('\n').slice(6, 8)).toEqual(['#EXT-X-DISCONTINUITY', '#EXTINF:2.000,']); // the first listed keeps its tag
    const fmp4 = window.renderPlaylist('p/', 'fmp4');
    expect(fmp4.match(/#EXT-X-MAP:URI="[^"]+"/g)).toEqual(['#EXT-X-MAP:URI="p/ep1-7.init.mp4"']);
  });
});

// Real parameter sets: FFmpeg clips spliced on one continuous timeline (offsets past 0, so
// FFmpeg does not shift the first clip for AAC's priming samples).
const temp = makeTempDir('hls-breaks');
afterAll(() => temp.cleanup());

async function clip(name: string, args: { size?: string; offset: number; seconds: number; hevc?: boolean }): Promise<Uint8Array> {
  const path = `${temp.dir}/${name}.ts`;
  const video = args.hevc
    ? ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error']
    : ['-c:v', 'libx264', '-preset', 'ultrafast'];
  const proc = Bun.spawn(
    [
      'ffmpeg', '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', `testsrc2=size=${args.size ?? '320x240'}:rate=25`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', String(args.seconds), ...video, '-g', '25', '-bf', '0', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
      '-output_ts_offset', String(args.offset), '-f', 'mpegts', path,
    ],
    { stdout: 'ignore', stderr: 'pipe' },
  );
  if ((await proc.exited) !== 0) throw new Error(await new Response(proc.stderr).text());
  return new Uint8Array(readFileSync(path));
}

async function probeVideo(bytes: Uint8Array, name: string): Promise<{ codec_name: string; width: number; height: number }> {
  const path = `${temp.dir}/${name}`;
  writeFileSync(path, bytes);
  const proc = Bun.spawn(['ffprobe', '-v', 'error', '-select_streams', 'v', '-show_streams', '-of', 'json', path], { stdout: 'pipe', stderr: 'pipe' });
  const [out] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  return JSON.parse(out).streams[0];
}

describe('fMP4 init segments across a change', () => {
  test('320x240 -> 640x360 on one timeline: a flagged segment whose init names the new size, listed with its EXT-X-MAP', async () => {
    const [small, large] = await Promise.all([clip('small', { offset: 10, seconds: 3 }), clip('large', { size: '640x360', offset: 13, seconds: 5 })]);
    const segments = segment(concat([small, large]));
    expect(summary(segments)).toEqual([[2, false], [1, false], [2, true], [2, false]]);
    const sizes = segments.map((s) => {
      const video = tracksOf(demuxSegment(s.data))!.video!;
      return `${video.width}x${video.height}`;
    });
    expect(sizes).toEqual(['320x240', '320x240', '640x360', '640x360']);
    const cmaf = remuxToCmaf(segments[2]!.data, 3)!;
    expect(await probeVideo(concat([cmaf.init, cmaf.fragment]), 'large.mp4')).toMatchObject({ codec_name: 'h264', width: 640, height: 360 });
    const window = new SegmentWindow('ep2', 2, { listed: 6, grace: 0 });
    for (const s of segments) window.add(s);
    expect(window.renderPlaylist('p/', 'fmp4').match(/#EXT-X-MAP:URI="[^"]+"/g)).toEqual(['#EXT-X-MAP:URI="p/ep2-0.init.mp4"', '#EXT-X-MAP:URI="p/ep2-2.init.mp4"']);
  });

  test('H.264 -> HEVC through a shared buffer splice: the HEVC segment is a discontinuity with an hvc1 init', async () => {
    const [h264, hevc] = await Promise.all([clip('h264', { offset: 10, seconds: 3 }), clip('hevc', { offset: 13, seconds: 5, hevc: true })]);
    const buffer = new SharedBuffer({ maxBufferedBytes: 16 * 1024 * 1024 });
    const reader = buffer.createReader();
    buffer.write(h264);
    buffer.beginSegment();
    buffer.write(hevc);
    buffer.end();
    const chunks: Uint8Array[] = [];
    for await (const chunk of reader) chunks.push(chunk);
    const segments = segment(concat(chunks));
    expect(buffer.programChanges).toBe(1);
    expect(summary(segments)).toEqual([[2, false], [1, false], [2, true], [2, false]]);
    expect(segments.map((s) => s.videoCodec)).toEqual(['h264', 'h264', 'hevc', 'hevc']);
    expect(remuxToCmaf(segments[1]!.data, 2)!.codecs).toMatch(/^avc1\./);
    const cmaf = remuxToCmaf(segments[2]!.data, 3)!;
    expect(cmaf.codecs).toMatch(/^hvc1\./);
    expect(await probeVideo(concat([cmaf.init, cmaf.fragment]), 'hevc.mp4')).toMatchObject({ codec_name: 'hevc', width: 320, height: 240 });
  });
});
