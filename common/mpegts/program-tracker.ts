// Follows PAT -> PMT -> video PID through a packet sequence and classifies packets, so
// a relay can recognise clean entry points (PAT, PMT, then a video keyframe) without
// demuxing. One tracker per producer: a new FFmpeg may choose different PIDs.
import { PID_PAT } from './constants.ts';
import { parsePat, parsePmt, firstPmtPid, type Pmt } from './psi.ts';

export const PacketKind = {
  Other: 0,
  Pat: 1,
  Pmt: 2,
  /** First packet of a video keyframe: random_access_indicator + payload_unit_start. */
  Keyframe: 3,
} as const;
export type PacketKind = (typeof PacketKind)[keyof typeof PacketKind];

export class ProgramTracker {
  /** PMT PID named by the latest valid PAT, or -1. */
  pmtPid = -1;
  /** Video PID named by the latest valid PMT, or -1. */
  videoPid = -1;
  /** Latest valid PMT (for logging and tests). */
  pmt: Pmt | null = null;

  /**
   * Classifies the packet at `offset`. Keyframes are only reported once a PAT and PMT
   * have been seen, because a player joining there could not decode them otherwise.
   * Requiring payload_unit_start as well as the flag means the video PES starts in
   * this very packet, so nothing before it is needed.
   */
  inspect(buf: Uint8Array, offset: number): PacketKind {
    const pid = ((buf[offset + 1]! & 0x1f) << 8) | buf[offset + 2]!;
    if (pid === this.videoPid) {
      const b3 = buf[offset + 3]!;
      const keyframe =
        (buf[offset + 1]! & 0x40) !== 0 && (b3 & 0x20) !== 0 && buf[offset + 4]! > 0 && (buf[offset + 5]! & 0x40) !== 0;
      return keyframe ? PacketKind.Keyframe : PacketKind.Other;
    }
    if (pid === PID_PAT) {
      const pat = parsePat(buf, offset);
      if (!pat) return PacketKind.Other;
      const pmtPid = firstPmtPid(pat);
      if (pmtPid !== this.pmtPid) {
        // A different program layout: the old video PID no longer means anything.
        this.pmtPid = pmtPid;
        this.videoPid = -1;
        this.pmt = null;
      }
      return PacketKind.Pat;
    }
    if (pid === this.pmtPid) {
      const pmt = parsePmt(buf, offset);
      if (!pmt) return PacketKind.Other;
      this.pmt = pmt;
      this.videoPid = pmt.videoPid;
      return PacketKind.Pmt;
    }
    return PacketKind.Other;
  }
}
