// One upstream connection per source, however many variants use it (IPTV providers
// limit connections). Each subscriber (a job's input) has its own bounded queue: the
// upstream is read as fast as the fastest subscriber takes bytes, and a subscriber
// whose queue is full loses chunks instead of stalling the others or growing memory.
//
// Sources as they really are (README "Sources that change"): the bytes are restamped onto
// one continuous timeline before anyone sees them (timeline breaks are hidden, not passed
// on), program changes are detected (PMT, SPS, audio format) and announced as events once
// the first keyframe of the new content has arrived, a lost connection is retried at once
// and then at most every retryMaxMs until outageLimitMs, and a failing URL hands over to
// the next of the source's backup URLs, with the primary taken back once it is healthy.
import type { Logger } from '../../common/log';
import { PacketAligner, ProgramWatch, TimelineRestamper, type TimelineEvent } from '../../common/mpegts';
import type { SourceTimings } from '../config';
import { AppError } from '../errors';
import { ThroughputMeter } from '../jobs/throughput-meter';
import { LatestGop } from './latest-gop';
import type { SegmentGrid } from './segment-grid';
import { SourceEventLog, type SourceEvent, type SourceEventKind } from './source-events';
import { openSourceInput, type SourceInput } from './source-input';
import { maskSecrets } from './source-policy';
import { probeSource } from './source-probe';
import { SourceUrls } from './source-urls';

export { LatestGop } from './latest-gop';

export interface UpstreamOptions {
  ffmpegPath: string;
  /** TVARR_SOURCE_SCHEMES (source-policy.ts): decides FFmpeg's -protocol_whitelist. */
  sourceSchemes?: readonly string[];
  /** First connection: how long to wait for MPEG-TS before the source counts as unreachable. */
  timeoutMs: number;
  queueBytes: number;
  idleGraceMs: number;
  log: Logger;
  /** TVARR_SOURCE_* (config.ts); the defaults below when left out (tests). */
  timings?: Partial<SourceTimings>;
  onEvent?: (event: SourceEvent) => void;
  /** Where the source's renditions cut their segments: every source keyframe is registered (segment-grid.ts). */
  segmentGrid?: SegmentGrid;
  /** The upstream is gone for good: no subscriber left, or the outage outlasted its limit (`reason`). */
  onStopped: (reason: string) => void;
}

export const DEFAULT_SOURCE_TIMINGS: SourceTimings = {
  outageLimitMs: 30_000,
  retryMaxMs: 500,
  noDataMs: 3_000,
  noVideoMs: 10_000,
  probeIntervalMs: 5_000,
  primaryHoldMs: 30_000,
};

// A change seen with no keyframe following it is announced anyway after this long, so a
// source without keyframe flags still restarts its variants (from the live position).
const RESTART_WITHOUT_KEYFRAME_MS = 2_000;
// A probe of the primary lasts at most this long.
const PROBE_TIMEOUT_MS = 2_000;
// Timeline breaks and continuity errors are logged at most this often per source (a looping
// source breaks every loop); every one is counted.
const EVENT_LOG_INTERVAL_MS = 10_000;

export class UpstreamSubscription {
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private waiter: ((chunk: Uint8Array | null) => void) | null = null;
  private ended = false;
  droppedBytes = 0;

  constructor(
    private readonly capacity: number,
    private readonly onClose: (sub: UpstreamSubscription) => void,
    private readonly onSpace: () => void,
  ) {}

  get full(): boolean {
    return this.queuedBytes >= this.capacity;
  }

  push(chunk: Uint8Array): void {
    if (this.ended) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(chunk);
      return;
    }
    if (this.full) {
      this.droppedBytes += chunk.byteLength;
      return;
    }
    this.queue.push(chunk);
    this.queuedBytes += chunk.byteLength;
  }

  finish(): void {
    this.ended = true;
    if (this.waiter && this.queue.length === 0) {
      const w = this.waiter;
      this.waiter = null;
      w(null);
    }
  }

  /** Next chunk of source bytes, or null when the source has ended for good. */
  next(): Promise<Uint8Array | null> {
    const chunk = this.queue.shift();
    if (chunk) {
      const wasFull = this.full;
      this.queuedBytes -= chunk.byteLength;
      if (wasFull && !this.full) this.onSpace();
      return Promise.resolve(chunk);
    }
    if (this.ended) return Promise.resolve(null);
    this.onSpace();
    return new Promise((resolve) => (this.waiter = resolve));
  }

  close(): void {
    this.finish();
    this.queue.length = 0;
    this.onClose(this);
  }
}

export class SourceUpstream {
  private readonly subs = new Set<UpstreamSubscription>();
  private input: SourceInput | null = null;
  private running: Promise<void> | null = null;
  private firstBytes: Promise<void> | null = null;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private probeTimer: ReturnType<typeof setTimeout> | null = null;
  private spaceWaiter: (() => void) | null = null;
  private stopped = false;
  // Every source keyframe, restamped, before any job is fed it: the renditions' segment grid.
  private readonly gop = new LatestGop((pts) => this.opts.segmentGrid?.keyframe(pts));
  private readonly restamper = new TimelineRestamper();
  private readonly watch = new ProgramWatch();
  private readonly timings: SourceTimings;
  readonly urls: SourceUrls;
  readonly events = new SourceEventLog();
  /** A change of content waiting for its first keyframe before the variants restart. */
  private pendingRestart: { kind: SourceEventKind; detail: string; since: number } | null = null;
  private lastKeyframeAt = 0;
  private lastUnsupported: string | null = null;
  /** Set when the live connection is closed on purpose (back to the primary): not a failure. */
  private closingOnPurpose = false;
  private lastEventLog = new Map<SourceEventKind, number>();
  /** When the current outage began (null while connected). */
  downSince: number | null = null;
  lastDataAt = 0;
  stopReason: string | null = null;
  bytesIn = 0;
  private readonly meter = new ThroughputMeter();

  constructor(
    readonly sourceId: string,
    urls: string | readonly string[],
    private readonly opts: UpstreamOptions,
  ) {
    this.urls = new SourceUrls(typeof urls === 'string' ? [urls] : urls);
    this.timings = { ...DEFAULT_SOURCE_TIMINGS, ...opts.timings };
  }

  get subscriberCount(): number {
    return this.subs.size;
  }

  /** The source's delivered bitrate over the last ~5 s (0 until measured): sizes job lanes and placement. */
  get bitrateKbps(): number {
    return this.meter.rates(this.bytesIn, 0).inKbps;
  }

  /** Timeline restamping so far: breaks hidden, 2^33 wraps passed, the current offset (90 kHz). */
  get timeline(): { breaks: number; wraps: number; continuityErrors: number; offsetTicks: number } {
    return { breaks: this.restamper.breaks, wraps: this.restamper.wraps, continuityErrors: this.restamper.ccErrors, offsetTicks: this.restamper.offsetTicks };
  }

  /** Why the program cannot be followed (a PMT over several packets, ...), or null. */
  get unsupported(): string | null {
    return this.watch.unsupported;
  }

  /** Connects if needed and resolves once bytes flow; a clear error if they do not. */
  ensureStarted(): Promise<void> {
    if (!this.running) {
      let resolveFirst!: () => void;
      let rejectFirst!: (err: Error) => void;
      this.firstBytes = new Promise<void>((res, rej) => ((resolveFirst = res), (rejectFirst = rej)));
      this.running = this.readLoop(resolveFirst, rejectFirst);
      this.firstBytes.catch(() => {});
    }
    return this.firstBytes!;
  }

  /**
   * With fromLatestKeyframe the subscriber first gets the source's current GOP; with
   * atOrBeforePts too, the GOP before it when the current one starts after that frame.
   */
  subscribe(opts: { fromLatestKeyframe?: boolean; atOrBeforePts?: number } = {}): UpstreamSubscription {
    // A subscriber always gets a running upstream; connection errors end its stream.
    void this.ensureStarted().catch(() => {});
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const sub = new UpstreamSubscription(
      this.opts.queueBytes,
      (s) => this.unsubscribe(s),
      () => this.wakeReader(),
    );
    if (opts.fromLatestKeyframe) for (const chunk of this.gop.snapshot(opts.atOrBeforePts)) sub.push(chunk);
    this.subs.add(sub);
    return sub;
  }

  /**
   * A caller that started the upstream will not subscribe after all (its dispatch
   * failed): with no subscriber it closes after the idle grace like an unsubscribed one,
   * instead of holding the provider's connection slot forever.
   */
  releaseIfUnused(): void {
    if (this.subs.size > 0 || this.stopped || this.idleTimer) return;
    this.idleTimer = setTimeout(() => this.stop('no subscribers'), this.opts.idleGraceMs);
  }

  stop(reason = 'stopped'): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stopReason = reason;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.input?.close();
    for (const s of this.subs) s.finish();
    this.subs.clear();
    this.wakeReader();
    this.opts.onStopped(reason);
  }

  private unsubscribe(sub: UpstreamSubscription): void {
    this.subs.delete(sub);
    this.wakeReader();
    if (this.subs.size === 0 && !this.stopped) {
      // Kept open a little so a failover or a quick re-request reuses the connection.
      this.idleTimer = setTimeout(() => this.stop('no subscribers'), this.opts.idleGraceMs);
    }
  }

  private wakeReader(): void {
    const w = this.spaceWaiter;
    this.spaceWaiter = null;
    w?.();
  }

  private emit(kind: SourceEventKind, detail: string, restart = false): void {
    const event: SourceEvent = { kind, detail: maskSecrets(detail, this.urls.activeUrl), at: Date.now(), restart };
    this.events.add(event);
    const quiet = kind === 'timeline-break' || kind === 'continuity-error';
    const last = this.lastEventLog.get(kind) ?? 0;
    if (!quiet || event.at - last >= EVENT_LOG_INTERVAL_MS) {
      this.lastEventLog.set(kind, event.at);
      const log = kind === 'outage' || kind === 'unsupported' ? this.opts.log.warn : this.opts.log.info;
      log.call(this.opts.log, 'source event', { sourceId: this.sourceId, kind, detail: event.detail, restart, count: this.events.counts.get(kind) });
    }
    this.opts.onEvent?.(event);
  }

  /**
   * New content from the next keyframe on (a program change, a new connection): the event
   * that restarts the variants is emitted once that keyframe has arrived, once per cause
   * kind (causes seen before it are joined into one restart).
   */
  private requestRestart(kind: SourceEventKind, detail: string): void {
    if (this.pendingRestart) this.pendingRestart.detail += `; ${detail}`;
    else this.pendingRestart = { kind, detail, since: Date.now() };
  }

  private timelineEvents(events: readonly TimelineEvent[]): void {
    for (const e of events) {
      if (e.kind === 'back' || e.kind === 'ahead') {
        const seconds = (e.jumpTicks / 90_000).toFixed(1);
        this.emit('timeline-break', `timestamps jumped ${e.kind} (${seconds} s) on PID ${e.pid}; restamped onto a continuous timeline`);
      } else if (e.kind === 'cc') {
        this.emit('continuity-error', `continuity counter ${e.got} where ${e.expected} was due on PID ${e.pid}`);
      }
    }
  }

  /** One span of whole packets from the live connection: restamp, watch, keep, fan out. */
  private take(span: Uint8Array): void {
    const breaks = this.restamper.restamp(span);
    if (breaks.length > 0) this.timelineEvents(breaks);
    const changes = this.watch.inspect(span);
    const keyAt = this.gop.add(span);
    const now = Date.now();
    if (keyAt >= 0) this.lastKeyframeAt = now;
    for (const c of changes) {
      // New parameter sets of the same codec (another size or profile) need no new attempt:
      // FFmpeg's decoder and scaler follow them, a copy passes them on, and HLS marks the
      // segment (a new init for fMP4). A new PMT or audio format does (decoders were chosen for it).
      if (c.kind === 'video') this.emit('program-changed', `${c.detail} (same codec: followed without a restart)`);
      else this.requestRestart('program-changed', c.detail);
    }
    const unsupported = this.watch.unsupported;
    if (unsupported !== this.lastUnsupported) {
      this.lastUnsupported = unsupported;
      if (unsupported) this.emit('unsupported', unsupported);
    }
    for (const s of this.subs) s.push(span);
    const pending = this.pendingRestart;
    if (!pending) return;
    // A change after this span's last keyframe: that keyframe is still old content.
    const keyed = keyAt >= 0 && !changes.some((c) => c.offset > keyAt);
    if (!keyed && now - pending.since <= RESTART_WITHOUT_KEYFRAME_MS) return;
    this.pendingRestart = null;
    // The current GOP is the new content's first: older ones must not feed a new attempt.
    if (keyed) this.gop.dropPrevious();
    else this.gop.reset();
    this.emit(pending.kind, pending.detail, true);
  }

  private async readLoop(resolveFirst: () => void, rejectFirst: (err: Error) => void): Promise<void> {
    let gotAny = false;
    // Consecutive failed connection attempts in the current outage (all URLs together).
    let failures = 0;
    let lastConnectedIndex = -1;
    while (!this.stopped) {
      const index = this.urls.active;
      const url = this.urls.activeUrl;
      let reason = 'ended';
      let delivered = false;
      let noDataTimer: ReturnType<typeof setTimeout> | null = null;
      try {
        // Reconnects and backups answer within the no-data bound: a live source that
        // takes longer has failed, and the next URL is tried.
        const timeoutMs = gotAny ? Math.min(this.opts.timeoutMs, this.timings.noDataMs) : this.opts.timeoutMs;
        this.input = await openSourceInput(url, { ffmpegPath: this.opts.ffmpegPath, timeoutMs, sourceSchemes: this.opts.sourceSchemes });
        const aligner = new PacketAligner(); // a reconnect starts a new byte stream
        this.gop.reset();
        this.restamper.reconnected();
        this.watch.reset();
        const reader = this.input.readable.getReader();
        // Silence watch: one timer per connection, re-armed when it fires rather than on
        // every chunk (the relay path reads thousands of chunks a second).
        let heardAt = Date.now();
        let silenceMs = timeoutMs;
        let silenceReason = `no MPEG-TS within ${timeoutMs} ms`;
        const watchSilence = () => {
          const left = heardAt + silenceMs - Date.now();
          if (left > 0) {
            noDataTimer = setTimeout(watchSilence, left);
            return;
          }
          reason = silenceReason;
          this.input?.close();
        };
        noDataTimer = setTimeout(watchSilence, silenceMs);
        this.lastKeyframeAt = Date.now();
        for (;;) {
          const { done, value } = await reader.read();
          if (done || this.stopped) break;
          this.bytesIn += value.byteLength;
          this.meter.tick(this.bytesIn, 0);
          // Whole packets only: a subscriber that drops a chunk then drops whole packets,
          // and bytes that are not MPEG-TS never reach an FFmpeg.
          const spans = aligner.push(value);
          if (spans.length === 0) continue;
          const now = Date.now();
          this.lastDataAt = now;
          heardAt = now;
          if (!delivered) {
            // The source counts as up once it delivers MPEG-TS, not merely bytes.
            delivered = true;
            // From now on silence is measured with the no-data bound, not the first-data timeout.
            silenceMs = this.timings.noDataMs;
            silenceReason = `no data for ${this.timings.noDataMs} ms`;
            if (noDataTimer) clearTimeout(noDataTimer);
            noDataTimer = setTimeout(watchSilence, silenceMs);
            failures = 0;
            this.urls.ok(index, now);
            if (gotAny) this.connectedAgain(index, lastConnectedIndex);
            lastConnectedIndex = index;
            this.downSince = null;
            if (!gotAny) {
              gotAny = true;
              resolveFirst();
            }
            if (index !== 0) this.scheduleProbe();
          }
          for (const span of spans) this.take(span);
          if (this.urls.hasBackups && this.gop.hasVideo && now - this.lastKeyframeAt > this.timings.noVideoMs) {
            reason = `no video keyframe for ${this.timings.noVideoMs} ms`;
            break;
          }
          // Only when every subscriber is full does the upstream wait; any one with room
          // keeps it moving (the full ones drop).
          if (this.subs.size > 0 && [...this.subs].every((s) => s.full)) {
            await new Promise<void>((r) => (this.spaceWaiter = r));
          }
        }
        if (reason === 'ended' && !delivered) reason = this.input.describeFailure();
      } catch (err) {
        // Keep our own reason (the no-data timeout) over the abort error it caused.
        if (reason === 'ended') reason = err instanceof Error ? err.message : String(err);
      } finally {
        if (noDataTimer) clearTimeout(noDataTimer);
        this.input?.close();
      }
      if (this.stopped) break;
      if (this.closingOnPurpose) {
        // Closed on purpose to move back to the primary: connect it now, no outage.
        this.closingOnPurpose = false;
        continue;
      }
      const now = Date.now();
      reason = maskSecrets(reason, url); // FFmpeg and fetch errors may quote the URL
      this.urls.failed(index, reason, now);
      failures += 1;
      if (!gotAny && failures >= this.urls.urls.length) {
        // Never delivered, on any URL: the variant cannot start (503 to its client).
        this.opts.log.warn('source upstream interrupted', { sourceId: this.sourceId, reason, failures });
        rejectFirst(new AppError('unavailable', `source ${this.sourceId} is unreachable: ${reason}`));
        break;
      }
      if (gotAny && this.downSince === null) {
        // A connection that went silent failed when its data stopped, not when that was noticed.
        this.downSince = delivered && reason.startsWith('no data') ? this.lastDataAt : now;
        this.emit('outage', `${this.urls.label(index)} failed: ${reason}`);
      }
      if (this.subs.size === 0) break;
      if (this.downSince !== null && now - this.downSince > this.timings.outageLimitMs) {
        this.stop(`source unavailable for ${Math.round((now - this.downSince) / 1000)} s (TVARR_SOURCE_OUTAGE_LIMIT_MS): ${reason}`);
        break;
      }
      if (this.urls.advance()) {
        this.opts.log.warn('source url failed; trying the next', { sourceId: this.sourceId, failed: this.urls.label(index), next: this.urls.label(), reason });
      }
      // The first try of each URL is at once; after a full round, back off up to retryMaxMs.
      const round = Math.floor((failures - 1) / this.urls.urls.length);
      const delay = round === 0 ? 0 : Math.min(this.timings.retryMaxMs, 50 * 2 ** round);
      if (delay > 0) await Bun.sleep(delay);
    }
    if (!this.stopped) this.stop(this.stopReason ?? 'no subscribers');
  }

  /** A new connection delivers after an outage or a switch: the variants restart from its first keyframe. */
  private connectedAgain(index: number, previous: number): void {
    const outage = this.downSince === null ? 0 : Date.now() - this.downSince;
    if (index !== previous) {
      this.requestRestart('switched', `${this.urls.label(index)} is live (was ${this.urls.label(previous)}) after ${outage} ms`);
    } else {
      this.requestRestart('reconnected', `reconnected to the ${this.urls.label(index)} after ${outage} ms`);
    }
  }

  /** While a backup is live: probe the primary now and then, and take it back once healthy long enough. */
  private scheduleProbe(): void {
    if (this.probeTimer || this.stopped) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      void this.probePrimary();
    }, this.timings.probeIntervalMs);
  }

  private async probePrimary(): Promise<void> {
    if (this.stopped || this.urls.active === 0) return;
    const result = await probeSource(this.urls.urls[0]!, { ffmpegPath: this.opts.ffmpegPath, sourceSchemes: this.opts.sourceSchemes, timeoutMs: PROBE_TIMEOUT_MS });
    if (this.stopped || this.urls.active === 0) return;
    const reason = result.reason === null ? null : maskSecrets(result.reason, this.urls.urls[0]);
    if (this.urls.primaryProbed(result.ok, reason, Date.now(), this.timings.primaryHoldMs)) {
      this.opts.log.info('source primary healthy again; returning to it', { sourceId: this.sourceId, from: this.urls.label() });
      this.urls.returnToPrimary();
      this.closingOnPurpose = true;
      this.input?.close();
      return;
    }
    this.scheduleProbe();
  }
}
