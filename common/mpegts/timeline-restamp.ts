// Restamps a live source onto one continuous timeline, in place, before anything else
// sees it.
//
// Workers run FFmpeg with -copyts, so their output carries the source's clock; when that
// clock breaks (an upstream encoder restarts an hour back, a reconnect lands hours
// ahead) such an FFmpeg outputs nothing or garbage. Hiding the break here, once per
// source, is cheaper and more reliable than teaching every consumer about it.
//
// One offset for every PID: a break is noticed on whichever PID's timestamp of the new
// timeline comes first, and because every track's last output is in the same output
// timeline, the other PIDs' next timestamps come out continuous too, with the source's
// own A/V alignment kept exactly. Detection is per track (PCR per PID, DTS per PES PID)
// because only a track's own previous value says what "continuous" means for it.
//
// Hot path (every packet of every source): per-PID state lives in typed arrays, a span
// with nothing to report returns one shared frozen array, and bytes are only written
// while the offset is not 0, so an unbroken source passes through bit-identical.
import { PID_COUNT, PID_NULL, TS_PACKET_SIZE, TS_SYNC_BYTE } from './constants.ts';

const WRAP = 2 ** 33;
const HALF_WRAP = 2 ** 32;
/** Step assumed at a break when the track has no positive delta yet: 40 ms (25 fps). */
const DEFAULT_STEP_TICKS = 3600;
/** Largest step carried over a break: a gap before it says nothing about frame rate. */
const MAX_STEP_TICKS = 9000;
/** PES tracks remembered for placing a break (a program has a handful of streams). */
const MAX_PES_TRACKS = 64;
/** Longest PES duration (a bundle of audio frames) taken into account at a break: 1 s. */
const MAX_PES_SPAN_TICKS = 90_000;
/** 'cc' events per span at most (one per PID already); the counter still counts all. */
const MAX_CC_EVENTS_PER_SPAN = 16;
/** Track index of a PID's PES timestamps; its PCR track is the PID itself. */
const PES_TRACK = PID_COUNT;

export type TimelineTrack = 'pcr' | 'pes';

/** A break hidden: the offset moved so that this timestamp continues its track. */
export interface TimelineBreak {
  kind: 'back' | 'ahead';
  pid: number;
  /** Which of the PID's timestamps showed the break. */
  track: TimelineTrack;
  /** The track's last output timestamp (90 kHz) before the break. */
  fromTicks: number;
  /** The source timestamp that broke the timeline. */
  sourceTicks: number;
  /** Signed jump as it would have come out (source + old offset - fromTicks). */
  jumpTicks: number;
}

/** The source's reference clock crossed 2^33 by a normal step (passed through). */
export interface TimelineWrap {
  kind: 'wrap';
  pid: number;
}

/** A continuity counter that was not due (reported once per span per PID). */
export interface ContinuityEvent {
  kind: 'cc';
  pid: number;
  expected: number;
  got: number;
}

export type TimelineEvent = TimelineBreak | TimelineWrap | ContinuityEvent;

export interface TimelineRestampOptions {
  /** A track going back by more than this (90 kHz) is a break; default 1 s. */
  maxBackTicks?: number;
  /** A track going ahead by more than this is a break; default 5 s. */
  maxAheadTicks?: number;
}

const NO_EVENTS: readonly TimelineEvent[] = Object.freeze([]);

/** b - a on the 33-bit clock, in (-2^32, 2^32]. */
export function signedDelta(a: number, b: number): number {
  let d = (b - a) % WRAP;
  if (d < 0) d += WRAP;
  return d > HALF_WRAP ? d - WRAP : d;
}

/** x on the 33-bit clock, in [0, 2^33). */
export function mod33(x: number): number {
  const m = x % WRAP;
  return m < 0 ? m + WRAP : m;
}

export class TimelineRestamper {
  private readonly maxBack: number;
  private readonly maxAhead: number;
  private offset = 0;
  /** Last output timestamp per track (PCR: pid, PES: PES_TRACK + pid), -1 = none yet. */
  private readonly lastOut = new Float64Array(2 * PID_COUNT).fill(-1);
  /** Last positive delta per track (clamped), 0 = unknown. */
  private readonly step = new Uint16Array(2 * PID_COUNT);
  /**
   * Last positive delta per PES track up to 1 s: how long its last PES lasts. FFmpeg's
   * muxer bundles audio frames (a 64 kbit/s AAC PES holds about 12 frames, 256 ms), so a
   * track's next timestamp is due only that long after its last one.
   */
  private readonly pesSpan = new Uint32Array(PID_COUNT);
  private readonly pesTracks: number[] = [];
  /**
   * The reference clock: the first PCR track, or the first PES track while no PCR was
   * seen. Wraps are counted on it, and a jump on another track is only a break when it
   * is one against this clock too (a sparse subtitle PID's 30 s gap is not).
   */
  private clock = -1;
  private clockLastIn = -1;
  private readonly lastCc = new Int8Array(PID_COUNT).fill(-1);
  /** A duplicate of the last packet was already accepted on this PID (allowed once). */
  private readonly duplicated = new Uint8Array(PID_COUNT);
  /** Span in which a 'cc' event was last reported per PID (once per span per PID). */
  private readonly ccReportedIn = new Uint32Array(PID_COUNT);
  private span = 0;
  private ccEvents = 0;
  private events: TimelineEvent[] | null = null;
  /** Breaks hidden so far (each moved the offset). */
  breaks = 0;
  /** Natural 2^33 wraps of the source's reference clock (not breaks). */
  wraps = 0;
  /** Continuity counter errors on payload packets (all of them, reported or not). */
  ccErrors = 0;

  constructor(options: TimelineRestampOptions = {}) {
    this.maxBack = options.maxBackTicks ?? 90_000;
    this.maxAhead = options.maxAheadTicks ?? 5 * 90_000;
    for (const [name, v] of [['maxBackTicks', this.maxBack], ['maxAheadTicks', this.maxAhead]] as const) {
      if (!(v > 0 && v < HALF_WRAP)) throw new RangeError(`${name} must be in (0, 2^32): ${v}`);
    }
  }

  /** Output minus source timestamp (90 kHz, mod 2^33) applied now. */
  get offsetTicks(): number {
    return this.offset;
  }

  /**
   * A new upstream connection: its continuity counters start afresh (not errors), but
   * the output timeline continues, so its first timestamps are compared with the last
   * output ones and restamped when they moved on by more than the thresholds.
   */
  reconnected(): void {
    this.lastCc.fill(-1);
    this.duplicated.fill(0);
    this.clockLastIn = -1;
  }

  /**
   * Rewrites PCR/OPCR and PES PTS/DTS of the whole packets in `packets` in place; returns
   * what happened in this span (a shared empty array when nothing did).
   */
  restamp(packets: Uint8Array): readonly TimelineEvent[] {
    this.span = (this.span + 1) >>> 0 || 1;
    this.ccEvents = 0;
    for (let o = 0; o + TS_PACKET_SIZE <= packets.length; o += TS_PACKET_SIZE) {
      if (packets[o] === TS_SYNC_BYTE) this.restampPacket(packets, o);
    }
    const events = this.events;
    this.events = null;
    return events ?? NO_EVENTS;
  }

  private restampPacket(buf: Uint8Array, o: number): void {
    const pid = ((buf[o + 1]! & 0x1f) << 8) | buf[o + 2]!;
    if (pid === PID_NULL) return;
    const b3 = buf[o + 3]!;
    let payload = 4;
    let discontinuity = false;
    if ((b3 & 0x20) !== 0) {
      const afLength = buf[o + 4]!;
      if (5 + afLength > TS_PACKET_SIZE) return; // malformed: leave the packet alone
      payload = 5 + afLength;
      if (afLength > 0) {
        const flags = buf[o + 5]!;
        discontinuity = (flags & 0x80) !== 0;
        let q = o + 6;
        const afEnd = o + 5 + afLength;
        if ((flags & 0x10) !== 0 && q + 6 <= afEnd) {
          const pcr = readPcrBase(buf, q);
          this.observe(pid, pid, pcr);
          if (this.offset !== 0) writePcrBase(buf, q, mod33(pcr + this.offset));
          q += 6;
        }
        if ((flags & 0x08) !== 0 && q + 6 <= afEnd && this.offset !== 0) {
          writePcrBase(buf, q, mod33(readPcrBase(buf, q) + this.offset)); // OPCR: shifted, not tracked
        }
      }
    }
    if ((b3 & 0x10) === 0) return; // no payload: the counter does not advance
    this.checkContinuity(pid, b3 & 0x0f, discontinuity);
    if ((buf[o + 1]! & 0x40) !== 0 && payload < TS_PACKET_SIZE) this.restampPes(buf, o + payload, o + TS_PACKET_SIZE, pid);
  }

  private restampPes(buf: Uint8Array, p: number, end: number, pid: number): void {
    if (p + 14 > end || buf[p] !== 0 || buf[p + 1] !== 0 || buf[p + 2] !== 1) return;
    if ((buf[p + 6]! & 0xc0) !== 0x80) return; // no optional PES header (padding, private_stream_2, ...)
    const flags = buf[p + 7]! >> 6;
    const headerLength = buf[p + 8]!;
    if (flags === 2 && headerLength >= 5) {
      const pts = readPesTimestamp(buf, p + 9);
      this.observe(PES_TRACK + pid, pid, pts);
      if (this.offset !== 0) writePesTimestamp(buf, p + 9, 0x2, mod33(pts + this.offset));
    } else if (flags === 3 && headerLength >= 10 && p + 19 <= end) {
      const pts = readPesTimestamp(buf, p + 9);
      const dts = readPesTimestamp(buf, p + 14);
      this.observe(PES_TRACK + pid, pid, dts); // decode order: PTS reorders with B-frames
      if (this.offset !== 0) {
        writePesTimestamp(buf, p + 9, 0x3, mod33(pts + this.offset));
        writePesTimestamp(buf, p + 14, 0x1, mod33(dts + this.offset));
      }
    }
  }

  /** Compares one source timestamp with its track's last output; moves the offset at a break. */
  private observe(track: number, pid: number, t: number): void {
    const isPcr = track < PES_TRACK;
    if (this.clock < 0 || (isPcr && this.clock >= PES_TRACK)) {
      this.clock = track;
      this.clockLastIn = -1;
    }
    let out = mod33(t + this.offset);
    const last = this.lastOut[track]!;
    let broke = false;
    if (last >= 0) {
      const d = signedDelta(last, out);
      if ((d < -this.maxBack || d > this.maxAhead) && this.breaksClock(track, out)) {
        broke = true;
        out = this.placeBreak(track, pid, last);
        this.offset = mod33(out - t);
        this.breaks++;
        const kind = d < 0 ? 'back' : 'ahead';
        this.report({ kind, pid, track: isPcr ? 'pcr' : 'pes', fromTicks: last, sourceTicks: t, jumpTicks: d });
      } else if (d > 0) {
        this.step[track] = d < MAX_STEP_TICKS ? d : MAX_STEP_TICKS;
        if (!isPcr) this.pesSpan[pid] = d < MAX_PES_SPAN_TICKS ? d : MAX_PES_SPAN_TICKS;
      }
    } else if (!isPcr && this.pesTracks.length < MAX_PES_TRACKS) {
      this.pesTracks.push(pid);
    }
    if (track === this.clock) {
      // Input-side wrap: the source itself crossed 2^33 by a normal step.
      const prev = this.clockLastIn;
      if (!broke && prev >= 0 && t < prev) {
        const d = signedDelta(prev, t);
        if (d > 0 && d <= this.maxAhead) {
          this.wraps++;
          this.report({ kind: 'wrap', pid });
        }
      }
      this.clockLastIn = t;
    }
    this.lastOut[track] = out;
  }

  /**
   * Where the track that showed a break continues. The new content's streams start
   * together (its first video frame and first audio frame have about the same source
   * time), so its first timestamp must come after the end of every stream's last PES in
   * the old timeline, not only its own: otherwise the bundled audio of the old timeline
   * overlaps the new audio and decoders clamp or drop frames. A PCR is placed so that
   * the PES of its PID keep their lead over it. Streams far from this one (a stale PID)
   * are left out. Costs one pass over the program's few PES tracks, at a break only.
   */
  private placeBreak(track: number, pid: number, last: number): number {
    const own = this.step[track] || DEFAULT_STEP_TICKS;
    let frontier = own; // relative to `last`
    for (const k of this.pesTracks) {
      const kLast = this.lastOut[PES_TRACK + k]!;
      if (kLast < 0 || PES_TRACK + k === track) continue;
      const rel = signedDelta(last, kLast);
      if (rel < -this.maxAhead || rel > this.maxAhead) continue;
      // One frame of margin after another stream's end: its new first frame may precede ours slightly.
      const end = rel + (this.pesSpan[k] || DEFAULT_STEP_TICKS) + DEFAULT_STEP_TICKS;
      if (end > frontier) frontier = end;
    }
    if (track < PES_TRACK) {
      // A PCR: its PID's PES lead it (the mux delay); keep that lead across the break.
      const pesLast = this.lastOut[PES_TRACK + pid]!;
      const lead = pesLast >= 0 ? signedDelta(last, pesLast) : 0;
      if (lead > 0 && lead < this.maxAhead) frontier = Math.max(own, frontier - lead);
    }
    return mod33(last + frontier);
  }

  /** A jump on a track other than the clock is a break only if it is one against the clock too. */
  private breaksClock(track: number, out: number): boolean {
    if (this.clock === track || this.clock < 0) return true;
    const ref = this.lastOut[this.clock]!;
    if (ref < 0) return true;
    const d = signedDelta(ref, out);
    return d < -this.maxBack || d > this.maxAhead;
  }

  private checkContinuity(pid: number, cc: number, discontinuity: boolean): void {
    const prev = this.lastCc[pid]!;
    this.lastCc[pid] = cc;
    if (prev < 0 || discontinuity || cc === ((prev + 1) & 0x0f)) {
      this.duplicated[pid] = 0;
      return;
    }
    if (cc === prev && this.duplicated[pid] === 0) {
      this.duplicated[pid] = 1;
      return;
    }
    this.duplicated[pid] = 0;
    this.ccErrors++;
    if (this.ccReportedIn[pid] === this.span || this.ccEvents >= MAX_CC_EVENTS_PER_SPAN) return;
    this.ccReportedIn[pid] = this.span;
    this.ccEvents++;
    this.report({ kind: 'cc', pid, expected: (prev + 1) & 0x0f, got: cc });
  }

  private report(event: TimelineEvent): void {
    (this.events ??= []).push(event);
  }
}

/** 33-bit base of a PCR/OPCR field (6 bytes at `q`); the 9-bit extension is left out. */
export function readPcrBase(buf: Uint8Array, q: number): number {
  return buf[q]! * 2 ** 25 + ((buf[q + 1]! << 17) | (buf[q + 2]! << 9) | (buf[q + 3]! << 1) | (buf[q + 4]! >> 7));
}

/** Writes a PCR/OPCR base, keeping the 6 reserved bits and the 9-bit extension. */
export function writePcrBase(buf: Uint8Array, q: number, base: number): void {
  const low = base % 2 ** 25;
  buf[q] = Math.floor(base / 2 ** 25);
  buf[q + 1] = low >>> 17;
  buf[q + 2] = (low >>> 9) & 0xff;
  buf[q + 3] = (low >>> 1) & 0xff;
  buf[q + 4] = ((low & 1) << 7) | (buf[q + 4]! & 0x7f);
}

/** A 33-bit PTS/DTS in the 5-byte PES layout (prefix and marker bits ignored). */
export function readPesTimestamp(buf: Uint8Array, at: number): number {
  const high = (buf[at]! >> 1) & 0x07;
  const low = (buf[at + 1]! << 22) | ((buf[at + 2]! >> 1) << 15) | (buf[at + 3]! << 7) | (buf[at + 4]! >> 1);
  return high * 2 ** 30 + low;
}

/** Writes a PTS/DTS with its 4-bit prefix (0x2 PTS alone, 0x3 PTS + DTS, 0x1 DTS) and marker bits. */
export function writePesTimestamp(buf: Uint8Array, at: number, prefix: number, ts: number): void {
  const low = ts % 2 ** 30;
  buf[at] = (prefix << 4) | (Math.floor(ts / 2 ** 30) << 1) | 1;
  buf[at + 1] = low >>> 22;
  buf[at + 2] = ((low >>> 14) & 0xfe) | 1;
  buf[at + 3] = (low >>> 7) & 0xff;
  buf[at + 4] = ((low << 1) & 0xfe) | 1;
}
