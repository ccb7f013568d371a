import { describe, expect, test } from 'bun:test';
import { TS_PACKET_SIZE } from '../../common/mpegts/constants.ts';
import { TimelineRestamper, type TimelineBreak, type TimelineEvent } from '../../common/mpegts/timeline-restamp.ts';
import { readPesDecodeTime } from '../../coordinator/streams/hls/pes-timestamp.ts';
import { pesDts, pesPts } from '../../coordinator/streams/splice-point.ts';
import {
  AUDIO_PID,
  AUDIO_TICKS,
  avPiece,
  concat,
  Counters,
  FRAME_TICKS,
  pes,
  pesTimestampBitsValid,
  readTimestamps,
  tsPacket,
  VIDEO_PID,
  WRAP,
} from './mpegts-packet-builders.ts';

const HOUR = 3600 * 90_000;
const AHEAD = (54 * HOUR) / 10; // 5.4 h, exactly
const PIECE = 48; // frames: 48 x 3600 ticks is 90 whole audio frames, so joins are continuous

/** Restamps `bytes` (a copy) in spans of 1..40 packets; returns the output and all events. */
function restampAll(r: TimelineRestamper, bytes: Uint8Array, seed = 7): { out: Uint8Array; events: TimelineEvent[] } {
  const out = bytes.slice();
  const events: TimelineEvent[] = [];
  let state = seed;
  for (let at = 0; at < out.length; ) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const n = 1 + (state % 40);
    const span = out.subarray(at, Math.min(out.length, at + n * TS_PACKET_SIZE));
    events.push(...r.restamp(span));
    at += span.length;
  }
  return { out, events };
}

interface Track {
  pcr: number[];
  videoDts: number[];
  videoPts: number[];
  audio: number[];
}

function tracksOf(bytes: Uint8Array): Track {
  const t: Track = { pcr: [], videoDts: [], videoPts: [], audio: [] };
  for (let o = 0; o < bytes.length; o += TS_PACKET_SIZE) {
    const pid = ((bytes[o + 1]! & 0x1f) << 8) | bytes[o + 2]!;
    const ts = readTimestamps(bytes, o);
    if (ts.pcr !== null) t.pcr.push(ts.pcr);
    if (pid === VIDEO_PID && ts.dts !== null) {
      t.videoDts.push(ts.dts);
      t.videoPts.push(ts.pts!);
    }
    if (pid === AUDIO_PID && ts.pts !== null) t.audio.push(ts.pts);
  }
  return t;
}

/** Successive differences on the 33-bit clock. */
function steps(values: number[]): number[] {
  return values.slice(1).map((v, i) => {
    const d = (((v - values[i]!) % WRAP) + WRAP) % WRAP;
    return d > WRAP / 2 ? d - WRAP : d;
  });
}

/**
 * The new timeline starts one frame after the end of every stream's last PES (the new
 * content's streams start together; one frame of margin for one that starts a little early).
 */
const JOIN_MARGIN_TICKS = 3600;

/**
 * Every track steps evenly but at each of `joins` breaks, where it steps once by its own
 * step plus the join margin (never back, never overlapping); each frame keeps its source
 * PTS - DTS (B-frame reordering).
 */
function expectContinuous(out: Uint8Array, source: Uint8Array, joins: number): void {
  const t = tracksOf(out);
  for (const [values, step] of [[t.videoDts, FRAME_TICKS], [t.pcr, FRAME_TICKS], [t.audio, AUDIO_TICKS]] as const) {
    const s = steps(values);
    expect(s.filter((x) => x === step + JOIN_MARGIN_TICKS).length).toBe(joins);
    expect(s.filter((x) => x !== step && x !== step + JOIN_MARGIN_TICKS)).toEqual([]);
  }
  const reorder = (x: Track) => x.videoPts.map((p, i) => (p - x.videoDts[i]! + WRAP) % WRAP);
  expect(reorder(t)).toEqual(reorder(tracksOf(source)));
}

describe('TimelineRestamper', () => {
  test('a continuous stream passes through bit-identical, with no events', () => {
    const source = avPiece(900_000, 4 * PIECE, new Counters());
    const r = new TimelineRestamper();
    const { out, events } = restampAll(r, source);
    expect(events).toEqual([]);
    expect(Buffer.compare(out, source)).toBe(0);
    expect([r.breaks, r.wraps, r.ccErrors, r.offsetTicks]).toEqual([0, 0, 0, 0]);
    const none = r.restamp(new Uint8Array(0));
    expect(r.restamp(tsPacket({ pid: 0x1fff, payload: [] }))).toBe(none); // one shared (frozen) empty array
    expect(Object.isFrozen(none)).toBe(true);
  });

  for (const audioFirst of [false, true]) {
    test(`a joined stream (1 h back, then 5.4 h ahead) comes out continuous on every PID (${audioFirst ? 'audio' : 'video'} first at the joins)`, () => {
      const cc = new Counters();
      const a = 10 * HOUR;
      const b = a + PIECE * FRAME_TICKS - HOUR;
      const c = b + PIECE * FRAME_TICKS + AHEAD;
      const source = concat([avPiece(a, PIECE, cc, { audioFirst }), avPiece(b, PIECE, cc, { audioFirst }), avPiece(c, PIECE, cc, { audioFirst })]);
      expect(steps(tracksOf(source).videoDts).filter((s) => s !== FRAME_TICKS).length).toBe(2);
      const r = new TimelineRestamper();
      const { out, events } = restampAll(r, source);
      expect(events.map((e) => e.kind)).toEqual(['back', 'ahead']);
      // The break shows on whichever PID's packet comes first; every other PID follows.
      const pid = audioFirst ? AUDIO_PID : VIDEO_PID;
      expect(events[0]).toMatchObject({ pid, track: audioFirst ? 'pes' : 'pcr' });
      expect(events[1]).toMatchObject({ pid });
      const back = events[0] as TimelineBreak;
      expect(back.jumpTicks).toBeLessThan(-HOUR + 10 * FRAME_TICKS);
      expect(back.sourceTicks).toBe(audioFirst ? b : b - 27_000);
      expectContinuous(out, source, 2);
      expect(r.breaks).toBe(2);
      // Output continues the first piece: its last video frame + one frame + the margin, then on.
      expect(tracksOf(out).videoDts[PIECE]).toBe(a + PIECE * FRAME_TICKS + JOIN_MARGIN_TICKS);
      expect(r.offsetTicks).toBe((a + 2 * PIECE * FRAME_TICKS + 2 * JOIN_MARGIN_TICKS - c + WRAP) % WRAP);
    });
  }

  test('bundled audio (12 AAC frames per PES, running past the last video frame) never overlaps the new timeline', () => {
    // FFmpeg's muxer writes ~12 AAC frames per PES at 64 kbit/s: the old timeline's last
    // audio PES lasts 256 ms past its PTS, beyond the last video frame. Continuing only the
    // track that showed the break put the new audio inside it (decoders then clamp ~12 frames).
    const BUNDLE = 12 * AUDIO_TICKS;
    const piece = (start: number, cc: Counters) => {
      const packets: { t: number; bytes: Uint8Array }[] = [];
      for (let i = 0; i < PIECE; i++) {
        const dts = start + i * FRAME_TICKS;
        packets.push({ t: i * FRAME_TICKS, bytes: tsPacket({ pid: VIDEO_PID, cc: cc.take(VIDEO_PID), pcr: dts - 27_000, payload: pes(0xe0, dts, dts, [0, 0, 0, 1, 0x09, 0xf0]) }) });
      }
      for (let t = 0; t < PIECE * FRAME_TICKS; t += BUNDLE) packets.push({ t, bytes: tsPacket({ pid: AUDIO_PID, cc: cc.take(AUDIO_PID), payload: pes(0xc0, start + t, undefined, [0xff, 0xf1]) }) });
      packets.sort((x, y) => x.t - y.t);
      return concat(packets.map((x) => x.bytes));
    };
    const cc = new Counters();
    const a = 5 * HOUR;
    const first = piece(a, cc);
    const source = concat([first, piece(a - HOUR, cc)]);
    const r = new TimelineRestamper();
    const { out } = restampAll(r, source);
    expect(r.breaks).toBe(1);
    const before = tracksOf(out.subarray(0, first.length));
    const after = tracksOf(out.subarray(first.length));
    const lastAudioEnd = before.audio.at(-1)! + BUNDLE;
    expect(lastAudioEnd).toBeGreaterThan(before.videoDts.at(-1)! + FRAME_TICKS); // the case that overlapped
    expect(after.audio[0]!).toBeGreaterThanOrEqual(lastAudioEnd);
    expect(after.videoDts[0]!).toBeGreaterThan(before.videoDts.at(-1)!);
    expect(after.pcr[0]!).toBeGreaterThan(before.pcr.at(-1)!);
    // ... and the hole it leaves is small: at most the bundle's overhang plus the margin.
    expect(after.audio[0]! - lastAudioEnd).toBeLessThanOrEqual(JOIN_MARGIN_TICKS);
  });

  test('a jump 5.4 h ahead alone is hidden the same way', () => {
    const cc = new Counters();
    const a = 3 * HOUR;
    const source = concat([avPiece(a, PIECE, cc), avPiece(a + PIECE * FRAME_TICKS + AHEAD, 2 * PIECE, cc)]);
    const r = new TimelineRestamper();
    const { out, events } = restampAll(r, source);
    expect(events).toEqual([{ kind: 'ahead', pid: VIDEO_PID, track: 'pcr', fromTicks: a + (PIECE - 1) * FRAME_TICKS - 27_000, sourceTicks: a + PIECE * FRAME_TICKS + AHEAD - 27_000, jumpTicks: FRAME_TICKS + AHEAD }]);
    expectContinuous(out, source, 1);
  });

  test('a 3 s gap and a 0.5 s step back are not breaks: passed through unchanged', () => {
    const cc = new Counters();
    const a = 5 * HOUR;
    const gapEnd = a + PIECE * FRAME_TICKS + 3 * 90_000;
    const source = concat([avPiece(a, PIECE, cc), avPiece(gapEnd, PIECE, cc), avPiece(gapEnd + PIECE * FRAME_TICKS - 45_000, PIECE, cc)]);
    const r = new TimelineRestamper();
    const { out, events } = restampAll(r, source);
    expect(events).toEqual([]);
    expect(Buffer.compare(out, source)).toBe(0);
    expect(r.breaks).toBe(0);
  });

  test('B-frame PTS reordering is no break, even with a tight maxBackTicks: DTS is what is compared', () => {
    // No PCR: the video PID is the reference clock itself, so nothing else vouches for it.
    const source = avPiece(HOUR, 4 * PIECE, new Counters(), { noPcr: true });
    expect(Math.min(...steps(tracksOf(source).videoPts))).toBe(-2 * FRAME_TICKS);
    const r = new TimelineRestamper({ maxBackTicks: FRAME_TICKS });
    const { out, events } = restampAll(r, source);
    expect(events).toEqual([]);
    expect(Buffer.compare(out, source)).toBe(0);
  });

  test('a source crossing 2^33 naturally is not a break: one wrap, on the PCR PID, bytes unchanged', () => {
    const source = avPiece(WRAP - 24 * FRAME_TICKS, 2 * PIECE, new Counters());
    const r = new TimelineRestamper();
    const { out, events } = restampAll(r, source);
    expect(events).toEqual([{ kind: 'wrap', pid: VIDEO_PID }]);
    expect([r.breaks, r.wraps]).toEqual([0, 1]);
    expect(Buffer.compare(out, source)).toBe(0);
  });

  test('without PCR, wraps are counted on the first PES PID', () => {
    const cc = new Counters();
    const packets: Uint8Array[] = [];
    for (let i = 0; i < 20; i++) packets.push(tsPacket({ pid: 0x300, cc: cc.take(0x300), payload: pes(0xc0, (WRAP - 10 * AUDIO_TICKS + i * AUDIO_TICKS) % WRAP) }));
    const r = new TimelineRestamper();
    expect(r.restamp(concat(packets))).toEqual([{ kind: 'wrap', pid: 0x300 }]);
  });

  test('restamped PCR, OPCR, PTS and DTS are re-encoded exactly (marker bits, prefixes, PCR extension), wrapping at 2^33', () => {
    const cc = new Counters();
    const a = WRAP - 100 * FRAME_TICKS;
    const b = a + PIECE * FRAME_TICKS - HOUR;
    const lastPcr = b + 2 * PIECE * FRAME_TICKS - 27_000;
    const opcrPacket = tsPacket({ pid: VIDEO_PID, cc: 0, pcr: lastPcr, pcrExt: 299, opcr: b - 90_000, pusi: false });
    const first = avPiece(a, PIECE, cc);
    const source = concat([first, avPiece(b, 2 * PIECE, cc)]);
    const r = new TimelineRestamper();
    const { out } = restampAll(r, source);
    expect(r.breaks).toBe(1);
    const offset = r.offsetTicks;
    expect(offset).toBe(HOUR + JOIN_MARGIN_TICKS); // continuing the first piece: 1 h later than its source, plus the margin
    let wrapped = false;
    for (let o = first.length; o < out.length; o += TS_PACKET_SIZE) {
      const before = readTimestamps(source, o);
      const after = readTimestamps(out, o);
      expect(pesTimestampBitsValid(out, o)).toBe(true);
      for (const k of ['pcr', 'pts', 'dts'] as const) {
        if (before[k] === null) continue;
        expect(after[k]).toBe((before[k]! + offset) % WRAP);
        if (after[k]! < before[k]!) wrapped = true;
      }
      expect(after.pcrExt).toBe(before.pcrExt);
      if (before.pcr !== null) expect(out[o + 10]! & 0x7e).toBe(0x7e); // reserved bits kept
      if (before.pts !== null) {
        expect(pesPts(out, o)).toBe(after.pts!);
        expect(pesDts(out, o)).toBe(after.dts ?? after.pts!);
        expect(readPesDecodeTime(out, o)).toBe(after.dts ?? after.pts!);
      }
      // Nothing but the timestamp bytes changed.
      for (let i = 0; i < TS_PACKET_SIZE; i++) {
        if (out[o + i] !== source[o + i]) expect([6, 7, 8, 9, 10].includes(i) || isPesTimestampByte(source, o, i)).toBe(true);
      }
    }
    expect(wrapped).toBe(true);
    expectContinuous(out, source, 1);
    // OPCR: shifted by the same offset, not tracked (its odd value is no break).
    const op = opcrPacket.slice();
    const before = r.breaks;
    r.restamp(op);
    expect(r.breaks).toBe(before);
    expect(readTimestamps(op, 0).pcr).toBe((lastPcr + offset) % WRAP);
    const opcrAt = 12;
    const opcr = op[opcrAt]! * 2 ** 25 + op[opcrAt + 1]! * 2 ** 17 + op[opcrAt + 2]! * 2 ** 9 + op[opcrAt + 3]! * 2 + (op[opcrAt + 4]! >> 7);
    expect(opcr).toBe((b - 90_000 + offset) % WRAP);
    expect(readTimestamps(op, 0).pcrExt).toBe(299);
  });

  test('a sparse PID (subtitles every 10 s) is not taken for a break: its gap is no jump against the PCR', () => {
    const source = avPiece(HOUR, 1000, new Counters());
    const parts: Uint8Array[] = [];
    let next = HOUR;
    let subtitleCc = 0;
    for (let o = 0; o < source.length; o += TS_PACKET_SIZE) {
      parts.push(source.subarray(o, o + TS_PACKET_SIZE));
      const dts = readTimestamps(source, o).dts;
      if (dts !== null && dts >= next) {
        parts.push(tsPacket({ pid: 0x102, cc: subtitleCc++, payload: pes(0xbd, dts + 45_000) }));
        next += 10 * 90_000;
      }
    }
    const joined = concat(parts);
    const r = new TimelineRestamper();
    const { out, events } = restampAll(r, joined);
    expect(events).toEqual([]);
    expect(Buffer.compare(out, joined)).toBe(0);
  });

  test('continuity errors: reported once per span per PID, counted each; a duplicate once, a discontinuity flag and adaptation-only packets are fine', () => {
    const pkt = (cc: number, opts: { discontinuity?: boolean; payload?: boolean } = {}) =>
      tsPacket({ pid: 0x200, cc, discontinuity: opts.discontinuity, payload: opts.payload === false ? undefined : [1, 2, 3], pusi: false });
    const r = new TimelineRestamper();
    const first = concat([0, 1, 2, 2, 3, 7, 8, 9, 9, 9, 10].map((cc) => pkt(cc)));
    expect(r.restamp(first)).toEqual([{ kind: 'cc', pid: 0x200, expected: 4, got: 7 }]);
    expect(r.ccErrors).toBe(2); // 3 -> 7, and the second duplicate of 9
    expect(r.restamp(concat([pkt(12)]))).toEqual([{ kind: 'cc', pid: 0x200, expected: 11, got: 12 }]);
    const fine = concat([pkt(13), pkt(5, { payload: false }), pkt(14), pkt(3, { discontinuity: true }), pkt(4)]);
    expect(r.restamp(fine)).toEqual([]);
    expect(r.ccErrors).toBe(3);
    expect(r.breaks).toBe(0);
  });

  test('reconnected() forgets the counters but not the timeline', () => {
    const a = 2 * HOUR;
    const r = new TimelineRestamper();
    const first = avPiece(a, PIECE, new Counters());
    restampAll(r, first);
    // A new connection: counters restart (no errors) and the clock moved on 3 s (no break).
    r.reconnected();
    const b = a + PIECE * FRAME_TICKS + 3 * 90_000;
    const second = avPiece(b, PIECE, new Counters());
    const s = restampAll(r, second);
    expect(s.events).toEqual([]);
    expect(Buffer.compare(s.out, second)).toBe(0);
    // Another, 2 h further on: restamped onto the output timeline, still no counter errors.
    r.reconnected();
    const c = b + PIECE * FRAME_TICKS + 2 * HOUR;
    const third = restampAll(r, avPiece(c, PIECE, new Counters()));
    expect(third.events.map((e) => e.kind)).toEqual(['ahead']);
    expect(tracksOf(third.out).videoDts[0]).toBe(b + PIECE * FRAME_TICKS + JOIN_MARGIN_TICKS);
    expect(r.ccErrors).toBe(0);
    // Without reconnected(), the restarted counters are errors.
    const fourth = restampAll(r, avPiece(c + PIECE * FRAME_TICKS, PIECE, new Counters(5)));
    expect(fourth.events.filter((e) => e.kind === 'cc').map((e) => e.pid).sort()).toEqual([VIDEO_PID, AUDIO_PID]);
  });

  test('malformed packets are left alone and nothing throws', () => {
    const r = new TimelineRestamper();
    restampAll(r, concat([avPiece(HOUR, PIECE, new Counters()), avPiece(0, 8, new Counters())]));
    expect(r.offsetTicks).not.toBe(0); // later timestamps would be shifted
    const pesAt = (p: Uint8Array) => 5 + p[4]!; // these packets all have an adaptation field
    const longAf = tsPacket({ pid: VIDEO_PID, pcr: 5 });
    longAf[4] = 190; // adaptation field past the packet end
    const shortHeader = tsPacket({ pid: VIDEO_PID, payload: pes(0xe0, 5, 1) });
    shortHeader[pesAt(shortHeader) + 8] = 3; // PES_header_data_length too short for PTS + DTS
    const padding = tsPacket({ pid: VIDEO_PID, payload: [0, 0, 1, 0xbe, 0, 20, ...new Array(20).fill(0xff)] });
    const noSync = tsPacket({ pid: VIDEO_PID, payload: pes(0xe0, 5) });
    noSync[0] = 0;
    const span = concat([longAf, shortHeader, padding, noSync]);
    const copy = span.slice();
    expect(() => r.restamp(span)).not.toThrow();
    expect(Buffer.compare(span, copy)).toBe(0);
    const noise = new Uint8Array(188 * 50 + 77);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919 + (i >> 3) * 31) & 0xff;
    for (let o = 0; o < noise.length; o += 188) noise[o] = 0x47;
    expect(() => r.restamp(noise)).not.toThrow();
    expect(() => new TimelineRestamper({ maxBackTicks: 0 })).toThrow(RangeError);
  });
});

/** Whether byte `i` of the packet at `o` lies in its PES PTS/DTS fields. */
function isPesTimestampByte(buf: Uint8Array, o: number, i: number): boolean {
  let p = 4;
  if (buf[o + 3]! & 0x20) p += 1 + buf[o + 4]!;
  return i >= p + 9 && i < p + 19;
}
