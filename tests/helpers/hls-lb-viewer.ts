// A live HLS viewer behind a load balancer, as strict as a test needs and as forgiving as
// a player is: it reloads the media playlist every half target duration (after a failed
// reload, every 500 ms, as hls.js retries), fetches each new segment once, in order,
// starting three back from the live edge, and retries a failed segment fetch once at once
// (through the load balancer, so on the next coordinator); a segment that fails twice is
// recorded as failed and skipped. Every playlist (its numbers and every segment it listed)
// and every segment (its bytes and arrival time) is kept for the test to judge.
import { parseMediaPlaylist, segmentOpening, type MediaPlaylist } from './hls-client';

export interface ViewerPlaylist {
  at: number;
  status: number;
  playlist?: MediaPlaylist;
  error?: string;
}

export interface ViewerSegment {
  sequence: number;
  uri: string;
  discontinuity: boolean;
  at: number;
  bytes: Uint8Array;
  /** Statuses of the tries (one, or two after a retry). */
  tries: string[];
}

/** What is wrong with a segment answer; null for a 200 with MPEG-TS media that opens on PAT, PMT and a keyframe. */
export function segmentAnswerProblem(status: number, contentType: string | null, bytes: Uint8Array): string | null {
  if (status !== 200) return `status ${status}`;
  if (contentType !== 'video/mp2t') return `content-type ${contentType}`;
  if (bytes.length < 188 || bytes.length % 188 !== 0) return `${bytes.length} bytes`;
  const opening = segmentOpening(bytes);
  if (!opening.startsWithPat || !opening.pmtBeforeMedia || !opening.firstMediaIsKeyframe) return `opening ${JSON.stringify(opening)}`;
  return null;
}

export class LoadBalancedHlsViewer {
  readonly playlists: ViewerPlaylist[] = [];
  readonly segments: ViewerSegment[] = [];
  /** Segments listed in a playlist that failed twice: uri and what each try answered. */
  readonly failed: { sequence: number; uri: string; tries: string[] }[] = [];
  /** Every segment name listed, with its number; and a name or number listed with another. */
  readonly listed = new Map<string, number>();
  private readonly byNumber = new Map<number, string>();
  readonly listingConflicts: string[] = [];
  private next = -1;
  private stopped = false;
  private sleeping = false;
  private readonly loop: Promise<void>;
  private waiters: (() => void)[] = [];

  constructor(readonly url: string) {
    this.loop = this.run();
  }

  /** Resolves once `count` segments have arrived and the viewer is between reloads (nothing in flight). */
  async waitForSegmentsThenIdle(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.segments.length < count || !this.sleeping) {
      if (Date.now() > deadline) throw new Error(`HLS viewer ${this.url}: ${this.segments.length}/${count} segments in ${timeoutMs} ms; last playlists: ${JSON.stringify(this.playlists.slice(-3).map((p) => ({ status: p.status, error: p.error })))}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 250);
      });
    }
  }

  /** Resolves with the first segment that `match` accepts (already arrived, or to come). */
  async waitForSegment(match: (s: ViewerSegment) => boolean, timeoutMs: number): Promise<ViewerSegment> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.segments.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`HLS viewer ${this.url}: no such segment in ${timeoutMs} ms; failed: ${JSON.stringify(this.failed.slice(-3))}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 250);
      });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let waitMs = 500;
      try {
        const res = await fetch(this.url);
        const text = await res.text();
        if (!res.ok) {
          this.playlists.push({ at: Date.now(), status: res.status, error: text.slice(0, 200) });
        } else {
          const playlist = parseMediaPlaylist(text);
          this.playlists.push({ at: Date.now(), status: res.status, playlist });
          waitMs = Math.max(250, (playlist.targetDuration * 1000) / 2);
          this.noteListing(playlist);
          if (this.next < 0) this.next = playlist.segments.at(-3)?.sequence ?? playlist.mediaSequence;
          for (const segment of playlist.segments) {
            if (this.stopped || segment.sequence < this.next) continue;
            await this.fetchSegment(segment.sequence, new URL(segment.uri, res.url).toString(), segment.uri, segment.discontinuity);
            this.next = segment.sequence + 1;
          }
        }
      } catch (err) {
        this.playlists.push({ at: Date.now(), status: 0, error: String(err) });
      }
      if (this.stopped) break;
      this.sleeping = true;
      this.wake();
      await Bun.sleep(waitMs); // a player's reload interval: the pace is the point here
      this.sleeping = false;
    }
  }

  private noteListing(playlist: MediaPlaylist): void {
    for (const s of playlist.segments) {
      const number = this.listed.get(s.uri);
      if (number !== undefined && number !== s.sequence) this.listingConflicts.push(`${s.uri} listed as ${number} and as ${s.sequence}`);
      const name = this.byNumber.get(s.sequence);
      if (name !== undefined && name !== s.uri) this.listingConflicts.push(`number ${s.sequence} listed as ${name} and as ${s.uri}`);
      this.listed.set(s.uri, s.sequence);
      this.byNumber.set(s.sequence, s.uri);
    }
  }

  private async fetchSegment(sequence: number, url: string, uri: string, discontinuity: boolean): Promise<void> {
    const tries: string[] = [];
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const res = await fetch(url);
        const bytes = new Uint8Array(await res.arrayBuffer());
        const problem = segmentAnswerProblem(res.status, res.headers.get('content-type'), bytes);
        tries.push(problem ?? 'ok');
        if (!problem) {
          this.segments.push({ sequence, uri, discontinuity, at: Date.now(), bytes, tries });
          this.wake();
          return;
        }
      } catch (err) {
        tries.push(String(err));
      }
    }
    this.failed.push({ sequence, uri, tries });
  }
}
