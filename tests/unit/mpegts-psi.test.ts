import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { PID_PAT, TS_PACKET_SIZE, videoCodecOf } from '../../common/mpegts/constants.ts';
import { isRandomAccess, parsePacketHeader, readPid } from '../../common/mpegts/packet-header.ts';
import { PacketKind, ProgramTracker } from '../../common/mpegts/program-tracker.ts';
import { crc32Mpeg, parsePat, parsePmt } from '../../common/mpegts/psi.ts';
import { makeClip, makeTempDir, packetOffsets } from './mpegts-fixtures.ts';

let clip: Uint8Array;
const temp = makeTempDir('mpegts-psi-');

beforeAll(async () => {
  clip = await makeClip(temp.dir, 'clip.ts', { seconds: 4, gop: 25 });
});
afterAll(() => temp.remove());

function firstPacketOf(pid: number): number {
  const offset = packetOffsets(clip).find((o) => readPid(clip, o) === pid);
  if (offset === undefined) throw new Error(`no packet on pid ${pid}`);
  return offset;
}

/** Builds a one-packet PMT section with a correct CRC (for layouts FFmpeg won't write). */
function buildPmtPacket(streams: { type: number; pid: number; descriptors?: number[] }[]): Uint8Array {
  const body: number[] = [0x00, 0x01, 0xc1, 0x00, 0x00, 0xe1, 0x00, 0xf0, 0x00];
  for (const s of streams) {
    const d = s.descriptors ?? [];
    body.push(s.type, 0xe0 | (s.pid >> 8), s.pid & 0xff, 0xf0 | (d.length >> 8), d.length & 0xff, ...d);
  }
  const sectionLength = body.length + 4;
  const section = [0x02, 0xb0 | (sectionLength >> 8), sectionLength & 0xff, ...body];
  const crc = crc32Mpeg(new Uint8Array(section), 0, section.length);
  section.push(crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff);
  const packet = new Uint8Array(TS_PACKET_SIZE).fill(0xff);
  packet.set([0x47, 0x50, 0x00, 0x10, 0x00, ...section]);
  return packet;
}

describe('packet header', () => {
  test('parses the fields of a real PAT packet', () => {
    const h = parsePacketHeader(clip, firstPacketOf(PID_PAT)); // FFmpeg writes its SDT (0x11) first
    expect(h.pid).toBe(PID_PAT);
    expect(h.payloadUnitStart).toBe(true);
    expect(h.hasPayload).toBe(true);
    expect(h.transportError).toBe(false);
    expect(h.payloadOffset).toBeGreaterThanOrEqual(4);
    expect(() => parsePacketHeader(clip, 1)).toThrow();
    expect(parsePacketHeader(clip, 0).pid).toBe(0x11);
  });

  test('the first video packet is a keyframe with an adaptation field', () => {
    const h = parsePacketHeader(clip, firstPacketOf(0x100));
    expect(h.hasAdaptation).toBe(true);
    expect(h.randomAccess).toBe(true);
    expect(h.discontinuity).toBe(false);
    expect(h.payloadUnitStart).toBe(true);
  });
});

describe('PAT and PMT', () => {
  test("find FFmpeg's PMT 0x1000, video 0x100 (h264) and audio 0x101", () => {
    const pat = parsePat(clip, firstPacketOf(PID_PAT));
    expect(pat?.programs).toEqual([{ programNumber: 1, pmtPid: 0x1000 }]);
    const pmt = parsePmt(clip, firstPacketOf(0x1000));
    expect(pmt).not.toBeNull();
    expect(pmt!.videoPid).toBe(0x100);
    expect(pmt!.streams.map((s) => [s.pid, s.streamType, s.videoCodec])).toEqual([
      [0x100, 0x1b, 'h264'],
      [0x101, 0x0f, null],
    ]);
    expect(pmt!.pcrPid).toBe(0x100);
  });

  test('reject a corrupted section (CRC) and the wrong table', () => {
    const at = firstPacketOf(PID_PAT);
    const pat = clip.slice(at, at + TS_PACKET_SIZE);
    expect(parsePat(pat, 0)).not.toBeNull();
    expect(parsePmt(pat, 0)).toBeNull();
    pat[14] = pat[14]! ^ 0x01;
    expect(parsePat(pat, 0)).toBeNull();
  });

  test('classify video by stream type or registration descriptor', () => {
    for (const t of [0x01, 0x02, 0x10, 0x1b, 0x24, 0x33, 0xea]) expect(videoCodecOf(t)).not.toBeNull();
    expect(videoCodecOf(0x0f)).toBeNull();
    const av1 = buildPmtPacket([
      { type: 0x0f, pid: 0x101 },
      { type: 0x06, pid: 0x102, descriptors: [0x05, 0x04, 0x41, 0x56, 0x30, 0x31] },
    ]);
    const pmt = parsePmt(av1, 0);
    expect(pmt?.videoPid).toBe(0x102);
    expect(pmt?.streams[1]?.videoCodec).toBe('av1');
    expect(parsePmt(buildPmtPacket([{ type: 0x24, pid: 0x200 }]), 0)?.videoPid).toBe(0x200);
    expect(parsePmt(buildPmtPacket([{ type: 0x03, pid: 0x200 }]), 0)?.videoPid).toBe(-1);
  });
});

describe('keyframes', () => {
  test('one random-access video packet per GOP (4 s at GOP 25 = 4), found by the tracker', () => {
    const tracker = new ProgramTracker();
    const kinds = packetOffsets(clip).map((o) => tracker.inspect(clip, o));
    expect(kinds.filter((k) => k === PacketKind.Keyframe).length).toBe(4);
    expect(kinds.filter((k) => k === PacketKind.Pat).length).toBeGreaterThan(1);
    expect(kinds.indexOf(PacketKind.Pat)).toBeLessThan(kinds.indexOf(PacketKind.Pmt));
    expect(kinds.indexOf(PacketKind.Pmt)).toBeLessThan(kinds.indexOf(PacketKind.Keyframe));
    expect(tracker.videoPid).toBe(0x100);
    const rai = packetOffsets(clip).filter((o) => readPid(clip, o) === 0x100 && isRandomAccess(clip, o));
    expect(rai.length).toBe(4);
  });
});
