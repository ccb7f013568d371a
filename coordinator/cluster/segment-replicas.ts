// Copies of the owner's recent HLS segments on the other coordinators of a cluster, so a
// segment a player was about to fetch (or was fetching) when the owner died can still be
// served by a survivor. Without them, every segment of the dead owner's last run is gone
// with its process: a player behind a round-robin load balancer that retries a failed
// fetch on another coordinator, or reloads a playlist it got just before, would get 404.
//
// How: whenever this coordinator passes on a media playlist of a source another owns
// (cluster-streams.ts proxyToOwner), it fetches the last few segments the playlist lists
// (and its EXT-X-MAP) from the owner in the background and keeps them. They are used only
// when the owner cannot answer (it is gone, or this coordinator has taken the source over
// and no longer knows the old run's names): while the owner lives it answers every fetch
// itself, so its viewer accounting sees every request.
//
// Bounds: at most MAX_BYTES in all (oldest first out), a segment over MAX_SEGMENT_BYTES is
// not kept, at most PREFETCH_CONCURRENCY fetches at once and the newest PREFETCH_PER_PLAYLIST
// names of each playlist.

export const MAX_BYTES = 32 * 1024 * 1024;
export const MAX_SEGMENT_BYTES = 4 * 1024 * 1024;
const PREFETCH_CONCURRENCY = 4;
const PREFETCH_PER_PLAYLIST = 6;
/** Entries kept at most, whatever their size (a peer's playlist names thousands of tiny parts). */
const MAX_ENTRIES = 512;

interface Replica {
  body: Uint8Array<ArrayBuffer>;
  contentType: string;
}

/** Fetches a path from the owner at `httpUrl`, marked as passed on (the owner answers it itself). */
export type FetchFromOwner = (httpUrl: string, path: string) => Promise<Response>;

export class SegmentReplicas {
  // Insertion order = age: the oldest is evicted first.
  private readonly held = new Map<string, Replica>();
  private readonly fetching = new Set<string>();
  private readonly queue: { httpUrl: string; path: string }[] = [];
  private bytes = 0;

  constructor(
    private readonly fetchFromOwner: FetchFromOwner,
    private readonly maxBytes = MAX_BYTES,
  ) {}

  /** The held copy of a segment (by path, query ignored) as a response, or null. */
  get(path: string): Response | null {
    const r = this.held.get(path);
    if (!r) return null;
    return new Response(r.body, { status: 200, headers: { 'content-type': r.contentType, 'cache-control': 'no-store', 'x-tvarr-replica': '1' } });
  }

  has(path: string): boolean {
    return this.held.has(path);
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.held.size, bytes: this.bytes };
  }

  /** A media playlist of `playlistPath` came from the owner at `httpUrl`: copy its newest segments. */
  notePlaylist(httpUrl: string, playlistPath: string, text: string): void {
    const { maps, segments } = playlistUris(text);
    for (const uri of [...maps, ...segments.slice(-PREFETCH_PER_PLAYLIST)]) {
      const path = new URL(uri, `http://owner${playlistPath}`).pathname;
      if (this.held.has(path) || this.fetching.has(path) || this.queue.some((q) => q.path === path)) continue;
      if (this.queue.length >= PREFETCH_PER_PLAYLIST * 4) this.queue.shift();
      this.queue.push({ httpUrl, path });
    }
    this.pump();
  }

  private pump(): void {
    while (this.fetching.size < PREFETCH_CONCURRENCY && this.queue.length > 0) {
      const { httpUrl, path } = this.queue.shift()!;
      this.fetching.add(path);
      void this.copy(httpUrl, path).finally(() => {
        this.fetching.delete(path);
        this.pump();
      });
    }
  }

  private async copy(httpUrl: string, path: string): Promise<void> {
    try {
      const res = await this.fetchFromOwner(httpUrl, path);
      const length = Number(res.headers.get('content-length') ?? 0);
      if (!res.ok || length > MAX_SEGMENT_BYTES) {
        await res.body?.cancel().catch(() => {});
        return;
      }
      const body = new Uint8Array(await res.arrayBuffer());
      if (body.byteLength > MAX_SEGMENT_BYTES) return;
      this.put(path, { body, contentType: res.headers.get('content-type') ?? 'application/octet-stream' });
    } catch {
      // The owner did not answer: nothing to copy (its later playlists, if any, list it again).
    }
  }

  private put(path: string, r: Replica): void {
    const old = this.held.get(path);
    if (old) {
      this.bytes -= old.body.byteLength;
      this.held.delete(path);
    }
    this.held.set(path, r);
    this.bytes += r.body.byteLength;
    for (const [k, v] of this.held) {
      if (this.bytes <= this.maxBytes && this.held.size <= MAX_ENTRIES) break;
      this.held.delete(k);
      this.bytes -= v.body.byteLength;
    }
  }
}

/**
 * The URIs a media playlist names: its segments and EXT-X-MAP's URI (fMP4 init). A
 * multivariant playlist (no #EXTINF: its lines are playlists) names none.
 */
export function playlistUris(text: string): { maps: string[]; segments: string[] } {
  const maps: string[] = [];
  const segments: string[] = [];
  if (!text.includes('#EXTINF')) return { maps, segments };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#EXT-X-MAP:')) {
      const m = /URI="([^"]+)"/.exec(line);
      if (m) maps.push(m[1]!);
    } else if (!line.startsWith('#')) {
      segments.push(line);
    }
  }
  return { maps, segments };
}
