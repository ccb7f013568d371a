// A variant served here from another coordinator's output: one internal stream per
// variant (the owner's /internal/stream/{source}/{profile}, authenticated by the cluster
// secret), written into this coordinator's own shared buffer, which all of its viewers
// read. So fan-out adds up across coordinators: the owner sends each variant once per
// coordinator, whatever the number of viewers.
//
// When the producer goes away (the owner died, stopped, or lost the source) the mirror
// asks again who serves the source (source-ownership.ts): another coordinator that took
// it over, or this one, which then takes the lease and produces the variant itself (a
// local run, read like any viewer). Each new producer joins the buffer at its first
// keyframe past what the viewers have, on their timeline (mirror-splice.ts, then
// SharedBuffer.beginSegment), so viewers here keep their connection across the takeover
// and see one splice, with decode times going on forward. With no viewer left for
// TVARR_IDLE_GRACE_MS the mirror ends.
import type { CoreContext } from '../context';
import { AppError } from '../errors';
import { SharedBuffer } from '../streams/shared-buffer';
import { CLUSTER_SECRET_HEADER } from './cluster-secret';
import { MirrorSplice } from './mirror-splice';
import type { Server } from './source-ownership';

export interface MirrorDeps {
  ctx: CoreContext;
  secret: () => Promise<string>;
  whoServes(sourceId: string): Promise<Server>;
  /** The variant produced here (this coordinator owns the source): a reader of the local run. */
  openLocal(sourceId: string, profileId: string): Promise<ReadableStream<Uint8Array>>;
}

/** How long a mirror waits for a producer's first bytes before it asks again. */
const FIRST_BYTES_MS = 10_000;
/** The first producer's bytes, at most this long after the first viewer asked. */
const FIRST_PRODUCER_MS = 20_000;
/** Between two tries when no producer answers. */
const RETRY_MS = 200;

export class MirrorRun {
  readonly buffer: SharedBuffer;
  /** Where each producer joins, and its timestamps onto the viewers' timeline. */
  readonly splice = new MirrorSplice();
  private stopped = false;
  private abort: AbortController | null = null;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private firstBytes: { resolve: () => void; reject: (e: unknown) => void } | null = null;
  /** Where the bytes come from now: a coordinator id, 'self', or null between producers. */
  producer: string | null = null;
  /** Producers after the first: each a takeover or a reconnect. */
  switches = 0;
  lastError: string | null = null;

  constructor(
    private readonly deps: MirrorDeps,
    readonly sourceId: string,
    readonly profileId: string,
    private readonly onEnd: (m: MirrorRun) => void,
  ) {
    const { config } = deps.ctx;
    this.buffer = new SharedBuffer({ maxBufferedBytes: config.bufferBytes, stalledReaderTimeoutMs: config.stalledClientTimeoutMs, now: () => deps.ctx.clock.now() });
    this.buffer.onReadersChanged((n) => this.readersChanged(n));
  }

  get key(): string {
    return `${this.sourceId}/${this.profileId}`;
  }

  get ended(): boolean {
    return this.stopped;
  }

  /** Connects the first producer; resolves at its first bytes, or fails with its error. */
  start(): Promise<void> {
    const first = new Promise<void>((resolve, reject) => (this.firstBytes = { resolve, reject }));
    // No producer in time (no owner answers and the lease cannot be taken): the viewer
    // gets 503 rather than waiting for ever.
    const deadline = setTimeout(() => {
      if (this.firstBytes) this.stop(`no producer within ${FIRST_PRODUCER_MS} ms (${this.lastError ?? 'none answered'})`);
    }, FIRST_PRODUCER_MS);
    void this.loop();
    return first.finally(() => clearTimeout(deadline));
  }

  open(): ReadableStream<Uint8Array> {
    return this.buffer.createReader();
  }

  stop(reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.abort?.abort();
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.firstBytes?.reject(new AppError('unavailable', `mirror of ${this.key} stopped: ${reason}`));
    this.firstBytes = null;
    this.buffer.end();
    this.deps.ctx.log.info('cluster: mirror ended', { variant: this.key, reason });
    this.onEnd(this);
  }

  private readersChanged(n: number): void {
    if (n > 0) {
      if (this.idleTimer) clearTimeout(this.idleTimer);
      this.idleTimer = null;
      return;
    }
    this.idleTimer ??= setTimeout(() => this.stop('no viewers'), this.deps.ctx.config.liveness.idleGraceMs);
  }

  private async loop(): Promise<void> {
    let first = true;
    while (!this.stopped) {
      try {
        const server = await this.deps.whoServes(this.sourceId);
        const stream = server.self ? await this.deps.openLocal(this.sourceId, this.profileId) : await this.openPeer(server.httpUrl);
        this.producer = server.self ? 'self' : server.coordinatorId;
        if (!first) this.switches += 1;
        this.deps.ctx.log.info('cluster: mirror producer', { variant: this.key, from: this.producer, switches: this.switches });
        // Every producer after the first joins at a keyframe (a splice).
        this.splice.beginProducer();
        if (!first) this.buffer.beginSegment();
        first = false;
        await this.pump(stream, !server.self);
        this.lastError = 'producer ended';
      } catch (err) {
        this.lastError = err instanceof Error ? err.message : String(err);
        // The first producer's refusal (unknown source, no capacity) is the viewer's answer.
        if (this.firstBytes && err instanceof AppError && err.code !== 'unavailable') {
          this.firstBytes.reject(err);
          this.firstBytes = null;
          this.stop(this.lastError);
          return;
        }
      }
      this.producer = null;
      if (!this.stopped) await Bun.sleep(RETRY_MS);
    }
  }

  private async openPeer(httpUrl: string): Promise<ReadableStream<Uint8Array>> {
    this.abort = new AbortController();
    const url = `${httpUrl}/internal/stream/${encodeURIComponent(this.sourceId)}/${encodeURIComponent(this.profileId)}`;
    // A paused or cut-off owner accepts the connection and answers nothing: give up on it
    // after a lease (by then it has lost the source anyway) and ask again.
    const abort = this.abort;
    const timer = setTimeout(() => abort.abort(), this.silenceMs);
    const res = await fetch(url, { headers: { [CLUSTER_SECRET_HEADER]: await this.deps.secret() }, signal: abort.signal }).finally(() => clearTimeout(timer));
    if (!res.ok || !res.body) {
      const text = (await res.text().catch(() => '')).slice(0, 300);
      let code = 'unavailable';
      try {
        code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? code;
      } catch {
        // not JSON
      }
      // The owner's own answer for the variant (404, 503 no capacity) passes through; the
      // rest (421 not the owner any more, 5xx) means: ask again who serves the source.
      if (res.status === 404 || code === 'no_capacity') throw new AppError(res.status === 404 ? 'not_found' : 'no_capacity', text || `owner answered ${res.status}`);
      throw new AppError('unavailable', `owner answered ${res.status}: ${text}`);
    }
    return res.body;
  }

  /** A producer silent this long is given up (a paused owner, a cut link): a lease. */
  private get silenceMs(): number {
    return this.deps.ctx.config.cluster.leaseMs;
  }

  private async pump(stream: ReadableStream<Uint8Array>, watchSilence: boolean): Promise<void> {
    const reader = stream.getReader();
    const timer = this.firstBytes ? setTimeout(() => void reader.cancel('no bytes in time').catch(() => {}), FIRST_BYTES_MS) : null;
    // Silence after the first bytes: the owner stopped sending without closing (SIGSTOP, a
    // partition). Media is continuous, so a lease without a byte means it is gone. (A
    // local run has its own failover and watchdog: it is not judged here.)
    let silence: ReturnType<typeof setTimeout> | null = null;
    const heard = () => {
      if (silence) clearTimeout(silence);
      silence = setTimeout(() => {
        this.lastError = `producer silent for ${this.silenceMs} ms`;
        this.abort?.abort();
        void reader.cancel('producer silent').catch(() => {});
      }, this.silenceMs);
    };
    try {
      for (;;) {
        if (this.stopped) {
          await reader.cancel().catch(() => {});
          return;
        }
        const { done, value } = await reader.read();
        if (done) return;
        if (watchSilence && !this.firstBytes) heard();
        const joined = this.splice.joined;
        for (const piece of this.splice.push(value)) this.buffer.write(piece);
        if (this.splice.joined !== joined && joined > 0) {
          this.deps.ctx.log.info('cluster: mirror spliced', { variant: this.key, from: this.producer, how: this.splice.lastSplice, droppedBytes: this.splice.droppedBytes });
        }
        if (this.firstBytes) {
          if (timer) clearTimeout(timer);
          this.firstBytes.resolve();
          this.firstBytes = null;
        }
      }
    } finally {
      if (timer) clearTimeout(timer);
      if (silence) clearTimeout(silence);
      reader.releaseLock();
    }
  }
}
