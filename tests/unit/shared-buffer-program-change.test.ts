// A splice to a producer carrying another program (a copy profile whose source went from
// H.264 + AAC to HEVC + AC-3 5.1): the output's PMT gets a new version with a valid CRC,
// each elementary PID a discontinuity packet before its first new packet, and counters
// stay continuous. A splice to the same program stays byte for byte what it was.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { PID_PAT, TS_PACKET_SIZE } from '../../common/mpegts/constants.ts';
import { ContinuityChecker, ContinuityRewriter } from '../../common/mpegts/continuity.ts';
import { isDiscontinuity, readContinuityCounter, readPid } from '../../common/mpegts/packet-header.ts';
import { PacketKind, ProgramTracker } from '../../common/mpegts/program-tracker.ts';
import { crc32Mpeg, locateSection, parsePat, parsePmt, setSectionVersion, TABLE_ID_PMT } from '../../common/mpegts/index.ts';
import { SharedBuffer } from '../../coordinator/streams/shared-buffer.ts';
import { concat, firstDifference, makeClip, makeTempDir, randomChunks, readAll } from './mpegts-fixtures.ts';

const temp = makeTempDir('shared-buffer-program-change-');
const MiB = 1024 * 1024;
const PMT_PID = 0x1000;

let h264: Uint8Array; // H.264 + AAC, 0-2 s
let h264Next: Uint8Array; // the same program, 2-4 s
let hevc: Uint8Array; // HEVC + AC-3 5.1, 2-4 s
let hevcNext: Uint8Array; // the same HEVC program, 4-6 s
let movedPmt: Uint8Array; // H.264 + AAC with its PMT on PID 0x1100, 2-4 s

/** HEVC + AC-3 5.1 (or H.264 + AAC with another PMT PID), as a copy profile's next producer would carry. */
async function clip(name: string, tsOffset: number, extra: string[]): Promise<Uint8Array> {
  const out = `${temp.dir}/${name}`;
  const proc = Bun.spawn(
    [
      'ffmpeg', '-v', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '2', ...extra, '-output_ts_offset', String(tsOffset), '-f', 'mpegts', out,
    ],
    { stdout: 'ignore', stderr: 'pipe' },
  );
  if ((await proc.exited) !== 0) throw new Error(await new Response(proc.stderr).text());
  return new Uint8Array(await Bun.file(out).arrayBuffer());
}

const HEVC_AC3 = ['-c:v', 'libx265', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', '-x265-params', 'log-level=error', '-c:a', 'ac3', '-ac', '6'];
const H264_AAC = ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k'];

beforeAll(async () => {
  [h264, h264Next, hevc, hevcNext, movedPmt] = await Promise.all([
    makeClip(temp.dir, 'h264.ts', { seconds: 2 }),
    makeClip(temp.dir, 'h264-next.ts', { seconds: 2, tsOffset: 2 }),
    clip('hevc.ts', 2, HEVC_AC3),
    clip('hevc-next.ts', 4, HEVC_AC3),
    clip('moved-pmt.ts', 2, [...H264_AAC, '-mpegts_pmt_start_pid', '0x1100']),
  ]);
});
afterAll(() => temp.remove());

/** Writes the producers into one buffer, a splice (beginSegment) between each two, and reads it all. */
async function splice(producers: Uint8Array[]): Promise<{ out: Uint8Array; buffer: SharedBuffer }> {
  const buffer = new SharedBuffer({ maxBufferedBytes: 16 * MiB });
  const reading = readAll(buffer.createReader());
  producers.forEach((bytes, i) => {
    if (i > 0) buffer.beginSegment();
    for (const chunk of randomChunks(bytes, 30_000, i + 1)) buffer.write(chunk);
  });
  buffer.end();
  return { out: await reading, buffer };
}

/**
 * Today's splice, written out: each producer from its first keyframe after a PAT and PMT
 * (the latest of each repeated before it), counters rewritten across. What a splice of
 * one program must still produce.
 */
function referenceSplice(producers: Uint8Array[]): Uint8Array {
  const rewriter = new ContinuityRewriter();
  const parts = producers.map((bytes, i) => {
    if (i > 0) rewriter.splice();
    const copy = fromFirstEntry(bytes).slice();
    rewriter.rewrite(copy);
    return copy;
  });
  return concat(parts);
}

function fromFirstEntry(bytes: Uint8Array): Uint8Array {
  const tracker = new ProgramTracker();
  let pat: Uint8Array | null = null;
  let pmt: Uint8Array | null = null;
  for (let o = 0; o < bytes.length; o += TS_PACKET_SIZE) {
    const kind = tracker.inspect(bytes, o);
    if (kind === PacketKind.Pat) pat = bytes.subarray(o, o + TS_PACKET_SIZE);
    else if (kind === PacketKind.Pmt) pmt = bytes.subarray(o, o + TS_PACKET_SIZE);
    else if (kind === PacketKind.Keyframe && pat && pmt) return concat([pat, pmt, bytes.subarray(o)]);
  }
  throw new Error('no entry point');
}

interface OutPmt {
  packet: number;
  version: number;
  streamTypes: number[];
}

function pmtsOf(out: Uint8Array, pmtPid = PMT_PID): OutPmt[] {
  const found: OutPmt[] = [];
  for (let o = 0; o < out.length; o += TS_PACKET_SIZE) {
    if (readPid(out, o) !== pmtPid) continue;
    const pmt = parsePmt(out, o); // null on a wrong CRC
    expect(pmt).not.toBeNull();
    found.push({ packet: o / TS_PACKET_SIZE, version: pmt!.version, streamTypes: pmt!.streams.map((s) => s.streamType) });
  }
  return found;
}

/** Adaptation-field-only packets with discontinuity_indicator: [packet index, pid]. */
function discontinuityPackets(out: Uint8Array): { packet: number; pid: number }[] {
  const found: { packet: number; pid: number }[] = [];
  for (let o = 0; o < out.length; o += TS_PACKET_SIZE) {
    if ((out[o + 3]! & 0x30) === 0x20 && isDiscontinuity(out, o)) found.push({ packet: o / TS_PACKET_SIZE, pid: readPid(out, o) });
  }
  return found;
}

describe('SharedBuffer: a splice to another program', () => {
  test('H.264 + AAC -> HEVC + AC-3: PMT version 1 with a valid CRC, a discontinuity packet before each PID, counters continuous', async () => {
    const { out, buffer } = await splice([h264, hevc]);
    const pmts = pmtsOf(out);
    const firstHevc = pmts.findIndex((p) => p.streamTypes[0] === 0x24);
    expect(firstHevc).toBeGreaterThan(0);
    for (const p of pmts.slice(0, firstHevc)) expect([p.version, p.streamTypes]).toEqual([0, [0x1b, 0x0f]]);
    for (const p of pmts.slice(firstHevc)) expect([p.version, p.streamTypes]).toEqual([1, [0x24, 0x81]]);
    expect(parsePmt(hevc, hevc.findIndex((_, i) => i % TS_PACKET_SIZE === 0 && readPid(hevc, i) === PMT_PID))!.version).toBe(0); // FFmpeg's own: 0

    // One discontinuity packet per elementary PID (video is also the PCR PID), right before
    // that PID's first packet of the new producer, repeating its last counter.
    const splicedAt = pmts[firstHevc]!.packet;
    const marks = discontinuityPackets(out);
    expect(marks.map((m) => m.pid).sort()).toEqual([0x100, 0x101]);
    for (const { packet, pid } of marks) {
      expect(packet).toBeGreaterThan(splicedAt);
      let previous = -1;
      let firstAfter = -1;
      for (let i = 0; i < out.length / TS_PACKET_SIZE; i++) {
        if (readPid(out, i * TS_PACKET_SIZE) !== pid || i === packet) continue;
        if (i < packet) previous = i;
        else if (firstAfter < 0) firstAfter = i;
      }
      expect(previous).toBeLessThan(splicedAt); // nothing of this PID between the new PMT and the mark
      expect(firstAfter).toBe(packet + 1);
      expect(readContinuityCounter(out, packet * TS_PACKET_SIZE)).toBe(readContinuityCounter(out, previous * TS_PACKET_SIZE));
    }
    const video = marks.find((m) => m.pid === 0x100)!;
    expect(video.packet).toBe(splicedAt + 1); // PAT, PMT, mark, keyframe
    expect(new ContinuityChecker().check(out)).toEqual([]);
    expect(buffer.programChanges).toBe(1);
    expect(buffer.stats().programChanges).toBe(1);
  });

  test('a third producer with the same HEVC program: no new version, no discontinuity packets', async () => {
    const { out, buffer } = await splice([h264, hevc, hevcNext]);
    const pmts = pmtsOf(out);
    expect([...new Set(pmts.map((p) => `${p.version}:${p.streamTypes.join(',')}`))]).toEqual(['0:27,15', '1:36,129']);
    expect(discontinuityPackets(out).length).toBe(2); // the two of the first splice only
    expect(new ContinuityChecker().check(out)).toEqual([]);
    expect(buffer.programChanges).toBe(1);
    expect(buffer.segment).toBe(2);
  });

  test('a reader joining after the change is replayed the restamped PMT', async () => {
    const buffer = new SharedBuffer({ maxBufferedBytes: 16 * MiB });
    for (const chunk of randomChunks(h264, 30_000, 7)) buffer.write(chunk);
    buffer.beginSegment();
    for (const chunk of randomChunks(hevc, 30_000, 8)) buffer.write(chunk);
    const late = buffer.createReader();
    buffer.end();
    const out = await readAll(late);
    expect(readPid(out, 0)).toBe(PID_PAT);
    const pmt = parsePmt(out, TS_PACKET_SIZE);
    expect(pmt && [pmt.version, pmt.streams.map((s) => s.streamType)]).toEqual([1, [0x24, 0x81]]);
    expect(new ContinuityChecker().check(out)).toEqual([]);
  });

  test('a PMT moved to another PID: the PAT gets version 1 and names it, the PIDs are marked', async () => {
    const { out, buffer } = await splice([h264, movedPmt]);
    const pats: [number, number][] = [];
    for (let o = 0; o < out.length; o += TS_PACKET_SIZE) {
      if (readPid(out, o) !== PID_PAT) continue;
      const pat = parsePat(out, o);
      expect(pat).not.toBeNull();
      pats.push([pat!.version, pat!.programs[0]!.pmtPid]);
    }
    expect([...new Set(pats.map((p) => p.join(':')))]).toEqual([`0:${0x1000}`, `1:${0x1100}`]);
    expect(pmtsOf(out, 0x1100).length).toBeGreaterThan(0);
    expect(discontinuityPackets(out).map((m) => m.pid).sort()).toEqual([0x100, 0x101]);
    expect(new ContinuityChecker().check(out)).toEqual([]);
    expect(buffer.programChanges).toBe(1);
  });
});

describe('SharedBuffer: a splice to the same program', () => {
  test('is byte for byte the plain splice: no version change, no discontinuity packets', async () => {
    const { out, buffer } = await splice([h264, h264Next]);
    expect(firstDifference(out, referenceSplice([h264, h264Next]))).toBeNull();
    expect(discontinuityPackets(out)).toEqual([]);
    expect(buffer.programChanges).toBe(0);
  });

  test('an identical program numbered otherwise by its producer keeps the output version', async () => {
    // The next producer's PMTs say version 3; their content is the first producer's.
    const renumbered = h264Next.slice();
    for (let o = 0; o < renumbered.length; o += TS_PACKET_SIZE) {
      const section = readPid(renumbered, o) === PMT_PID ? locateSection(renumbered, o, TABLE_ID_PMT) : null;
      if (!section) continue;
      setSectionVersion(renumbered, section[0], section[1], 3);
      expect(crc32Mpeg(renumbered, section[0], section[1])).toBe(0);
      expect(parsePmt(renumbered, o)!.version).toBe(3);
    }
    const { out, buffer } = await splice([h264, renumbered]);
    expect(new Set(pmtsOf(out).map((p) => p.version))).toEqual(new Set([0]));
    expect(firstDifference(out, referenceSplice([h264, h264Next]))).toBeNull();
    expect(buffer.programChanges).toBe(0);
  });
});
