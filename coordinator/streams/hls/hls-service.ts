// HLS for every variant, on demand: the first playlist request starts (or joins) the
// variant through the same path as an MPEG-TS client, so its errors (unknown source,
// no capacity, job failed) are the stream URL's errors. No second FFmpeg, no extra job:
// segments are cut from the shared buffer the MPEG-TS clients read.
import type { Logger } from '../../../common/log.ts';
import { AppError } from '../../errors.ts';
import { DEFAULT_WINDOW } from './segment-window.ts';
import { HlsVariant, type HlsVariantOptions } from './hls-variant.ts';
import { DEFAULT_SEGMENTER_OPTIONS, type TsSegment } from './ts-segmenter.ts';
import type { SegmentKind } from './segment-cmaf.ts';
import type { CutLookup } from '../segment-grid.ts';
import { MemoryDiscontinuityLedger, type DiscontinuityLedger } from './discontinuity-ledger.ts';

export interface ClientStreamOpener {
  /** `run.segmentGrid`: the source's grid when the variant is a ladder rendition (its segments are cut on it). */
  openClientStream(sourceId: string, profileId: string): Promise<{ stream: ReadableStream<Uint8Array>; run: { key: string; segmentGrid?: CutLookup | null } }>;
}

export interface HlsServiceOptions extends HlsVariantOptions {
  /** How long a playlist request waits for the first segment of a starting variant. */
  firstSegmentTimeoutMs: number;
}

export const DEFAULT_HLS_OPTIONS: HlsServiceOptions = {
  segmenter: DEFAULT_SEGMENTER_OPTIONS,
  window: DEFAULT_WINDOW,
  leaveAfterTargetDurations: 3,
  firstSegmentTimeoutMs: 30_000,
};

export interface PlaylistResult {
  body: string;
  targetDuration: number;
  videoCodec: string | null;
  audioStreamTypes: number[];
}

export type { SegmentKind } from './segment-cmaf.ts';
// <epoch>-<n>.<kind>, for every SegmentKind (segment-cmaf.ts), longer kinds first.
const SEGMENT_NAME = /^([a-z0-9]{1,24})-(\d{1,12})\.(video\.init\.mp4|audio\.init\.mp4|video\.m4s|audio\.m4s|init\.mp4|m4s|ts)$/;

export class HlsService {
  private readonly variants = new Map<string, HlsVariant>();
  private readonly starting = new Map<string, Promise<HlsVariant>>();
  private sweeper: ReturnType<typeof setInterval> | null = null;
  // Variant -> the other renditions of its ladder. A player fetches only the rendition it
  // plays; its viewer stays on the others too, so a switch finds them running (not cold,
  // on a new run), as long as it watches the ladder.
  private readonly siblings = new Map<string, readonly string[]>();
  // A source grid's discontinuity base, taken once: every rendition cut on it shares it.
  private readonly gridBases = new WeakMap<CutLookup, Promise<number>>();

  constructor(
    private readonly opener: ClientStreamOpener,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    private readonly options: HlsServiceOptions = DEFAULT_HLS_OPTIONS,
    private readonly ledger: DiscontinuityLedger = new MemoryDiscontinuityLedger(),
  ) {}

  /**
   * The live media playlist of a variant for one viewer; starts the variant and waits
   * for its first segment when needed. `segmentPrefix` is the path from the playlist to
   * its segment folder.
   */
  async playlist(sourceId: string, profileId: string, viewer: string, segmentPrefix: string, container: 'ts' | 'fmp4' = 'ts', track?: 'video' | 'audio'): Promise<PlaylistResult> {
    const variant = await this.variantFor(sourceId, profileId, viewer);
    await variant.admit(viewer);
    if (!(await variant.waitForSegment(this.options.firstSegmentTimeoutMs))) {
      throw new AppError('unavailable', `variant ${variant.key} produced no HLS segment (${variant.ended ? 'it ended' : 'no keyframe in time'})`);
    }
    this.touchSiblings(variant.key, viewer);
    const latest = variant.latest!;
    return {
      body: variant.window.renderPlaylist(segmentPrefix, container, track),
      targetDuration: variant.window.targetDuration,
      videoCodec: latest.videoCodec,
      audioStreamTypes: latest.audioStreamTypes,
    };
  }

  /**
   * The live variant for a DASH manifest, started and waited for like a playlist; the
   * manifest is rendered from its window (coordinator/http/routes/dash-routes.ts).
   */
  async liveVariant(sourceId: string, profileId: string, viewer: string): Promise<HlsVariant> {
    const variant = await this.variantFor(sourceId, profileId, viewer);
    await variant.admit(viewer);
    if (!(await variant.waitForSegment(this.options.firstSegmentTimeoutMs))) {
      throw new AppError('unavailable', `variant ${variant.key} produced no HLS segment (${variant.ended ? 'it ended' : 'no keyframe in time'})`);
    }
    return variant;
  }

  /**
   * A retained segment by file name (`<epoch>-<n>.ts|.m4s|.init.mp4`, and DASH's
   * `.video.m4s|.audio.m4s|.video.init.mp4|.audio.init.mp4`); 404 when unknown or expired.
   * An init segment is named by its period's first segment and stays served while any
   * segment of that period is retained.
   */
  segment(sourceId: string, profileId: string, name: string, viewer: string): { segment: TsSegment; kind: SegmentKind } {
    const key = `${sourceId}/${profileId}`;
    const match = SEGMENT_NAME.exec(name);
    if (!match) throw new AppError('not_found', `no segment named ${JSON.stringify(name.slice(0, 64))}: expected <epoch>-<number>.ts, .m4s or .init.mp4 (DASH: .video.m4s, .audio.m4s and their .init.mp4)`);
    const variant = this.variants.get(key);
    if (!variant || variant.window.epoch !== match[1]) {
      throw new AppError('not_found', `segment ${name} is not from the live run of ${key}; reload the playlist`);
    }
    const kind = match[3] as SegmentKind;
    const index = Number(match[2]);
    const segment = kind.endsWith('init.mp4') ? variant.window.initSource(index) : variant.window.get(index);
    if (!segment) throw new AppError('not_found', `segment ${name} is not in the live window of ${key} (expired or not produced yet)`);
    variant.touch(viewer);
    this.touchSiblings(key, viewer);
    return { segment, kind };
  }

  /** The renditions of one ladder (variant keys): a viewer of any of them stays a viewer of all (see `siblings`). */
  linkLadder(keys: readonly string[]): void {
    for (const key of keys) this.siblings.set(key, keys.filter((k) => k !== key));
  }

  private touchSiblings(key: string, viewer: string): void {
    for (const other of this.siblings.get(key) ?? []) this.variants.get(other)?.touch(viewer);
  }

  /** HLS viewers of a variant (`source/profile`), 0 when it is not served as HLS. */
  viewersOf(variantKey: string): number {
    return this.variants.get(variantKey)?.viewerCount ?? 0;
  }

  stopAll(reason: string): void {
    for (const variant of [...this.variants.values()]) variant.stop(reason);
  }

  private async variantFor(sourceId: string, profileId: string, viewer: string): Promise<HlsVariant> {
    const key = `${sourceId}/${profileId}`;
    const live = this.variants.get(key);
    if (live && !live.ended) return live;
    let starting = this.starting.get(key);
    if (!starting) {
      starting = (async () => {
        const { stream, run } = await this.opener.openClientStream(sourceId, profileId);
        const options = run.segmentGrid ? { ...this.options, segmenter: { ...this.options.segmenter, grid: run.segmentGrid } } : this.options;
        const timeline = await this.timelineFor(sourceId, run.segmentGrid ?? null);
        const variant = new HlsVariant(key, stream, viewer, () => this.openReader(sourceId, profileId), options, this.log, this.now, (v) => {
          if (this.variants.get(key) === v) this.variants.delete(key);
          if (!this.variants.has(key)) this.siblings.delete(key);
          if (this.variants.size === 0 && this.sweeper) {
            clearInterval(this.sweeper);
            this.sweeper = null;
          }
        }, timeline);
        this.variants.set(key, variant);
        this.sweeper ??= setInterval(() => this.sweep(), 1000);
        this.log.info('hls variant started', { variant: key, epoch: variant.window.epoch, grid: !!run.segmentGrid });
        return variant;
      })().finally(() => this.starting.delete(key));
      this.starting.set(key, starting);
    }
    return starting;
  }

  /**
   * The discontinuity base of a new run: its own, or its source grid's (renditions). One
   * count per source, so every playlist of the source goes forward, a profile's too when it
   * becomes or stops being a rendition.
   */
  private async timelineFor(sourceId: string, grid: CutLookup | null): Promise<{ discontinuityBase: number; onDiscontinuity: (sequence: number) => void }> {
    const ledgerKey = sourceId;
    let base: Promise<number>;
    if (grid) {
      base = this.gridBases.get(grid) ?? this.ledger.startRun(ledgerKey);
      this.gridBases.set(grid, base);
    } else base = this.ledger.startRun(ledgerKey);
    return { discontinuityBase: await base, onDiscontinuity: (sequence) => this.ledger.published(ledgerKey, sequence) };
  }

  private async openReader(sourceId: string, profileId: string): Promise<ReadableStream<Uint8Array>> {
    return (await this.opener.openClientStream(sourceId, profileId)).stream;
  }

  private sweep(): void {
    for (const variant of [...this.variants.values()]) variant.sweep();
  }
}
