// The live window of one HLS variant: the newest segments, listed in the media
// playlist, plus a few older ones kept for players that loaded the playlist just before
// it slid. Everything older is gone (404): memory is bounded by segment count.
import type { TsSegment } from './ts-segmenter.ts';

export interface WindowOptions {
  /** Segments listed in the playlist. */
  listed: number;
  /** Extra older segments still served after they left the playlist. */
  grace: number;
}

export const DEFAULT_WINDOW: WindowOptions = { listed: 6, grace: 4 };

/** What the window knows of a segment besides its bytes. */
export interface SegmentPlace {
  /** Index of the first segment of its period: since the latest discontinuity, or the first one (one init segment throughout). */
  periodStart: number;
  /** Wall-clock ms when it was complete. */
  arrivedAt: number;
}

export class SegmentWindow {
  private segments: TsSegment[] = [];
  /** Discontinuities that slid out of the retained list (EXT-X-DISCONTINUITY-SEQUENCE). */
  private droppedDiscontinuities = 0;
  private maxDuration = 0;
  private readonly places = new WeakMap<TsSegment, SegmentPlace>();
  private periodStart: number | null = null;

  constructor(
    /** Segment names carry this, so a restarted variant never reuses a cached URL. */
    readonly epoch: string,
    private readonly targetSeconds: number,
    private readonly options: WindowOptions = DEFAULT_WINDOW,
    /** Where EXT-X-DISCONTINUITY-SEQUENCE starts (sequence-base.ts): it never goes back across runs. */
    discontinuityBase = 0,
  ) {
    this.droppedDiscontinuities = discontinuityBase;
  }

  get count(): number {
    return this.segments.length;
  }

  get bytes(): number {
    return this.segments.reduce((n, s) => n + s.data.length, 0);
  }

  /** Playlist target duration: never below the configured one and never decreasing (RFC 8216 4.3.3.1). */
  get targetDuration(): number {
    return Math.max(Math.ceil(this.targetSeconds), Math.round(this.maxDuration));
  }

  add(segment: TsSegment, arrivedAt = 0): void {
    if (segment.discontinuity || this.periodStart === null) this.periodStart = segment.index;
    this.places.set(segment, { periodStart: this.periodStart, arrivedAt });
    this.segments.push(segment);
    this.maxDuration = Math.max(this.maxDuration, segment.duration);
    while (this.segments.length > this.options.listed + this.options.grace) {
      if (this.segments.shift()!.discontinuity) this.droppedDiscontinuities++;
    }
  }

  /** The segment with this media sequence number, if still retained. */
  get(index: number): TsSegment | null {
    const first = this.segments[0];
    if (!first) return null;
    return this.segments[index - first.index] ?? null;
  }

  /** How many segments the playlist lists once the window is full: the live window's length. */
  get listedLimit(): number {
    return this.options.listed;
  }

  /** The segments the playlist lists, oldest first. */
  listed(): TsSegment[] {
    return this.segments.slice(-this.options.listed);
  }

  /** Every retained segment, oldest first. */
  retained(): readonly TsSegment[] {
    return this.segments;
  }

  placeOf(segment: TsSegment): SegmentPlace {
    return this.places.get(segment) ?? { periodStart: segment.index, arrivedAt: 0 };
  }

  /**
   * The segment an init segment named by `index` comes from: that segment, or, once it has
   * left the window, the oldest retained one of the period it began (its parameter sets are
   * the period's). DASH names one init per period, by the period's first segment.
   */
  initSource(index: number): TsSegment | null {
    return this.get(index) ?? this.segments.find((s) => this.placeOf(s).periodStart === index) ?? null;
  }

  /** Name of a segment file under the playlist's folder. */
  segmentName(index: number, extension = 'ts'): string {
    return `${this.epoch}-${index}.${extension}`;
  }

  /**
   * Live media playlist (no EXT-X-ENDLIST). `prefix` is the path from the playlist to its
   * segments. fMP4 lists `.m4s` fragments with an EXT-X-MAP init segment, repeated after
   * each discontinuity (the codec's parameter sets may have changed there). With `track`,
   * fMP4 of that track only (a ladder's video renditions and its audio group): DASH's
   * `.video.m4s` / `.audio.m4s` fragments, the same bytes, and the init segment named by
   * its period's first segment as DASH names it, so its URI stays put as the window slides.
   */
  renderPlaylist(prefix: string, container: 'ts' | 'fmp4' = 'ts', track?: 'video' | 'audio'): string {
    const listed = this.segments.slice(-this.options.listed);
    const first = listed[0];
    if (!first) throw new Error('no segment to list yet');
    // Every discontinuity tag that left the playlist counts (RFC 8216 4.3.3.3), so a
    // player can line up timelines across reloads.
    let discontinuitySequence = this.droppedDiscontinuities;
    for (const s of this.segments) {
      if (s.index >= first.index) break;
      if (s.discontinuity) discontinuitySequence++;
    }
    const lines = [
      '#EXTM3U',
      `#EXT-X-VERSION:${container === 'fmp4' ? 7 : 3}`,
      `#EXT-X-TARGETDURATION:${this.targetDuration}`,
      `#EXT-X-MEDIA-SEQUENCE:${first.index}`,
      `#EXT-X-DISCONTINUITY-SEQUENCE:${discontinuitySequence}`,
      '#EXT-X-INDEPENDENT-SEGMENTS',
    ];
    const kind = track && container === 'fmp4' ? `${track}.` : '';
    for (const s of listed) {
      if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
      if (container === 'fmp4' && (s === first || s.discontinuity)) {
        const initIndex = kind ? this.placeOf(s).periodStart : s.index;
        lines.push(`#EXT-X-MAP:URI="${prefix}${this.segmentName(initIndex, `${kind}init.mp4`)}"`);
      }
      lines.push(`#EXTINF:${s.duration.toFixed(3)},`, `${prefix}${this.segmentName(s.index, container === 'fmp4' ? `${kind}m4s` : 'ts')}`);
    }
    return lines.join('\n') + '\n';
  }
}
