// Reading the 4-byte TS header and the adaptation field flags.
//
// Two flavours on purpose: `parsePacketHeader` returns an object (tests, logging,
// rare paths), while the `read*`/`is*` functions read one field straight from a
// buffer + offset without allocating, because the relay path calls them for every
// packet of every stream (hundreds of thousands of packets per second).
import { AF_DISCONTINUITY, AF_RANDOM_ACCESS, TS_PACKET_SIZE, TS_SYNC_BYTE } from './constants.ts';

export interface PacketHeader {
  pid: number;
  transportError: boolean;
  payloadUnitStart: boolean;
  scrambling: number;
  hasAdaptation: boolean;
  hasPayload: boolean;
  continuityCounter: number;
  /** adaptation_field_length, or -1 when there is no adaptation field. */
  adaptationLength: number;
  randomAccess: boolean;
  discontinuity: boolean;
  /** Offset of the payload inside the packet, or -1 when there is none (or it is malformed). */
  payloadOffset: number;
}

/** Parses the header of the packet at `offset`; throws if the sync byte is missing. */
export function parsePacketHeader(buf: Uint8Array, offset = 0): PacketHeader {
  if (offset + TS_PACKET_SIZE > buf.length) throw new RangeError('truncated TS packet');
  if (buf[offset] !== TS_SYNC_BYTE) throw new RangeError(`no TS sync byte at ${offset}`);
  const b1 = buf[offset + 1]!;
  const b3 = buf[offset + 3]!;
  const hasAdaptation = (b3 & 0x20) !== 0;
  return {
    pid: ((b1 & 0x1f) << 8) | buf[offset + 2]!,
    transportError: (b1 & 0x80) !== 0,
    payloadUnitStart: (b1 & 0x40) !== 0,
    scrambling: (b3 >> 6) & 0x03,
    hasAdaptation,
    hasPayload: (b3 & 0x10) !== 0,
    continuityCounter: b3 & 0x0f,
    adaptationLength: hasAdaptation ? buf[offset + 4]! : -1,
    randomAccess: isRandomAccess(buf, offset),
    discontinuity: isDiscontinuity(buf, offset),
    payloadOffset: readPayloadOffset(buf, offset),
  };
}

export function readPid(buf: Uint8Array, offset: number): number {
  return ((buf[offset + 1]! & 0x1f) << 8) | buf[offset + 2]!;
}

export function isPayloadUnitStart(buf: Uint8Array, offset: number): boolean {
  return (buf[offset + 1]! & 0x40) !== 0;
}

export function hasPayload(buf: Uint8Array, offset: number): boolean {
  return (buf[offset + 3]! & 0x10) !== 0;
}

export function hasAdaptationField(buf: Uint8Array, offset: number): boolean {
  return (buf[offset + 3]! & 0x20) !== 0;
}

export function readContinuityCounter(buf: Uint8Array, offset: number): number {
  return buf[offset + 3]! & 0x0f;
}

/** Reads one adaptation flag; an adaptation field of length 0 carries no flags byte. */
function adaptationFlag(buf: Uint8Array, offset: number, mask: number): boolean {
  return (buf[offset + 3]! & 0x20) !== 0 && buf[offset + 4]! > 0 && (buf[offset + 5]! & mask) !== 0;
}

/** random_access_indicator: FFmpeg sets it on the first packet of each video keyframe. */
export function isRandomAccess(buf: Uint8Array, offset: number): boolean {
  return adaptationFlag(buf, offset, AF_RANDOM_ACCESS);
}

/** discontinuity_indicator: a counter (or PCR) jump on this packet is intentional. */
export function isDiscontinuity(buf: Uint8Array, offset: number): boolean {
  return adaptationFlag(buf, offset, AF_DISCONTINUITY);
}

/** Payload start inside the packet at `offset` (relative to the packet), or -1. */
export function readPayloadOffset(buf: Uint8Array, offset: number): number {
  const b3 = buf[offset + 3]!;
  if ((b3 & 0x10) === 0) return -1;
  if ((b3 & 0x20) === 0) return 4;
  const start = 5 + buf[offset + 4]!;
  return start < TS_PACKET_SIZE ? start : -1;
}
