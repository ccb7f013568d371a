// Where segments of a source's renditions are cut, and what they are numbered: one grid
// per source, so that segment n of every rendition of a ladder starts at the same source
// frame, lasts as long, and carries the same media sequence number, however many workers
// encode the renditions and whenever each one started.
//
// The source's upstream sees every source keyframe before any job does (it feeds them),
// so it registers the cut points here: the first source keyframe in each new cell of a
// grid of `targetSeconds` on the source's (restamped) presentation timeline, numbered one
// after the other. A rendition whose keyframes follow the source's (TranscodeSpec
// keyframes_follow_source) has a keyframe on each of those frames; its HLS segmenter cuts
// exactly there and takes the number registered for that frame (ts-segmenter.ts,
// `grid`). Numbers come from the registry, not from the cell index, so a source whose
// keyframes are further apart than a cell (a 4 s GOP: every other cell empty) still
// numbers its segments one after the other, as HLS and DASH $Number$ require, and two
// renditions started 5 s apart still agree: the later one looks its cuts up.
//
// A lookup matches within a tolerance (half a frame, from the caller): an encoder with
// -copyts writes the source's timestamps rounded to its own time base (1/25 s for 25 fps
// sources), so a rendition's keyframe PTS can be a few milliseconds off the source's,
// the same few milliseconds in every rendition.
//
// Pure: the upstream calls keyframe() for each source keyframe, segmenters call cutAt().
import { timestampDelta } from './hls/pes-timestamp';

export const PTS_HZ = 90_000;
/** Cut points kept for lookups: renditions lagging the source by up to ~2 minutes (2 s cells) still find theirs. */
export const GRID_HISTORY = 64;

export interface SegmentCut {
  /** Source PTS (90 kHz) of the keyframe that opens the segment. */
  pts: number;
  /** Media sequence number of the segment it opens. */
  number: number;
}

/** What a segmenter needs from the grid. */
export interface CutLookup {
  /** The number of the segment a keyframe at `pts` opens, or null when it opens none. */
  cutAt(pts: number, toleranceTicks: number): number | null;
}

export class SegmentGrid implements CutLookup {
  private readonly cuts: SegmentCut[] = [];
  private readonly cellTicks: number;
  /** The next keyframe opens a cut whatever its cell (a new timeline). */
  private fresh = true;
  private nextNumber: number | null = null;

  /** `firstNumber`: where numbering starts (sequence-base.ts); unset, at the first cut's cell index. */
  constructor(targetSeconds: number, firstNumber?: number) {
    this.cellTicks = Math.round(targetSeconds * PTS_HZ);
    this.nextNumber = firstNumber ?? null;
  }

  /** Registered cuts, oldest first (tests, diagnostics). */
  get history(): readonly SegmentCut[] {
    return this.cuts;
  }

  /** A source keyframe at `pts` (90 kHz, restamped): registers a cut when it is the first in a new cell. */
  keyframe(pts: number): void {
    const last = this.cuts.at(-1);
    if (last && !this.fresh) {
      const step = timestampDelta(last.pts, pts);
      // A keyframe repeated, or one going back (restamping should make that impossible):
      // never a cut, and never a number out of order.
      if (step <= 0) return;
      // Same cell as the last cut: inside its segment. Across a 2^33 wrap the cells restart
      // at 0, which differs from the last one's, so that keyframe cuts.
      if (Math.floor(pts / this.cellTicks) === Math.floor(last.pts / this.cellTicks) && step < this.cellTicks) return;
    }
    // Numbers start at the cell index (they then read like positions on the source's
    // clock) and go on one by one; a new timeline continues the count.
    const number = this.nextNumber ?? Math.floor(pts / this.cellTicks);
    this.nextNumber = number + 1;
    this.fresh = false;
    this.cuts.push({ pts, number });
    if (this.cuts.length > GRID_HISTORY) this.cuts.shift();
  }

  /**
   * The source's timeline starts again (a new upstream after all of its viewers had left):
   * earlier cuts may share PTS values with the new timeline's, so they are forgotten, and
   * the next keyframe cuts. Numbers keep counting up.
   */
  newTimeline(): void {
    this.cuts.length = 0;
    this.fresh = true;
  }

  cutAt(pts: number, toleranceTicks: number): number | null {
    // Newest first: a rendition asks about frames it has just produced.
    for (let i = this.cuts.length - 1; i >= 0; i--) {
      const cut = this.cuts[i]!;
      const d = timestampDelta(cut.pts, pts);
      if (Math.abs(d) <= toleranceTicks) return cut.number;
      if (d > toleranceTicks) return null; // later than this cut and not it: no older one matches
    }
    return null;
  }
}
