// The one way a viewer's stream is opened (MPEG-TS clients, the HLS service), so any
// coordinator of a cluster answers every client URL:
//   - SQLite, or a source this coordinator owns: the local variant run, as before;
//   - a source another coordinator owns: this coordinator's mirror of that variant
//     (mirror-run.ts), shared by all its viewers;
//   - a free source: this coordinator takes it (or a peer with workers does), see
//     source-ownership.ts.
// Unknown sources and profiles are refused here first (404), wherever the source lives.
import { getProfile, getSource } from '../catalog/catalog-store';
import type { CoreContext } from '../context';
import { AppError } from '../errors';
import type { VariantRegistry } from '../streams/variant-registry';
import { MirrorRun } from './mirror-run';
import { SegmentReplicas } from './segment-replicas';
import type { Server, SourceOwnership } from './source-ownership';

/** Set on a request one coordinator passes to another: the receiver answers it itself. */
const PROXIED_HEADER = 'x-tvarr-proxied-by';

export class ClusterStreams {
  private readonly mirrors = new Map<string, MirrorRun>();
  private readonly starting = new Map<string, Promise<MirrorRun>>();
  private readonly servers = new Map<string, { server: Server; until: number }>();
  /** The owners' recent HLS segments, for when an owner can no longer answer (segment-replicas.ts). */
  readonly replicas = new SegmentReplicas((httpUrl, path) =>
    fetch(`${httpUrl}${path}`, { headers: { [PROXIED_HEADER]: this.ctx.coordinatorId ?? '1' }, signal: AbortSignal.timeout(this.ctx.config.cluster.leaseMs * 4) }),
  );

  constructor(
    private readonly ctx: CoreContext,
    private readonly variants: VariantRegistry,
    private readonly ownership: SourceOwnership | null,
    private readonly secret: () => Promise<string>,
  ) {}

  async openClientStream(sourceId: string, profileId: string): Promise<{ stream: ReadableStream<Uint8Array>; run: { key: string } }> {
    const own = this.ownership;
    if (!own) return this.variants.openClientStream(sourceId, profileId);
    const key = `${sourceId}/${profileId}`;
    const live = this.mirrors.get(key);
    if (live && !live.ended) return { stream: live.open(), run: live };
    // 404s, wherever the source is produced, before anything is asked of the cluster (an
    // unknown id must never take a lease). A source held here is known, and the local run
    // checks the profile itself.
    if (!own.fenceFor(sourceId)) {
      await getSource(this.ctx.store, sourceId);
      await getProfile(this.ctx.store, profileId);
    }
    if (!this.starting.has(key)) {
      // 'unavailable' (the owner's lease runs on but its coordinator is gone): the mirror
      // below waits for the lease to pass and takes the source.
      const server = await own.whoServes(sourceId).catch((err: unknown) => {
        if (err instanceof AppError && err.code === 'unavailable') return null;
        throw err;
      });
      if (server?.self && !this.mirrors.has(key)) return this.variants.openClientStream(sourceId, profileId);
    }
    const mirror = await this.mirrorFor(sourceId, profileId);
    return { stream: mirror.open(), run: mirror };
  }

  /** The internal stream a peer mirrors: only the owner serves it (taking a free source first). */
  async openForPeer(sourceId: string, profileId: string): Promise<ReadableStream<Uint8Array> | 'not_owner'> {
    const own = this.ownership;
    if (!own) return (await this.variants.openClientStream(sourceId, profileId)).stream;
    let server = await own.whoServes(sourceId);
    // Asked as the peer with workers: take the free source here rather than bounce.
    if (!server.self) server = await own.take(sourceId).catch(() => server);
    if (!server.self) return 'not_owner';
    return (await this.variants.openClientStream(sourceId, profileId)).stream;
  }

  /**
   * HLS and DASH (playlists, manifests, segments) of a source another coordinator owns are
   * answered by that owner, through this one: segment names and media sequence numbers are
   * the owner's whichever coordinator a viewer behind a round-robin load balancer reaches.
   * null when this coordinator serves it itself (it owns the source, or just took it).
   */
  async proxyToOwner(request: Request, sourceId: string): Promise<Response | null> {
    // Asked by a peer already (its view of the owner is this one): answer here, never bounce.
    if (!this.ownership || request.headers.get(PROXIED_HEADER) !== null) return null;
    // A segment fetch every second or two per viewer: who owns the source is looked up at
    // most once per quarter lease (a takeover is seen that much later at worst).
    const now = this.ctx.clock.now();
    let cached = this.servers.get(sourceId);
    if (!cached || cached.until < now) {
      let server: Server;
      try {
        server = await this.ownership.whoServes(sourceId);
      } catch (err) {
        // Nobody serves it right now (an owner's lease runs on after its death): a copy will do.
        const copy = this.replicas.get(new URL(request.url).pathname);
        if (copy) return copy;
        throw err;
      }
      cached = { server, until: now + this.ctx.config.cluster.leaseMs / 4 };
      this.servers.set(sourceId, cached);
      if (this.servers.size > 10_000) this.servers.clear();
    }
    const server = cached.server;
    const url = new URL(request.url);
    // Taken over here: the old owner's segment names are not this run's; a copy may have them.
    if (server.self) return this.replicas.get(url.pathname);
    const headers: Record<string, string> = { [PROXIED_HEADER]: this.ctx.coordinatorId ?? '1' };
    for (const h of ['user-agent', 'accept', 'range']) {
      const v = request.headers.get(h);
      if (v) headers[h] = v;
    }
    try {
      const res = await fetch(`${server.httpUrl}${url.pathname}${url.search}`, { headers, signal: AbortSignal.timeout(this.ctx.config.cluster.leaseMs * 4) });
      if (res.status >= 500) {
        const copy = this.replicas.get(url.pathname);
        if (copy) {
          await res.body?.cancel().catch(() => {});
          return copy;
        }
      }
      const out = new Headers();
      for (const h of ['content-type', 'cache-control', 'access-control-allow-origin', 'content-length', 'location']) {
        const v = res.headers.get(h);
        if (v) out.set(h, v);
      }
      // A media playlist: copy its newest segments here in the background (segment-replicas.ts).
      if (res.ok && /mpegurl/i.test(res.headers.get('content-type') ?? '')) {
        const text = await res.text();
        this.replicas.notePlaylist(server.httpUrl, url.pathname, text);
        out.delete('content-length');
        return new Response(text, { status: res.status, headers: out });
      }
      return new Response(res.body, { status: res.status, headers: out });
    } catch {
      // The owner is gone: a copy of the segment, if one was made; else a mirror or the
      // next request finds the new owner.
      this.servers.delete(sourceId);
      const copy = this.replicas.get(url.pathname);
      if (copy) return copy;
      return new Response(JSON.stringify({ error: { code: 'unavailable', message: `the coordinator serving source ${sourceId} did not answer; retry` } }), {
        status: 503,
        headers: { 'content-type': 'application/json', 'retry-after': '1' },
      });
    }
  }

  liveMirrors(): MirrorRun[] {
    return [...this.mirrors.values()];
  }

  get mirrorClients(): number {
    let n = 0;
    for (const m of this.mirrors.values()) n += m.buffer.readerCount;
    return n;
  }

  stopAll(reason: string): void {
    for (const m of [...this.mirrors.values()]) m.stop(reason);
  }

  private mirrorFor(sourceId: string, profileId: string): Promise<MirrorRun> {
    const key = `${sourceId}/${profileId}`;
    let starting = this.starting.get(key);
    if (!starting) {
      starting = (async () => {
        const mirror = new MirrorRun(
          {
            ctx: this.ctx,
            secret: this.secret,
            whoServes: (s) => this.ownership!.whoServes(s),
            openLocal: async (s, p) => (await this.variants.openClientStream(s, p)).stream,
          },
          sourceId,
          profileId,
          (m) => {
            if (this.mirrors.get(key) === m) this.mirrors.delete(key);
          },
        );
        this.mirrors.set(key, mirror);
        try {
          await mirror.start();
        } catch (err) {
          mirror.stop(err instanceof Error ? err.message : String(err));
          throw err;
        }
        return mirror;
      })().finally(() => this.starting.delete(key));
      this.starting.set(key, starting);
    }
    return starting;
  }
}
