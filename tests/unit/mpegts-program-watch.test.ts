import { describe, expect, test } from 'bun:test';
import { TS_PACKET_SIZE } from '../../common/mpegts/constants.ts';
import { parseH264Sps, parseHevcSps, readAudioFormat, type AudioFormat } from '../../common/mpegts/es-headers.ts';
import { ProgramWatch, type ProgramChange } from '../../common/mpegts/program-watch.ts';
import { parsePmt } from '../../common/mpegts/psi.ts';
import {
  ac3Header,
  adtsHeader,
  AUDIO_PID,
  concat,
  Counters,
  eac3Header,
  h264Sps,
  hevcSps,
  patSection,
  pes,
  pmtSection,
  psiPackets,
  tsPacket,
  VIDEO_PID,
  type PmtStreamSpec,
} from './mpegts-packet-builders.ts';

const PMT_PID = 0x1000;
const H264_AAC: PmtStreamSpec[] = [
  { type: 0x1b, pid: VIDEO_PID },
  { type: 0x0f, pid: AUDIO_PID },
];

/** Annex-B: each NAL behind a 4-byte start code. */
function annexB(...nals: number[][]): number[] {
  return nals.flatMap((n) => [0, 0, 0, 1, ...n]);
}

const AUD = [0x09, 0xf0];
const PPS = [0x68, 0xce, 0x3c, 0x80];
const IDR = [0x65, 0x88, 0x84, 0x00, 0x33, 0xff];
const HEVC_AUD = [0x46, 0x01, 0x50];
const HEVC_VPS = [0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x5d, 0x95, 0x98, 0x09];
const HEVC_IDR = [0x26, 0x01, 0xaf, 0x06, 0xb8];

class Stream {
  readonly cc = new Counters();
  private pts = 900_000;

  program(streams: PmtStreamSpec[] = H264_AAC, opts: { version?: number; pmtPid?: number } = {}): Uint8Array {
    const pmtPid = opts.pmtPid ?? PMT_PID;
    return concat([...psiPackets(0, patSection(pmtPid), this.cc), ...psiPackets(pmtPid, pmtSection(streams, { version: opts.version }), this.cc)]);
  }

  video(es: number[], pid = VIDEO_PID): Uint8Array {
    this.pts += 3600;
    return tsPacket({ pid, cc: this.cc.take(pid), randomAccess: true, payload: pes(0xe0, this.pts + 3600, this.pts, es) });
  }

  audio(header: number[], pid = AUDIO_PID): Uint8Array {
    return tsPacket({ pid, cc: this.cc.take(pid), payload: pes(0xc0, this.pts, undefined, [...header, 0x21, 0x10, 0x05]) });
  }

  /** A packet in the middle of a PES (no unit start): never inspected. */
  middle(pid: number, bytes: number[]): Uint8Array {
    return tsPacket({ pid, cc: this.cc.take(pid), pusi: false, payload: bytes });
  }
}

function h264Frame(s: Stream, width: number, height: number, opts: Parameters<typeof h264Sps>[2] = {}): Uint8Array {
  return s.video(annexB(AUD, h264Sps(width, height, opts), PPS, IDR));
}

function kinds(changes: readonly ProgramChange[]): string[] {
  return changes.map((c) => c.kind);
}

describe('ProgramWatch', () => {
  test('the same program repeated is the baseline, never a change', () => {
    const s = new Stream();
    const w = new ProgramWatch();
    for (let i = 0; i < 5; i++) {
      const span = concat([s.program(), h264Frame(s, 1280, 720), s.audio(adtsHeader(3, 2)), s.middle(VIDEO_PID, annexB(h264Sps(640, 360)))]);
      expect(w.inspect(span)).toEqual([]);
    }
    expect(w.video).toEqual({ pid: VIDEO_PID, codec: 'h264', width: 1280, height: 720, profile: 100 });
    expect(w.audio).toEqual([{ pid: AUDIO_PID, codec: 'aac', sampleRate: 48000, channels: 2 }]);
    expect(w.unsupported).toBeNull();
    expect(w.inspect(new Uint8Array(0))).toBe(w.inspect(s.audio(adtsHeader(3, 2)))); // shared empty array
  });

  test('a codec change in the PMT is one pmt change; the new codec\'s first headers are its baseline', () => {
    const s = new Stream();
    const w = new ProgramWatch();
    w.inspect(concat([s.program(), h264Frame(s, 1280, 720), s.audio(adtsHeader(3, 2))]));
    const hevcAc3: PmtStreamSpec[] = [
      { type: 0x24, pid: VIDEO_PID },
      { type: 0x81, pid: AUDIO_PID },
    ];
    const lead = s.audio(adtsHeader(3, 2));
    const span = concat([lead, s.program(hevcAc3, { version: 1 }), s.video(annexB(HEVC_AUD, HEVC_VPS, hevcSps(1920, 1080), HEVC_IDR)), s.audio(ac3Header(0, 7, true))]);
    const changes = w.inspect(span);
    expect(changes).toEqual([
      {
        kind: 'pmt',
        detail: 'PMT v0 -> v1: video h264 (0x1b) -> hevc (0x24) on PID 0x100; audio aac (0x0f) -> ac3 (0x81) on PID 0x101',
        offset: 2 * TS_PACKET_SIZE, // the PMT packet, after the audio packet and the PAT
      },
    ]);
    expect(w.video).toEqual({ pid: VIDEO_PID, codec: 'hevc', width: 1920, height: 1080, profile: 1 });
    expect(w.audio).toEqual([{ pid: AUDIO_PID, codec: 'ac3', sampleRate: 48000, channels: 6 }]);
    // From then on, the new codec's headers are compared as usual.
    expect(w.inspect(concat([s.program(hevcAc3, { version: 1 }), s.video(annexB(HEVC_AUD, HEVC_VPS, hevcSps(1920, 1080), HEVC_IDR))]))).toEqual([]);
    const bigger = w.inspect(concat([s.video(annexB(HEVC_AUD, HEVC_VPS, hevcSps(3840, 2160), HEVC_IDR)), s.audio(ac3Header(0, 2, false))]));
    expect(bigger.map((c) => [c.kind, c.detail, c.offset])).toEqual([
      ['video', 'video 1920x1080 -> 3840x2160', 0],
      ['audio', 'audio ac3 48000 Hz 6 ch -> ac3 48000 Hz 2 ch on PID 0x101', TS_PACKET_SIZE],
    ]);
  });

  test('any PMT change makes the next SPS and audio header a baseline, even with new parameters', () => {
    const s = new Stream();
    const w = new ProgramWatch();
    w.inspect(concat([s.program(), h264Frame(s, 1280, 720), s.audio(adtsHeader(3, 2))]));
    const withSubtitles = [...H264_AAC, { type: 0x06, pid: 0x102, descriptors: [0x59, 0x00] }];
    const changes = w.inspect(concat([s.program(withSubtitles, { version: 2 }), h264Frame(s, 1920, 1080), s.audio(adtsHeader(3, 6))]));
    expect(changes.map((c) => c.detail)).toEqual(['PMT v0 -> v2: added data (0x06) on PID 0x102']);
    expect(w.video).toMatchObject({ width: 1920, height: 1080 });
    expect(w.audio[0]).toMatchObject({ channels: 6 });
    expect(w.inspect(s.program(withSubtitles, { version: 3 })).map((c) => c.detail)).toEqual(['PMT v2 -> v3: streams unchanged']);
  });

  test('a new H.264 SPS size is a video change with both sizes (cropping, interlace, scaling lists parsed)', () => {
    const s = new Stream();
    const w = new ProgramWatch();
    expect(w.inspect(concat([s.program(), h264Frame(s, 1920, 1080, { scalingList: true })]))).toEqual([]);
    expect(w.video).toMatchObject({ width: 1920, height: 1080, profile: 100 });
    const sd = h264Frame(s, 720, 576, { interlaced: true, profile: 77 });
    const changes = w.inspect(concat([s.audio(adtsHeader(3, 2)), sd, h264Frame(s, 720, 576, { interlaced: true, profile: 77 })]));
    expect(changes).toEqual([{ kind: 'video', detail: 'video 1920x1080 -> 720x576', offset: TS_PACKET_SIZE }]);
    expect(w.video).toEqual({ pid: VIDEO_PID, codec: 'h264', width: 720, height: 576, profile: 77 });
    // Same size, new profile: still a change, said so.
    expect(w.inspect(h264Frame(s, 720, 576, { interlaced: true, profile: 100 })).map((c) => c.detail)).toEqual(['video profile 77 -> 100']);
  });

  test('an SPS cut by the packet end matches the whole one (no false change)', () => {
    const s = new Stream();
    const w = new ProgramWatch();
    // An SEI long enough that the SPS after it runs past the packet end.
    const sei = [0x06, 0x05, ...new Array(146).fill(0x5a)];
    const cutFrame = () => s.video(annexB(AUD, sei, h264Sps(1280, 720), PPS, IDR));
    expect(w.inspect(concat([s.program(), cutFrame()]))).toEqual([]);
    expect(w.video).toMatchObject({ width: 0, height: 0 }); // not enough of it to parse
    expect(w.inspect(concat([h264Frame(s, 1280, 720), cutFrame(), h264Frame(s, 1280, 720)]))).toEqual([]);
    expect(w.video).toMatchObject({ width: 1280, height: 720 });
  });

  test('ADTS channel configuration 2 -> 6 is an audio change', () => {
    const s = new Stream();
    const w = new ProgramWatch();
    w.inspect(concat([s.program(), s.audio(adtsHeader(3, 2)), s.audio(adtsHeader(3, 2))]));
    const changes = w.inspect(concat([s.audio(adtsHeader(3, 2)), s.audio(adtsHeader(3, 6)), s.audio(adtsHeader(3, 6))]));
    expect(changes).toEqual([{ kind: 'audio', detail: 'audio aac 48000 Hz 2 ch -> aac 48000 Hz 6 ch on PID 0x101', offset: TS_PACKET_SIZE }]);
    expect(w.audio).toEqual([{ pid: AUDIO_PID, codec: 'aac', sampleRate: 48000, channels: 6 }]);
  });

  test('audio frame headers: AC-3, E-AC-3, MPEG audio; AC-3 in private data found by its descriptor', () => {
    const read = (codec: Parameters<typeof readAudioFormat>[0], bytes: number[]) => {
      const out: AudioFormat = { codec: '', sampleRate: 0, channels: 0 };
      return readAudioFormat(codec, new Uint8Array(bytes), 0, bytes.length, out) ? out : null;
    };
    expect(read('ac3', ac3Header(0, 7, true))).toEqual({ codec: 'ac3', sampleRate: 48000, channels: 6 });
    expect(read('ac3', ac3Header(0, 2, false))).toEqual({ codec: 'ac3', sampleRate: 48000, channels: 2 });
    expect(read('ac3', ac3Header(1, 1, true))).toEqual({ codec: 'ac3', sampleRate: 44100, channels: 2 });
    expect(read('ac3', ac3Header(2, 6, false))).toEqual({ codec: 'ac3', sampleRate: 32000, channels: 4 });
    expect(read('eac3', eac3Header(0, 7, true))).toEqual({ codec: 'eac3', sampleRate: 48000, channels: 6 });
    expect(read('mpeg-audio', [0xff, 0xfd, 0x94, 0x04])).toEqual({ codec: 'mp2', sampleRate: 48000, channels: 2 });
    expect(read('mpeg-audio', [0xff, 0xf3, 0x64, 0xc4])).toEqual({ codec: 'mp3', sampleRate: 24000, channels: 1 });
    expect(read('aac', ac3Header(0, 7, true))).toBeNull();
    expect(read('mpeg-audio', adtsHeader(3, 2))).toBeNull(); // layer 00 is ADTS, not MPEG audio
    expect(read('ac3', [0x0b, 0x77, 0, 0, 0xc0, 0x40, 0])).toBeNull(); // fscod 3

    const dvb: PmtStreamSpec[] = [
      { type: 0x1b, pid: VIDEO_PID },
      { type: 0x06, pid: 0x102, descriptors: [0x0a, 0x04, 0x65, 0x6e, 0x67, 0x00, 0x6a, 0x01, 0x00] },
      { type: 0x06, pid: 0x103, descriptors: [0x59, 0x00] },
    ];
    const pmt = parsePmt(psiPackets(PMT_PID, pmtSection(dvb))[0]!, 0);
    expect(pmt?.streams.map((st) => st.descriptorTags)).toEqual([undefined, [0x0a, 0x6a], [0x59]]);
    const s = new Stream();
    const w = new ProgramWatch();
    w.inspect(concat([s.program(dvb), s.audio(ac3Header(0, 7, true), 0x102), s.audio(ac3Header(0, 7, true), 0x103)]));
    expect(w.audio).toEqual([{ pid: 0x102, codec: 'ac3', sampleRate: 48000, channels: 6 }]);
    expect(w.inspect(s.audio(eac3Header(0, 2, false), 0x102)).map((c) => c.detail)).toEqual(['audio ac3 48000 Hz 6 ch -> eac3 48000 Hz 2 ch on PID 0x102']);
  });

  test('MPEG-2 video: a new sequence header size is a video change', () => {
    const s = new Stream();
    const w = new ProgramWatch();
    const seq = (width: number, height: number) => [0, 0, 1, 0xb3, width >> 4, ((width & 0x0f) << 4) | (height >> 8), height & 0xff, 0x33, 0xff, 0xff, 0xe0, 0x18, 0, 0, 1, 0x00, 0x00, 0x0f];
    w.inspect(concat([s.program([{ type: 0x02, pid: VIDEO_PID }]), s.video(seq(720, 576))]));
    expect(w.video).toEqual({ pid: VIDEO_PID, codec: 'mpeg2video', width: 720, height: 576, profile: 0 });
    expect(w.inspect(s.video(seq(544, 576))).map((c) => c.detail)).toEqual(['video 720x576 -> 544x576']);
  });

  test('a PMT longer than one packet sets unsupported; a single-packet one clears it', () => {
    const s = new Stream();
    const w = new ProgramWatch();
    const many: PmtStreamSpec[] = Array.from({ length: 30 }, (_, i) => ({ type: 0x06, pid: 0x200 + i, descriptors: [0x0a, 0x04, 0x65, 0x6e, 0x67, 0x00] }));
    const packets = psiPackets(PMT_PID, pmtSection(many), s.cc);
    expect(packets.length).toBe(2);
    w.inspect(concat([...psiPackets(0, patSection(PMT_PID), s.cc), ...packets]));
    expect(w.unsupported).toBe('PMT spans several packets (346 bytes); not supported');
    expect(w.video).toBeNull();
    w.inspect(s.program());
    expect(w.unsupported).toBeNull();
    expect(w.video?.codec).toBe('h264');
  });

  test('a PAT naming another PMT PID is one pmt change, once that PMT is seen; missing tables are reported after a while', () => {
    const s = new Stream();
    const w = new ProgramWatch({ psiWaitPackets: 10 });
    const filler = () => concat(Array.from({ length: 12 }, () => s.middle(0x300, [1, 2, 3])));
    w.inspect(filler());
    expect(w.unsupported).toBe('no PAT seen in 10 packets');
    w.inspect(concat([s.program(), h264Frame(s, 1280, 720)]));
    expect(w.unsupported).toBeNull();
    expect(w.inspect(concat(psiPackets(0, patSection(0x1001), s.cc)))).toEqual([]);
    w.inspect(filler());
    expect(w.unsupported).toBe('no PMT seen on PID 0x1001 in 10 packets');
    const changes = w.inspect(s.program(H264_AAC, { pmtPid: 0x1001 }));
    expect(changes.map((c) => [c.kind, c.detail, c.offset])).toEqual([['pmt', 'PMT v0 -> v0: PMT PID 0x1000 -> 0x1001', TS_PACKET_SIZE]]);
    expect(w.unsupported).toBeNull();
    expect(w.inspect(concat([s.program(H264_AAC, { pmtPid: 0x1001 }), h264Frame(s, 1280, 720)]))).toEqual([]);
  });

  test('reset() keeps the baseline: a reconnect with the same program is no change, a different one is', () => {
    const s = new Stream();
    const w = new ProgramWatch();
    w.inspect(concat([s.program(), h264Frame(s, 1280, 720), s.audio(adtsHeader(3, 2))]));
    w.reset();
    // Until the new connection's PAT, its PMT PID is not trusted.
    expect(w.inspect(concat(psiPackets(PMT_PID, pmtSection(H264_AAC, { version: 3 }))))).toEqual([]);
    expect(w.inspect(concat([s.program(), h264Frame(s, 1280, 720), s.audio(adtsHeader(3, 2))]))).toEqual([]);
    w.reset();
    expect(kinds(w.inspect(concat([s.program(), h264Frame(s, 1280, 720), s.audio(adtsHeader(4, 2))])))).toEqual(['audio']);
    expect(w.audio[0]).toMatchObject({ sampleRate: 44100 });
  });

  test('SPS parsers: interlaced H.264 cropping, HEVC with sub-layers and a conformance window; garbage neither throws nor invents a size', () => {
    expect(parseHevcSps(new Uint8Array(hevcSps(1366, 768, { subLayers: 2 })))).toEqual({ width: 1366, height: 768, profile: 1 });
    expect(parseHevcSps(new Uint8Array(hevcSps(3840, 2160)))).toEqual({ width: 3840, height: 2160, profile: 1 });
    expect(parseH264Sps(new Uint8Array(h264Sps(1280, 720, { profile: 66 })))).toEqual({ width: 1280, height: 720, profile: 66 });
    expect(parseH264Sps(new Uint8Array(h264Sps(1920, 1080, { interlaced: true })))).toEqual({ width: 1920, height: 1080, profile: 100 });
    expect(parseH264Sps(new Uint8Array(h264Sps(1366, 768, { profile: 77 })))).toEqual({ width: 1366, height: 768, profile: 77 });
    let seed = 99;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) & 0xff;
    for (let i = 0; i < 300; i++) {
      const bytes = new Uint8Array(1 + (i % 40)).map(() => rnd());
      expect(() => parseH264Sps(bytes)).not.toThrow();
      expect(() => parseHevcSps(bytes)).not.toThrow();
      const f = parseH264Sps(bytes);
      expect(f.width >= 0 && f.width <= 16384 && f.height >= 0 && f.height <= 16384).toBe(true);
    }
    expect(parseH264Sps(new Uint8Array([0x67, 100]))).toEqual({ width: 0, height: 0, profile: 100 });
  });

  test('garbage packets do not throw, and do not disturb the program followed', () => {
    const s = new Stream();
    const w = new ProgramWatch();
    w.inspect(concat([s.program(), h264Frame(s, 1280, 720), s.audio(adtsHeader(3, 2))]));
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) & 0xff;
    const pids = [0x0000, PMT_PID, 0x1fff, 0x300];
    for (let round = 0; round < 50; round++) {
      const span = new Uint8Array(TS_PACKET_SIZE * 20).map(() => rnd());
      for (let o = 0; o < span.length; o += TS_PACKET_SIZE) {
        const pid = pids[(o / TS_PACKET_SIZE + round) % pids.length]!;
        span[o] = 0x47;
        span[o + 1] = 0x40 | (pid >> 8);
        span[o + 2] = pid & 0xff;
        // Sections that claim to be a PAT/PMT, with bad CRCs.
        if (round % 2 === 0) span.set([0x10, 0x00, pid === 0 ? 0x00 : 0x02, 0xb0, span[o + 7]! & 0x7f], o + 3);
      }
      expect(() => w.inspect(span)).not.toThrow();
    }
    // Unit starts on the followed PIDs with random (but well-framed) PES contents.
    for (let round = 0; round < 50; round++) {
      const junk = Array.from({ length: 170 }, () => rnd());
      const span = concat([s.video([0, 0, 1, ...junk]), s.audio(junk), s.video([0, 0, 1, 0x67, ...junk])]);
      expect(() => w.inspect(span)).not.toThrow();
    }
    expect(() => w.inspect(new Uint8Array(100).fill(0x47))).not.toThrow();
    expect(w.unsupported).toBeNull();
    expect(w.video?.codec).toBe('h264');
  });
});
