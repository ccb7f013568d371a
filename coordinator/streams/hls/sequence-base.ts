// Where a new HLS run starts counting: its first media sequence number is the time it
// started, in half seconds since 2026-01-01 UTC, not 0. A coordinator restarted on its
// database, or another one taking a variant over, therefore continues every playlist
// forward: the media sequence never resets or goes back (RFC 8216 6.2.1). No write per
// segment is needed: a run cannot have made more segments than half seconds have passed
// (a segment lasts at least a keyframe interval; the target is 2 s), so the next run's
// start is past its last number. Segment names still carry the run's epoch, so no URL is
// ever reused either. (The discontinuity sequence is not a time: players keep state per
// discontinuity sequence number, and hls.js walks it from 0; discontinuity-ledger.ts.)
export const SEQUENCE_EPOCH_MS = Date.UTC(2026, 0, 1);
export const SEQUENCE_TICK_MS = 500;

export function mediaSequenceBase(nowMs: number): number {
  return Math.max(0, Math.floor((nowMs - SEQUENCE_EPOCH_MS) / SEQUENCE_TICK_MS));
}
