// Where one variant's segments sit on a live DASH presentation timeline: the manifest's
// availabilityStartTime, and each Period's start and presentationTimeOffset. A player
// refetches the manifest every couple of seconds and keeps what it learnt (a Period's
// start, the mapping of media time to presentation time), so each is fixed the first
// time it is published and never moves.
//
// - availabilityStartTime: set at the first manifest so that the newest segment's end
//   falls at the moment it was complete (its arrival), i.e. the live edge is where a
//   player would compute it from the wall clock; the first Period starts within the
//   first second after it.
// - A Period per stretch between discontinuities (segment-window.ts periodStart), and
//   where a 33-bit timestamp wrap (26.5 h) would make fragment times go back. The next
//   Period starts where the media continues on the previous one's timeline (a parameter
//   set change on one timeline: no jump), at the previous Period's end when that would
//   overlap it (time went back), or after a gap of at most 5 s.
// Pure: times come in as numbers (arrival wall-clock ms, 90 kHz media times).
import { timestampDelta } from '../hls/pes-timestamp';

const HZ = 90_000;
/** A gap in media longer than this between two Periods is not kept in the presentation. */
const MAX_PERIOD_GAP_S = 5;
/** Periods remembered (those of the retained window, with room). */
const KEPT_PERIODS = 32;

export interface TimedSegment {
  index: number;
  /** The first segment of its period (one init segment). */
  periodStart: number;
  /** Wall-clock ms when the segment was complete. */
  arrivedAt: number;
  /** Video earliest presentation time and duration, 90 kHz. */
  start: number;
  duration: number;
}

export interface PlannedPeriod {
  /** Identifies the Period: the index of its first segment. */
  key: number;
  /** The period whose init segment its segments use. */
  initIndex: number;
  /** Seconds from availabilityStartTime. */
  start: number;
  /** 90 kHz media time at `start`. */
  pto: number;
  segments: TimedSegment[];
}

interface KnownPeriod {
  key: number;
  start: number;
  pto: number;
  /** Presentation time (s) where its latest segment ends. */
  end: number;
}

export class DashTimeline {
  private ast: number | null = null;
  private readonly known: KnownPeriod[] = [];

  /** Wall-clock ms of presentation time 0, once a manifest has been planned. */
  get availabilityStartTime(): number | null {
    return this.ast;
  }

  /** The periods of `listed` (oldest first, as the live window lists them), fixed on first sight. */
  plan(listed: readonly TimedSegment[]): { availabilityStartTime: number; periods: PlannedPeriod[] } {
    const groups: { key: number; initIndex: number; segments: TimedSegment[] }[] = [];
    for (const s of listed) {
      const group = groups.at(-1);
      const prev = group?.segments.at(-1);
      // A raw timestamp smaller than the one before, on the same timeline: the 33-bit wrap.
      const wrapped = !!prev && s.start < prev.start && timestampDelta(prev.start, s.start) > 0;
      if (!group || s.periodStart !== group.initIndex || wrapped) groups.push({ key: wrapped && s.periodStart === group?.initIndex ? s.index : s.periodStart, initIndex: s.periodStart, segments: [s] });
      else group.segments.push(s);
    }
    const newest = listed.at(-1);
    const periods: PlannedPeriod[] = [];
    for (const g of groups) {
      const first = g.segments[0]!;
      const last = g.segments.at(-1)!;
      let period = this.known.find((p) => p.key === g.key);
      if (!period) {
        period = { key: g.key, start: this.startOf(first, newest!), pto: first.start, end: 0 };
        this.known.push(period);
        if (this.known.length > KEPT_PERIODS) this.known.shift();
      }
      period.end = Math.max(period.end, period.start + timestampDelta(period.pto, last.start + last.duration) / HZ);
      periods.push({ key: g.key, initIndex: g.initIndex, start: period.start, pto: period.pto, segments: g.segments });
    }
    return { availabilityStartTime: this.ast!, periods };
  }

  /** The start of a Period first seen now, whose first listed segment is `first`. */
  private startOf(first: TimedSegment, newest: TimedSegment): number {
    const prev = this.known.at(-1);
    if (prev) {
      // On the previous Period's timeline where it continues; never overlapping it.
      const continued = prev.start + timestampDelta(prev.pto, first.start) / HZ;
      return continued >= prev.end && continued <= prev.end + MAX_PERIOD_GAP_S ? continued : prev.end;
    }
    // The newest segment's end at its arrival.
    const startMs = newest.arrivedAt - (timestampDelta(first.start, newest.start + newest.duration) * 1000) / HZ;
    this.ast ??= Math.floor(startMs / 1000) * 1000;
    return Math.max(0, (startMs - this.ast) / 1000);
  }
}
