// PAT and PMT parsing: enough PSI to know which PID is the PMT and which PID is video,
// so the relay can find keyframes and clean entry points. Plus restamping a section's
// version_number (the shared buffer numbers the versions of its own output's tables).
//
// Only sections that fit in one packet are handled. That covers every PAT/PMT FFmpeg
// writes (one program, a handful of streams); a larger section returns null rather
// than a half-parsed table. The CRC is checked because PSI is rare (~10 per second)
// and a corrupt PMT would silently point us at the wrong PID.
import {
  DESCRIPTOR_REGISTRATION,
  TABLE_ID_PAT,
  TABLE_ID_PMT,
  TS_PACKET_SIZE,
  videoCodecOf,
} from './constants.ts';
import { isPayloadUnitStart, readPayloadOffset } from './packet-header.ts';

export interface PatProgram {
  programNumber: number;
  pmtPid: number;
}

export interface Pat {
  transportStreamId: number;
  version: number;
  /** Programs in table order; program 0 (the network PID) is left out. */
  programs: PatProgram[];
}

export interface PmtStream {
  pid: number;
  streamType: number;
  /** Format identifier of a registration descriptor, if present (e.g. 'AV01'). */
  registration?: number;
  /**
   * Tags of the stream's descriptors in table order, when it has any: private-data
   * streams (0x06) say what they carry with them (0x6a AC-3, 0x7a E-AC-3, 0x59 subtitles).
   */
  descriptorTags?: number[];
  /** Codec name when this stream is video, else null. */
  videoCodec: string | null;
}

export interface Pmt {
  programNumber: number;
  version: number;
  pcrPid: number;
  streams: PmtStream[];
  /** PID of the first video stream, or -1 when the program has none. */
  videoPid: number;
}

const CRC_TABLE = buildCrcTable();

function buildCrcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    table[i] = c >>> 0;
  }
  return table;
}

/** CRC-32/MPEG-2 over buf[start, end): 0 when the range ends with a correct CRC. */
export function crc32Mpeg(buf: Uint8Array, start: number, end: number): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ buf[i]!) & 0xff]!) >>> 0;
  return crc >>> 0;
}

/**
 * Locates the single-packet section starting in the packet at `offset`; returns
 * [start, end) of the whole section (CRC included), or null (also when its CRC is wrong).
 */
export function locateSection(buf: Uint8Array, offset: number, tableId: number): [number, number] | null {
  if (offset + TS_PACKET_SIZE > buf.length || !isPayloadUnitStart(buf, offset)) return null;
  const payload = readPayloadOffset(buf, offset);
  if (payload < 0) return null;
  const packetEnd = offset + TS_PACKET_SIZE;
  const start = offset + payload + 1 + buf[offset + payload]!;
  if (start + 3 > packetEnd || buf[start] !== tableId) return null;
  const end = start + 3 + (((buf[start + 1]! & 0x0f) << 8) | buf[start + 2]!);
  // 12 = fixed header after section_length (5 or 9 bytes) + CRC; be generous, check below.
  if (end > packetEnd || end < start + 12) return null;
  if (crc32Mpeg(buf, start, end) !== 0) return null;
  return [start, end];
}

/**
 * Writes the CRC-32 of the section buf[start, end) into its last 4 bytes. With no final
 * XOR, the CRC over the body is the value to store (and then crc32Mpeg of the whole is 0).
 */
export function writeSectionCrc(buf: Uint8Array, start: number, end: number): void {
  const crc = crc32Mpeg(buf, start, end - 4);
  buf[end - 4] = crc >>> 24;
  buf[end - 3] = (crc >>> 16) & 0xff;
  buf[end - 2] = (crc >>> 8) & 0xff;
  buf[end - 1] = crc & 0xff;
}

/** version_number (5 bits) of the long-form section starting at `start`. */
export function sectionVersion(buf: Uint8Array, start: number): number {
  return (buf[start + 5]! >> 1) & 0x1f;
}

/** Sets the version_number of the section buf[start, end) in place and rewrites its CRC. */
export function setSectionVersion(buf: Uint8Array, start: number, end: number, version: number): void {
  buf[start + 5] = (buf[start + 5]! & 0xc1) | ((version & 0x1f) << 1);
  writeSectionCrc(buf, start, end);
}

/** Parses a PAT from the packet at `offset` (which must start the section). */
export function parsePat(buf: Uint8Array, offset = 0): Pat | null {
  const section = locateSection(buf, offset, TABLE_ID_PAT);
  if (!section) return null;
  const [start, end] = section;
  const programs: PatProgram[] = [];
  for (let p = start + 8; p + 4 <= end - 4; p += 4) {
    const programNumber = (buf[p]! << 8) | buf[p + 1]!;
    if (programNumber === 0) continue;
    programs.push({ programNumber, pmtPid: ((buf[p + 2]! & 0x1f) << 8) | buf[p + 3]! });
  }
  return {
    transportStreamId: (buf[start + 3]! << 8) | buf[start + 4]!,
    version: (buf[start + 5]! >> 1) & 0x1f,
    programs,
  };
}

/** Parses a PMT from the packet at `offset` (which must start the section). */
export function parsePmt(buf: Uint8Array, offset = 0): Pmt | null {
  const section = locateSection(buf, offset, TABLE_ID_PMT);
  if (!section) return null;
  const [start, end] = section;
  if (end < start + 16) return null; // shorter than the fixed PMT header + CRC
  const bodyEnd = end - 4;
  const programInfoLength = ((buf[start + 10]! & 0x0f) << 8) | buf[start + 11]!;
  const streams: PmtStream[] = [];
  let p = start + 12 + programInfoLength;
  while (p + 5 <= bodyEnd) {
    const streamType = buf[p]!;
    const pid = ((buf[p + 1]! & 0x1f) << 8) | buf[p + 2]!;
    const infoLength = ((buf[p + 3]! & 0x0f) << 8) | buf[p + 4]!;
    const infoEnd = p + 5 + infoLength;
    if (infoEnd > bodyEnd) return null;
    const registration = findRegistration(buf, p + 5, infoEnd);
    const stream: PmtStream = { pid, streamType, videoCodec: videoCodecOf(streamType, registration) };
    if (registration !== undefined) stream.registration = registration;
    if (infoLength > 0) stream.descriptorTags = readDescriptorTags(buf, p + 5, infoEnd);
    streams.push(stream);
    p = infoEnd;
  }
  const video = streams.find((s) => s.videoCodec !== null);
  return {
    programNumber: (buf[start + 3]! << 8) | buf[start + 4]!,
    version: (buf[start + 5]! >> 1) & 0x1f,
    pcrPid: ((buf[start + 8]! & 0x1f) << 8) | buf[start + 9]!,
    streams,
    videoPid: video ? video.pid : -1,
  };
}

function findRegistration(buf: Uint8Array, from: number, to: number): number | undefined {
  for (let d = from; d + 2 <= to; d += 2 + buf[d + 1]!) {
    if (buf[d] === DESCRIPTOR_REGISTRATION && buf[d + 1]! >= 4 && d + 6 <= to) {
      return ((buf[d + 2]! << 24) | (buf[d + 3]! << 16) | (buf[d + 4]! << 8) | buf[d + 5]!) >>> 0;
    }
  }
  return undefined;
}

function readDescriptorTags(buf: Uint8Array, from: number, to: number): number[] {
  const tags: number[] = [];
  for (let d = from; d + 2 <= to; d += 2 + buf[d + 1]!) tags.push(buf[d]!);
  return tags;
}

/** PMT PID of the first program in a PAT, or -1. */
export function firstPmtPid(pat: Pat): number {
  return pat.programs[0]?.pmtPid ?? -1;
}
