// PES timestamps (90 kHz, 33 bits) read straight from a TS packet that starts a PES.
// The HLS segmenter measures segment lengths and timeline breaks with each video frame's
// decode time, never with wall-clock time, and reads a keyframe's presentation time for
// the source's segment grid (the same frame has the same PTS in every rendition, while
// its DTS depends on each encoder's frame reordering).
import { readPayloadOffset } from '../../../common/mpegts/packet-header.ts';

export const PTS_HZ = 90_000;
const WRAP = 2 ** 33;

/**
 * DTS of the PES that starts in the packet at `offset` (PTS when the PES has no DTS),
 * or null when the packet does not start a PES with a timestamp.
 */
export function readPesDecodeTime(buf: Uint8Array, offset: number): number | null {
  if ((buf[offset + 1]! & 0x40) === 0) return null; // payload_unit_start_indicator
  const payload = readPayloadOffset(buf, offset);
  if (payload < 0) return null;
  const p = offset + payload;
  if (p + 14 > offset + 188) return null;
  if (buf[p] !== 0 || buf[p + 1] !== 0 || buf[p + 2] !== 1) return null;
  const flags = buf[p + 7]! >> 6;
  if (flags === 2) return readTimestamp(buf, p + 9);
  if (flags === 3) {
    if (p + 19 > offset + 188) return readTimestamp(buf, p + 9);
    return readTimestamp(buf, p + 14);
  }
  return null;
}

/** PTS of the PES that starts in the packet at `offset`, or null (no PES start, no PTS). */
export function readPesPresentationTime(buf: Uint8Array, offset: number): number | null {
  if ((buf[offset + 1]! & 0x40) === 0) return null;
  const payload = readPayloadOffset(buf, offset);
  if (payload < 0) return null;
  const p = offset + payload;
  if (p + 14 > offset + 188) return null;
  if (buf[p] !== 0 || buf[p + 1] !== 0 || buf[p + 2] !== 1) return null;
  return buf[p + 7]! >> 7 ? readTimestamp(buf, p + 9) : null;
}

/** A 33-bit timestamp in the 5-byte PES layout (marker bits ignored). */
function readTimestamp(buf: Uint8Array, at: number): number {
  const hi = (buf[at]! >> 1) & 0x07;
  const mid = ((buf[at + 1]! << 7) | (buf[at + 2]! >> 1)) & 0x7fff;
  const lo = ((buf[at + 3]! << 7) | (buf[at + 4]! >> 1)) & 0x7fff;
  return hi * 2 ** 30 + mid * 2 ** 15 + lo;
}

/** b - a in 90 kHz ticks across the 33-bit wrap, in (-2^32, 2^32]. */
export function timestampDelta(a: number, b: number): number {
  let d = (b - a) % WRAP;
  if (d < 0) d += WRAP;
  return d > WRAP / 2 ? d - WRAP : d;
}
