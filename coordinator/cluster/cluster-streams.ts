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
import type { VariantRegistry } from '../streams/variant-registry';
import { MirrorRun } from './mirror-run';
import type { SourceOwnership } from './source-ownership';

export class ClusterStreams {
  private readonly mirrors = new Map<string, MirrorRun>();
  private readonly starting = new Map<string, Promise<MirrorRun>>();

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
    await getSource(this.ctx.store, sourceId); // 404s, wherever the source is produced
    await getProfile(this.ctx.store, profileId);
    if (!this.starting.has(key)) {
      const server = await own.whoServes(sourceId);
      if (server.self && !this.mirrors.has(key)) return this.variants.openClientStream(sourceId, profileId);
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
