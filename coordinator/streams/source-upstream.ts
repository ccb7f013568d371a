// One upstream connection per source, however many variants use it (IPTV providers
// limit connections). Each subscriber (a job's input) has its own bounded queue: the
// upstream is read as fast as the fastest subscriber takes bytes, and a subscriber
// whose queue is full loses chunks instead of stalling the others or growing memory.
import type { Logger } from '../../common/log';
import { PacketAligner, PacketKind, ProgramTracker, TS_PACKET_SIZE } from '../../common/mpegts';
import { AppError } from '../errors';
import { ThroughputMeter } from '../jobs/throughput-meter';
import { pesPts, ptsAfter } from './splice-point';
import { openSourceInput, type SourceInput } from './source-input';
import { maskSecrets } from './source-policy';

export interface UpstreamOptions {
  ffmpegPath: string;
  /** TVARR_SOURCE_SCHEMES (source-policy.ts): decides FFmpeg's -protocol_whitelist. */
  sourceSchemes?: readonly string[];
  timeoutMs: number;
  queueBytes: number;
  idleGraceMs: number;
  log: Logger;
  onStopped: () => void;
}

const MAX_RECONNECTS = 5;
// The current GOP is kept for a job that starts now; a longer GOP is not worth holding.
const MAX_GOP_BYTES = 8 << 20;
// Older GOPs kept for a failover's splice (a partition is found within ~1.5 s).
const MAX_PREVIOUS_GOPS = 3;

/**
 * The source's latest PAT, PMT and the packets since its latest video keyframe, plus the
 * GOPs before it (as many as fit in a partition's detection time, MAX_PREVIOUS_GOPS). A
 * new job fed from here decodes from its first bytes instead of discarding input until
 * the source's next keyframe (up to a GOP of start-up time). A failover attempt starts
 * from the GOP that holds the first frame its clients have not had yet, which after a
 * partition's loss deadline may be an older one (streams/splice-point.ts).
 */
export class LatestGop {
  private readonly tracker = new ProgramTracker();
  private pat: Uint8Array | null = null;
  private pmt: Uint8Array | null = null;
  private chunks: Uint8Array[] = [];
  private bytes = 0;
  /** PTS of the current GOP's keyframe (-1 unknown), and the GOPs before it, oldest first. */
  private keyPts = -1;
  private previous: { chunks: Uint8Array[]; keyPts: number; bytes: number }[] = [];

  add(span: Uint8Array): void {
    let from = 0;
    for (let off = 0; off < span.byteLength; off += TS_PACKET_SIZE) {
      const kind = this.tracker.inspect(span, off);
      if (kind === PacketKind.Pat) this.pat = span.slice(off, off + TS_PACKET_SIZE);
      else if (kind === PacketKind.Pmt) this.pmt = span.slice(off, off + TS_PACKET_SIZE);
      else if (kind === PacketKind.Keyframe && this.pat && this.pmt) {
        // The GOP that ends here, up to this keyframe, becomes the latest previous one.
        if (this.chunks.length > 0) {
          if (from < off) this.chunks.push(span.subarray(from, off));
          this.previous.push({ chunks: this.chunks, keyPts: this.keyPts, bytes: this.bytes + off - from });
          let kept = this.previous.reduce((n, g) => n + g.bytes, 0);
          while (this.previous.length > MAX_PREVIOUS_GOPS || kept > MAX_GOP_BYTES) kept -= this.previous.shift()!.bytes;
        }
        this.chunks = [this.pat, this.pmt];
        this.bytes = 2 * TS_PACKET_SIZE;
        this.keyPts = pesPts(span, off);
        from = off;
      }
    }
    if (this.chunks.length === 0) return;
    const tail = from === 0 ? span : span.subarray(from);
    this.chunks.push(tail);
    this.bytes += tail.byteLength;
    if (this.bytes > MAX_GOP_BYTES) this.reset();
  }

  /**
   * The current GOP; with `atOrBeforePts`, starting instead at the latest kept GOP whose
   * keyframe is not after that frame (the current GOP if none is).
   */
  snapshot(atOrBeforePts?: number): Uint8Array[] {
    const out = [...this.chunks];
    if (atOrBeforePts === undefined || this.keyPts < 0 || !ptsAfter(this.keyPts, atOrBeforePts)) return out;
    const older: Uint8Array[][] = [];
    for (let i = this.previous.length - 1; i >= 0; i--) {
      const g = this.previous[i]!;
      if (g.keyPts < 0) break;
      older.unshift(g.chunks);
      // Each GOP starts with its own PAT and PMT, so the bytes stay decodable throughout.
      if (!ptsAfter(g.keyPts, atOrBeforePts)) break;
    }
    // From the GOP holding that frame, or else the oldest kept (the least missing).
    return [...older.flat(), ...out];
  }

  reset(): void {
    this.chunks = [];
    this.bytes = 0;
    this.keyPts = -1;
    this.previous = [];
  }
}

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
  private spaceWaiter: (() => void) | null = null;
  private stopped = false;
  private readonly gop = new LatestGop();
  bytesIn = 0;
  private readonly meter = new ThroughputMeter();

  constructor(
    readonly sourceId: string,
    private readonly url: string,
    private readonly opts: UpstreamOptions,
  ) {}

  get subscriberCount(): number {
    return this.subs.size;
  }

  /** The source's delivered bitrate over the last ~5 s (0 until measured): sizes job lanes and placement. */
  get bitrateKbps(): number {
    return this.meter.rates(this.bytesIn, 0).inKbps;
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
    this.idleTimer = setTimeout(() => this.stop(), this.opts.idleGraceMs);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.input?.close();
    for (const s of this.subs) s.finish();
    this.subs.clear();
    this.wakeReader();
    this.opts.onStopped();
  }

  private unsubscribe(sub: UpstreamSubscription): void {
    this.subs.delete(sub);
    this.wakeReader();
    if (this.subs.size === 0 && !this.stopped) {
      // Kept open a little so a failover or a quick re-request reuses the connection.
      this.idleTimer = setTimeout(() => this.stop(), this.opts.idleGraceMs);
    }
  }

  private wakeReader(): void {
    const w = this.spaceWaiter;
    this.spaceWaiter = null;
    w?.();
  }

  private async readLoop(resolveFirst: () => void, rejectFirst: (err: Error) => void): Promise<void> {
    let failures = 0;
    let gotAny = false;
    while (!this.stopped) {
      let reason = 'ended';
      try {
        this.input = await openSourceInput(this.url, { ffmpegPath: this.opts.ffmpegPath, timeoutMs: this.opts.timeoutMs, sourceSchemes: this.opts.sourceSchemes });
        const aligner = new PacketAligner(); // a reconnect starts a new byte stream
        this.gop.reset();
        const reader = this.input.readable.getReader();
        const firstTimer = gotAny
          ? null
          : setTimeout(() => {
              reason = `no MPEG-TS within ${this.opts.timeoutMs} ms`;
              this.input?.close();
            }, this.opts.timeoutMs);
        for (;;) {
          const { done, value } = await reader.read();
          if (done || this.stopped) break;
          this.bytesIn += value.byteLength;
          this.meter.tick(this.bytesIn, 0);
          // Whole packets only: a subscriber that drops a chunk then drops whole packets,
          // and bytes that are not MPEG-TS never reach an FFmpeg.
          const spans = aligner.push(value);
          if (spans.length === 0) continue;
          if (!gotAny) {
            // The source counts as up once it delivers MPEG-TS, not merely bytes.
            gotAny = true;
            if (firstTimer) clearTimeout(firstTimer);
            resolveFirst();
          }
          failures = 0;
          for (const span of spans) {
            this.gop.add(span);
            for (const s of this.subs) s.push(span);
          }
          // Only when every subscriber is full does the upstream wait; any one with room
          // keeps it moving (the full ones drop).
          if (this.subs.size > 0 && [...this.subs].every((s) => s.full)) {
            await new Promise<void>((r) => (this.spaceWaiter = r));
          }
        }
        if (firstTimer) clearTimeout(firstTimer);
        if (reason === 'ended' && !gotAny) reason = this.input.describeFailure();
      } catch (err) {
        // Keep our own reason (the first-data timeout) over the abort error it caused.
        if (reason === 'ended') reason = err instanceof Error ? err.message : String(err);
      } finally {
        this.input?.close();
      }
      if (this.stopped) break;
      failures += 1;
      reason = maskSecrets(reason, this.url); // FFmpeg and fetch errors may quote the URL
      this.opts.log.warn('source upstream interrupted', { sourceId: this.sourceId, reason, failures });
      if (!gotAny) {
        rejectFirst(new AppError('unavailable', `source ${this.sourceId} is unreachable: ${reason}`));
        break;
      }
      if (failures > MAX_RECONNECTS || this.subs.size === 0) break;
      await Bun.sleep(Math.min(5000, 250 * 2 ** failures)); // reconnect backoff
    }
    this.stop();
  }
}
