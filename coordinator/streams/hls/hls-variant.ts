// One variant served as HLS: a segmenter reading the variant's shared buffer like any
// client, its live window, and the HLS viewers watching it.
//
// Viewers have no connection to count, so each one is a key (session or address + user
// agent) with the time of its last fetch. To make HLS viewers count everywhere MPEG-TS
// clients count (client limits, the idle grace, /api/cluster, metrics) each viewer holds
// one shared-buffer reader: the first viewer's is the segmenter's own reader, every
// further viewer holds an unread one (an offset, no data). A viewer that stops fetching
// for `leaveAfterSeconds` has left and its reader is cancelled; when the last one
// leaves the segmenter stops reading, and the variant's idle grace runs as usual.
import { mediaSequenceBase } from './sequence-base.ts';
import type { Logger } from '../../../common/log.ts';
import { DashTimeline } from '../dash/dash-timeline.ts';
import { SegmentWindow, type WindowOptions } from './segment-window.ts';
import { TsSegmenter, type TsSegment, type TsSegmenterOptions } from './ts-segmenter.ts';

export interface HlsVariantOptions {
  segmenter: TsSegmenterOptions;
  window: WindowOptions;
  /** A viewer with no fetch for this many target durations has left. */
  leaveAfterTargetDurations: number;
}

/** Opens one more client reader on the variant (limits checked, variant started if needed). */
export type OpenReader = () => Promise<ReadableStream<Uint8Array>>;

export class HlsVariant {
  readonly window: SegmentWindow;
  /** The same window as a DASH presentation (coordinator/http/routes/dash-routes.ts). */
  readonly dash = new DashTimeline();
  private readonly segmenter: TsSegmenter;
  private readonly viewers = new Map<string, number>();
  /** Unread readers held for the viewers after the first. */
  private readonly tokens: ReadableStream<Uint8Array>[] = [];
  private readonly admitting = new Map<string, Promise<void>>();
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private waiters: (() => void)[] = [];
  private stopped = false;
  private offGrid = 0;
  private discontinuities = 0;
  latest: TsSegment | null = null;

  constructor(
    readonly key: string,
    stream: ReadableStream<Uint8Array>,
    firstViewer: string,
    private readonly openReader: OpenReader,
    private readonly options: HlsVariantOptions,
    private readonly log: Logger,
    private readonly now: () => number,
    private readonly onStopped: (variant: HlsVariant, reason: string) => void,
    /** Where its discontinuity sequence starts, and who hears of each one it publishes (discontinuity-ledger.ts). */
    private readonly timeline: { discontinuityBase: number; onDiscontinuity: (sequence: number) => void },
  ) {
    const epoch = `${now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, '0')}`;
    // The media sequence starts at the run's start time, not 0 (sequence-base.ts), and the
    // discontinuity sequence past every earlier run's (discontinuity-ledger.ts): a restarted
    // or taken-over variant's playlist goes on forward. A ladder rendition takes its
    // source's discontinuity base, shared by every rendition of the source: one
    // discontinuity sequence for all, which players use to line them up.
    const base = mediaSequenceBase(now());
    this.window = new SegmentWindow(epoch, options.segmenter.targetSeconds, options.window, timeline.discontinuityBase);
    this.segmenter = new TsSegmenter((segment) => this.segmentReady(segment), { ...options.segmenter, firstIndex: base });
    this.viewers.set(firstViewer, now());
    this.reader = stream.getReader();
    void this.pump();
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  get ended(): boolean {
    return this.stopped;
  }

  /** Records a fetch; a viewer not seen before is admitted like a new client (may throw 503). */
  async admit(viewer: string): Promise<void> {
    if (this.viewers.has(viewer)) {
      this.viewers.set(viewer, this.now());
      return;
    }
    let pending = this.admitting.get(viewer);
    if (!pending) {
      pending = (async () => {
        const token = await this.openReader();
        if (this.stopped) {
          void token.cancel().catch(() => {});
          return;
        }
        this.tokens.push(token);
        this.viewers.set(viewer, this.now());
      })().finally(() => this.admitting.delete(viewer));
      this.admitting.set(viewer, pending);
    }
    await pending;
  }

  /** Refreshes a known viewer (segment fetches); unknown keys are not admitted here. */
  touch(viewer: string): void {
    if (this.viewers.has(viewer)) this.viewers.set(viewer, this.now());
  }

  /** Drops viewers that stopped fetching; stops when none is left. */
  sweep(): void {
    const deadline = this.now() - this.options.leaveAfterTargetDurations * this.window.targetDuration * 1000;
    for (const [viewer, seen] of this.viewers) {
      if (seen >= deadline) continue;
      this.viewers.delete(viewer);
      const token = this.tokens.pop();
      if (token) void token.cancel().catch(() => {});
    }
    if (this.viewers.size === 0 && this.admitting.size === 0) this.stop('no HLS viewers left');
  }

  /** Resolves true once a segment exists, false if the variant ends or `timeoutMs` passes first. */
  async waitForSegment(timeoutMs: number): Promise<boolean> {
    if (this.latest) return true;
    if (this.stopped) return false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arrived = new Promise<void>((resolve) => this.waiters.push(resolve));
    const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([arrived, timedOut]);
    clearTimeout(timer);
    return this.latest !== null;
  }

  stop(reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    void this.reader.cancel().catch(() => {});
    for (const token of this.tokens.splice(0)) void token.cancel().catch(() => {});
    this.viewers.clear();
    this.wakeWaiters();
    this.log.info('hls variant stopped', { variant: this.key, reason, segments: this.latest ? this.latest.index + 1 : 0 });
    this.onStopped(this, reason);
  }

  private segmentReady(segment: TsSegment): void {
    this.window.add(segment, this.now());
    this.latest = segment;
    if (segment.discontinuity) {
      this.discontinuities++;
      this.timeline.onDiscontinuity(this.timeline.discontinuityBase + this.discontinuities);
      this.log.info('hls discontinuity', { variant: this.key, segment: segment.index });
    }
    const { misalignedCuts, ungriddedCuts } = this.segmenter;
    if (misalignedCuts + ungriddedCuts > this.offGrid) {
      // A grid keyframe this output lacks, or keyframes that are not the source's: its
      // numbers may now differ from the other renditions' (README "Ladders").
      this.offGrid = misalignedCuts + ungriddedCuts;
      this.log.warn('hls segment off the source grid', { variant: this.key, segment: segment.index, misalignedCuts, ungriddedCuts });
    }
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        const { done, value } = await this.reader.read();
        if (done) break;
        this.segmenter.push(value);
      }
      this.stop('variant ended');
    } catch (err) {
      if (!this.stopped) this.log.warn('hls segmenter input failed', { variant: this.key, error: String(err) });
      this.stop('input failed');
    }
  }
}
