// MPEG-TS constants shared by the worker (which checks FFmpeg's output) and the
// coordinator (which relays, splices and fans it out). ISO/IEC 13818-1 values.

export const TS_PACKET_SIZE = 188;
export const TS_SYNC_BYTE = 0x47;

/** PID 0 always carries the PAT; it names the PMT PID of each program. */
export const PID_PAT = 0x0000;
/** Null packets are stuffing: their continuity counter is undefined and never checked. */
export const PID_NULL = 0x1fff;
/** Largest PID value + 1: per-PID tables are sized with this (13-bit PID). */
export const PID_COUNT = 0x2000;

export const TABLE_ID_PAT = 0x00;
export const TABLE_ID_PMT = 0x02;

/** Adaptation field flag bits (byte 5 of a packet when adaptation_field_length > 0). */
export const AF_DISCONTINUITY = 0x80;
export const AF_RANDOM_ACCESS = 0x40;

/** Registration descriptor (tag 0x05): codecs without their own stream_type use it. */
export const DESCRIPTOR_REGISTRATION = 0x05;

/**
 * Stream types whose elementary streams are video. Kept as a table rather than a
 * switch so a new codec is a one-line change; 0x06 (private data) is resolved through
 * the registration descriptor instead (AV1 is carried as 0x06 + 'AV01').
 */
export const VIDEO_STREAM_TYPES: ReadonlyMap<number, string> = new Map([
  [0x01, 'mpeg1video'],
  [0x02, 'mpeg2video'],
  [0x10, 'mpeg4'],
  [0x1b, 'h264'],
  [0x1f, 'h264-svc'],
  [0x20, 'h264-mvc'],
  [0x24, 'hevc'],
  [0x33, 'vvc'],
  [0x42, 'cavs'],
  [0xd1, 'dirac'],
  [0xd2, 'avs2'],
  [0xd4, 'avs3'],
  [0xea, 'vc1'],
]);

/** Registration format identifiers (as 32-bit big-endian ints) that mark video. */
export const VIDEO_REGISTRATIONS: ReadonlyMap<number, string> = new Map([
  [0x41563031, 'av1'], // 'AV01'
  [0x56432d31, 'vc1'], // 'VC-1'
  [0x64726163, 'dirac'], // 'drac'
]);

/** Name of a video codec for a stream type (plus registration id for 0x06), or null. */
export function videoCodecOf(streamType: number, registration?: number): string | null {
  const byType = VIDEO_STREAM_TYPES.get(streamType);
  if (byType !== undefined) return byType;
  if (registration !== undefined) return VIDEO_REGISTRATIONS.get(registration) ?? null;
  return null;
}
