// HLS for every variant, on demand: the first playlist request starts (or joins) the
// variant through the same path as an MPEG-TS client, so its errors (unknown source,
// no capacity, job failed) are the stream URL's errors. No second FFmpeg, no extra job:
// segments are cut from the shared buffer the MPEG-TS clients read.
import type { Logger } from '../../../common/log.ts';
import { AppError } from '../../errors.ts';
import { DEFAULT_WINDOW } from './segment-window.ts';
import { HlsVariant, type HlsVariantOptions } from './hls-variant.ts';
import { DEFAULT_SEGMENTER_OPTIONS, type TsSegment } from './ts-segmenter.ts';

export interface ClientStreamOpener {
  openClientStream(sourceId: string, profileId: string): Promise<{ stream: ReadableStream<Uint8Array>; run: { key: string } }>;
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

/** What a segment URL names: the MPEG-TS segment, its fMP4 fragment, or the init segment for it. */
export type SegmentKind = 'ts' | 'm4s' | 'init.mp4';

export class HlsService {
  private readonly variants = new Map<string, HlsVariant>();
  private readonly starting = new Map<string, Promise<HlsVariant>>();
  private sweeper: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly opener: ClientStreamOpener,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    private readonly options: HlsServiceOptions = DEFAULT_HLS_OPTIONS,
  ) {}

  /**
   * The live media playlist of a variant for one viewer; starts the variant and waits
   * for its first segment when needed. `segmentPrefix` is the path from the playlist to
   * its segment folder.
   */
  async playlist(sourceId: string, profileId: string, viewer: string, segmentPrefix: string, container: 'ts' | 'fmp4' = 'ts'): Promise<PlaylistResult> {
    const variant = await this.variantFor(sourceId, profileId, viewer);
    await variant.admit(viewer);
    if (!(await variant.waitForSegment(this.options.firstSegmentTimeoutMs))) {
      throw new AppError('unavailable', `variant ${variant.key} produced no HLS segment (${variant.ended ? 'it ended' : 'no keyframe in time'})`);
    }
    const latest = variant.latest!;
    return {
      body: variant.window.renderPlaylist(segmentPrefix, container),
      targetDuration: variant.window.targetDuration,
      videoCodec: latest.videoCodec,
      audioStreamTypes: latest.audioStreamTypes,
    };
  }

  /** A retained segment by file name (`<epoch>-<n>.ts|.m4s|.init.mp4`); 404 when unknown or expired. */
  segment(sourceId: string, profileId: string, name: string, viewer: string): { segment: TsSegment; kind: SegmentKind } {
    const key = `${sourceId}/${profileId}`;
    const match = /^([a-z0-9]{1,24})-(\d{1,12})\.(ts|m4s|init\.mp4)$/.exec(name);
    if (!match) throw new AppError('not_found', `no segment named ${JSON.stringify(name.slice(0, 64))}: expected <epoch>-<number>.ts, .m4s or .init.mp4`);
    const variant = this.variants.get(key);
    if (!variant || variant.window.epoch !== match[1]) {
      throw new AppError('not_found', `segment ${name} is not from the live run of ${key}; reload the playlist`);
    }
    const segment = variant.window.get(Number(match[2]));
    if (!segment) throw new AppError('not_found', `segment ${name} is not in the live window of ${key} (expired or not produced yet)`);
    variant.touch(viewer);
    return { segment, kind: match[3] as SegmentKind };
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
        const { stream } = await this.opener.openClientStream(sourceId, profileId);
        const variant = new HlsVariant(key, stream, viewer, () => this.openReader(sourceId, profileId), this.options, this.log, this.now, (v) => {
          if (this.variants.get(key) === v) this.variants.delete(key);
          if (this.variants.size === 0 && this.sweeper) {
            clearInterval(this.sweeper);
            this.sweeper = null;
          }
        });
        this.variants.set(key, variant);
        this.sweeper ??= setInterval(() => this.sweep(), 1000);
        this.log.info('hls variant started', { variant: key, epoch: variant.window.epoch });
        return variant;
      })().finally(() => this.starting.delete(key));
      this.starting.set(key, starting);
    }
    return starting;
  }

  private async openReader(sourceId: string, profileId: string): Promise<ReadableStream<Uint8Array>> {
    return (await this.opener.openClientStream(sourceId, profileId)).stream;
  }

  private sweep(): void {
    for (const variant of [...this.variants.values()]) variant.sweep();
  }
}
