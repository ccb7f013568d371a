// A minimal HLS player for tests and the bench: parses live media playlists and polls
// them the way hls.js does (reload about once per target duration, fetch each new
// segment once, in order).
import { PacketKind, ProgramTracker, TS_PACKET_SIZE } from '../../common/mpegts';
import { PTS_HZ, readPesDecodeTime } from '../../coordinator/streams/hls/pes-timestamp';

export interface PlaylistSegment {
  sequence: number;
  duration: number;
  uri: string;
  discontinuity: boolean;
}

export interface MediaPlaylist {
  targetDuration: number;
  mediaSequence: number;
  discontinuitySequence: number;
  segments: PlaylistSegment[];
  ended: boolean;
}

export function parseMediaPlaylist(text: string): MediaPlaylist {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines[0] !== '#EXTM3U') throw new Error(`not a playlist: ${text.slice(0, 80)}`);
  const playlist: MediaPlaylist = { targetDuration: 0, mediaSequence: 0, discontinuitySequence: 0, segments: [], ended: false };
  let duration = -1;
  let discontinuity = false;
  for (const line of lines) {
    if (line.startsWith('#EXT-X-TARGETDURATION:')) playlist.targetDuration = Number(line.split(':')[1]);
    else if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) playlist.mediaSequence = Number(line.split(':')[1]);
    else if (line.startsWith('#EXT-X-DISCONTINUITY-SEQUENCE:')) playlist.discontinuitySequence = Number(line.split(':')[1]);
    else if (line === '#EXT-X-DISCONTINUITY') discontinuity = true;
    else if (line === '#EXT-X-ENDLIST') playlist.ended = true;
    else if (line.startsWith('#EXTINF:')) duration = Number(line.slice(8).split(',')[0]);
    else if (!line.startsWith('#')) {
      playlist.segments.push({ sequence: playlist.mediaSequence + playlist.segments.length, duration, uri: line, discontinuity });
      duration = -1;
      discontinuity = false;
    }
  }
  return playlist;
}

/** What a segment opens with: the first packets' kinds up to and including the first non-PSI packet. */
export function segmentOpening(bytes: Uint8Array): { startsWithPat: boolean; pmtBeforeMedia: boolean; firstMediaIsKeyframe: boolean } {
  const tracker = new ProgramTracker();
  const kinds: number[] = [];
  for (let o = 0; o + TS_PACKET_SIZE <= bytes.length; o += TS_PACKET_SIZE) {
    const kind = tracker.inspect(bytes, o);
    kinds.push(kind);
    if (kind !== PacketKind.Pat && kind !== PacketKind.Pmt) break;
  }
  return {
    startsWithPat: kinds[0] === PacketKind.Pat,
    pmtBeforeMedia: kinds.slice(0, -1).includes(PacketKind.Pmt),
    firstMediaIsKeyframe: kinds.at(-1) === PacketKind.Keyframe,
  };
}

/** Decode time (seconds) of a segment's first video frame, or null. */
export function firstVideoTime(bytes: Uint8Array): number | null {
  const tracker = new ProgramTracker();
  for (let o = 0; o + TS_PACKET_SIZE <= bytes.length; o += TS_PACKET_SIZE) {
    tracker.inspect(bytes, o);
    if (tracker.videoPid >= 0 && ((bytes[o + 1]! & 0x1f) << 8 | bytes[o + 2]!) === tracker.videoPid) {
      const t = readPesDecodeTime(bytes, o);
      if (t !== null) return t / PTS_HZ;
    }
  }
  return null;
}

/** tfdt base media decode times of each traf in a fragment, by track id. */
export function fragmentDecodeTimes(fragment: Uint8Array): Map<number, number> {
  const view = new DataView(fragment.buffer, fragment.byteOffset, fragment.byteLength);
  const out = new Map<number, number>();
  let track = 0;
  const walk = (start: number, end: number) => {
    for (let o = start; o + 8 <= end; ) {
      const size = view.getUint32(o);
      const type = String.fromCharCode(...fragment.subarray(o + 4, o + 8));
      if (type === 'moof' || type === 'traf') walk(o + 8, o + size);
      if (type === 'tfhd') track = view.getUint32(o + 12);
      if (type === 'tfdt') out.set(track, Number(view.getBigUint64(o + 12)));
      if (size < 8) return;
      o += size;
    }
  };
  walk(0, fragment.length);
  return out;
}

export interface FetchedSegment extends PlaylistSegment {
  bytes: Uint8Array;
}

/**
 * Polls a live playlist like a player: reload, fetch new segments, wait. Records every
 * playlist status and every segment; `stop()` ends the loop.
 */
export class HlsPoller {
  readonly segments: FetchedSegment[] = [];
  readonly playlistStatuses: number[] = [];
  readonly playlists: MediaPlaylist[] = [];
  readonly errors: string[] = [];
  private nextSequence = -1;
  private stopped = false;
  private readonly done: Promise<void>;
  private waiters: (() => void)[] = [];

  constructor(
    readonly url: string,
    private readonly init: RequestInit = {},
    private readonly keepSegmentBytes = true,
  ) {
    this.done = this.loop();
  }

  /** Resolves once `count` segments have been fetched after the first `from`. */
  async waitForSegments(count: number, timeoutMs: number, from = 0): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.segments.length < from + count) {
      if (Date.now() > deadline) throw new Error(`HLS poller: ${this.segments.length - from}/${count} segments in ${timeoutMs} ms; errors: ${this.errors.slice(-3).join('; ')}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 500);
      });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let wait = 1000;
      try {
        const res = await fetch(this.url, this.init);
        this.playlistStatuses.push(res.status);
        if (!res.ok) {
          this.errors.push(`playlist ${res.status}: ${await res.text()}`);
        } else {
          const playlist = parseMediaPlaylist(await res.text());
          this.playlists.push(playlist);
          wait = Math.max(250, (playlist.targetDuration * 1000) / 2);
          // A player starts near the live edge: three segments back.
          if (this.nextSequence < 0) this.nextSequence = playlist.segments.at(-3)?.sequence ?? playlist.mediaSequence;
          for (const segment of playlist.segments) {
            if (this.stopped || segment.sequence < this.nextSequence) continue;
            const s = await fetch(new URL(segment.uri, res.url), this.init);
            if (!s.ok) {
              this.errors.push(`segment ${segment.sequence} ${s.status}`);
              await s.body?.cancel();
              break;
            }
            const bytes = this.keepSegmentBytes ? new Uint8Array(await s.arrayBuffer()) : new Uint8Array(0);
            if (!this.keepSegmentBytes) await s.arrayBuffer();
            this.segments.push({ ...segment, bytes });
            this.nextSequence = segment.sequence + 1;
            for (const w of this.waiters.splice(0)) w();
          }
        }
      } catch (err) {
        this.errors.push(String(err));
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, wait));
    }
  }
}
