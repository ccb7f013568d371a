// hls.js in Chromium, as a viewer's web app would run it: a page on its own origin (the
// playlists and segments must carry CORS), serving the `hls.js` npm package from
// node_modules, never from a CDN. The page plays a multivariant playlist muted at one
// level, asks for another once playing (as a viewer picking a quality does: ABR off,
// `hls.currentLevel`), and reports on the media clock how long the switch took, how long
// the picture stood still, and what audio hls.js loaded and the media element decoded.
import type { Page } from 'playwright-core';
import { servePlayerLibraryPage, type PlayerPage } from './player-page';

const HLS_JS = new URL('../../node_modules/hls.js/dist/hls.min.js', import.meta.url).pathname;

export type { PlayerPage } from './player-page';

/** Serves the test page and hls.js on 127.0.0.1 (port 0). */
export function serveHlsPage(): PlayerPage {
  return servePlayerLibraryPage('hls.js test page', 'hls.min.js', HLS_JS);
}

export interface HlsSwitchPlan {
  /** Picture height of the level to play first, and of the one to switch to. */
  startHeight: number;
  switchToHeight: number;
  /** Media seconds to play before the switch, and again after it. */
  seconds: number;
  /** hls.js config (documented options). */
  config?: Record<string, unknown>;
  timeoutMs: number;
}

export interface HlsPlayback {
  /** hls.js levels, lowest bitrate first (as hls.js orders them). */
  levels: { width: number; height: number; bitrate: number; videoCodec: string; audioCodec: string; audioGroups: string[] }[];
  /** Audio renditions (EXT-X-MEDIA TYPE=AUDIO) hls.js read. */
  audioTracks: { name: string; groupId: string; default: boolean; autoselect: boolean }[];
  /** The SourceBuffers hls.js made: type -> mime type with codecs. */
  sourceBuffers: Record<string, string>;
  /** Fatal hls.js errors and media element errors. */
  errors: string[];
  /** Media seconds played from the first `playing` to the end. */
  advanced: number;
  levelBefore: number;
  levelTarget: number;
  /** ms from `hls.currentLevel = target` to LEVEL_SWITCHED for it; null when it never came. */
  switchMs: number | null;
  levelAfter: number;
  videoHeightAfter: number;
  /** Media seconds played after LEVEL_SWITCHED. */
  advancedAfter: number;
  /** The longest wall time (s) the media clock stood still from the switch request on. */
  longestStallAfterSwitchS: number;
  /** The target duration of the level switched to. */
  targetDuration: number;
  /** Fragments of the audio playlist (audio-stream-controller) buffered, before and after the switch. */
  audioFragments: { before: number; after: number };
  /** Seconds of audio buffered ahead of the playhead at the end; bytes of audio the element decoded. */
  audioBufferedS: number;
  audioDecodedBytes: number;
  /** hls.js events with ms since the start (for a failure's message). */
  log: string[];
}

/** Plays `url` at the level of `startHeight`, switches to `switchToHeight` once `seconds` played, plays `seconds` more. */
export async function playAndSwitch(page: Page, url: string, plan: HlsSwitchPlan): Promise<HlsPlayback> {
  return page.evaluate(
    async ({ url, plan }) => {
      const Hls = (window as unknown as { Hls: any }).Hls;
      const video = document.getElementById('video') as HTMLVideoElement;
      const t0 = performance.now();
      const log: string[] = [];
      const note = (s: string) => log.push(`${(performance.now() - t0).toFixed(0)} ${s}`);
      const errors: string[] = [];
      const hls = new Hls(plan.config ?? {});
      const deadline = performance.now() + plan.timeoutMs;
      hls.on(Hls.Events.ERROR, (_e: unknown, d: { fatal: boolean; details: string; type: string }) => {
        if (d.fatal) errors.push(`${d.type}:${d.details}`);
        note(`ERROR ${d.fatal ? 'fatal ' : ''}${d.details}`);
      });
      const sourceBuffers: Record<string, string> = {};
      const buffers: Record<string, SourceBuffer> = {};
      hls.on(Hls.Events.BUFFER_CREATED, (_e: unknown, d: { tracks: Record<string, { codec?: string; container?: string; buffer?: SourceBuffer }> }) => {
        for (const [type, t] of Object.entries(d.tracks)) {
          sourceBuffers[type] = `${t.container};codecs=${t.codec}`;
          if (t.buffer) buffers[type] = t.buffer;
        }
      });
      let switchAsked: number | null = null;
      const audioFragments = { before: 0, after: 0 };
      hls.on(Hls.Events.FRAG_BUFFERED, (_e: unknown, d: { frag: { type: string; level: number; sn: number } }) => {
        if (d.frag.type === 'audio') audioFragments[switchAsked === null ? 'before' : 'after']++;
        note(`FRAG_BUFFERED ${d.frag.type} L${d.frag.level} sn=${d.frag.sn} at ${video.currentTime.toFixed(2)}`);
      });
      const switched: { level: number; at: number }[] = [];
      hls.on(Hls.Events.LEVEL_SWITCHED, (_e: unknown, d: { level: number }) => {
        switched.push({ level: d.level, at: performance.now() });
        note(`LEVEL_SWITCHED ${d.level} at ${video.currentTime.toFixed(2)}`);
      });
      const heightIndex = (height: number) => hls.levels.findIndex((l: { height: number }) => l.height === height);
      // Manual from the start (no ABR): the level of startHeight.
      hls.on(Hls.Events.MANIFEST_PARSED, () => {
        hls.loadLevel = heightIndex(plan.startHeight);
      });
      for (const type of ['waiting', 'playing']) video.addEventListener(type, () => note(`video ${type} at ${video.currentTime.toFixed(2)}`));
      video.addEventListener('error', () => errors.push(`video: ${video.error?.message ?? video.error?.code}`));
      hls.loadSource(url);
      hls.attachMedia(video);
      void video.play().catch(() => {});
      const started = await new Promise<number | null>((resolve) => {
        video.addEventListener('playing', () => resolve(video.currentTime), { once: true });
        const check = () => (errors.length || performance.now() > deadline ? resolve(null) : setTimeout(check, 100));
        check();
      });
      let longestStallAfterSwitchS = 0;
      let lastTime = video.currentTime;
      let lastMove = performance.now();
      // Polled: the media clock standing still raises no event of its own (`waiting` is not sent for every stall).
      const playUntil = (until: () => boolean) =>
        new Promise<void>((resolve) => {
          const check = () => {
            const now = performance.now();
            if (video.currentTime !== lastTime) {
              lastTime = video.currentTime;
              lastMove = now;
            }
            if (switchAsked !== null) longestStallAfterSwitchS = Math.max(longestStallAfterSwitchS, (now - Math.max(lastMove, switchAsked)) / 1000);
            if (until() || errors.length || now > deadline) resolve();
            else setTimeout(check, 20);
          };
          check();
        });
      let levelBefore = -1;
      let switchMs: number | null = null;
      let advancedAfter = 0;
      const levelTarget = heightIndex(plan.switchToHeight);
      if (started !== null) {
        await playUntil(() => video.currentTime >= started + plan.seconds);
        levelBefore = hls.currentLevel;
        if (!errors.length && performance.now() < deadline) {
          note(`switch asked: ${levelBefore} -> ${levelTarget} at ${video.currentTime.toFixed(2)}`);
          switchAsked = performance.now();
          lastMove = switchAsked;
          hls.currentLevel = levelTarget;
          const done = () => switched.find((s) => s.level === levelTarget && s.at >= switchAsked!);
          await playUntil(() => !!done());
          const to = done();
          if (to) {
            switchMs = to.at - switchAsked;
            const at = video.currentTime;
            await playUntil(() => video.currentTime >= at + plan.seconds);
            advancedAfter = video.currentTime - at;
          }
        }
      }
      const ahead = (b: TimeRanges | undefined) => {
        if (!b) return 0;
        for (let i = 0; i < b.length; i++) if (b.start(i) <= video.currentTime + 0.1 && b.end(i) > video.currentTime) return b.end(i) - video.currentTime;
        return 0;
      };
      const result = {
        levels: hls.levels.map((l: any) => ({ width: l.width, height: l.height, bitrate: l.bitrate, videoCodec: l.videoCodec ?? '', audioCodec: l.audioCodec ?? '', audioGroups: l.audioGroups ?? [] })),
        audioTracks: hls.audioTracks.map((t: any) => ({ name: t.name, groupId: t.groupId, default: t.default, autoselect: t.autoselect })),
        sourceBuffers,
        errors,
        advanced: started === null ? 0 : video.currentTime - started,
        levelBefore,
        levelTarget,
        switchMs,
        levelAfter: hls.currentLevel,
        videoHeightAfter: video.videoHeight,
        advancedAfter,
        longestStallAfterSwitchS,
        targetDuration: hls.levels[levelTarget]?.details?.targetduration ?? 0,
        audioFragments,
        audioBufferedS: ahead((buffers.audio ?? buffers.audiovideo)?.buffered),
        audioDecodedBytes: (video as unknown as { webkitAudioDecodedByteCount?: number }).webkitAudioDecodedByteCount ?? 0,
        log,
      };
      hls.destroy();
      return result;
    },
    { url, plan },
  );
}

export interface HlsLivePlayback {
  errors: string[];
  /** Media seconds played from the first `playing` to the end. */
  advanced: number;
  /** The longest wall time (s) the media clock stood still after the first `playing`. */
  longestStallS: number;
  /** hls.js events with ms since the start (for a failure's message). */
  log: string[];
}

/**
 * Plays `url` at the level of `height` for `seconds` media seconds and reports the longest
 * stall. Sets `window.__hlsPlayingAt` (the media time of the first `playing`) so a test can
 * act (kill a worker) while it plays: `page.waitForFunction` on it runs beside this call.
 */
export async function playLive(page: Page, url: string, plan: { height: number; seconds: number; config?: Record<string, unknown>; timeoutMs: number }): Promise<HlsLivePlayback> {
  return page.evaluate(
    async ({ url, plan }) => {
      const Hls = (window as unknown as { Hls: any }).Hls;
      const w = window as unknown as { __hlsPlayingAt?: number };
      delete w.__hlsPlayingAt;
      const video = document.getElementById('video') as HTMLVideoElement;
      const t0 = performance.now();
      const log: string[] = [];
      const note = (s: string) => log.push(`${(performance.now() - t0).toFixed(0)} ${s}`);
      const errors: string[] = [];
      const hls = new Hls(plan.config ?? {});
      const deadline = performance.now() + plan.timeoutMs;
      hls.on(Hls.Events.ERROR, (_e: unknown, d: { fatal: boolean; details: string; type: string }) => {
        if (d.fatal) errors.push(`${d.type}:${d.details}`);
        note(`ERROR ${d.fatal ? 'fatal ' : ''}${d.details}`);
      });
      hls.on(Hls.Events.FRAG_BUFFERED, (_e: unknown, d: { frag: { type: string; level: number; sn: number } }) => note(`FRAG_BUFFERED ${d.frag.type} L${d.frag.level} sn=${d.frag.sn} at ${video.currentTime.toFixed(2)}`));
      hls.on(Hls.Events.MANIFEST_PARSED, () => {
        hls.loadLevel = hls.levels.findIndex((l: { height: number }) => l.height === plan.height);
      });
      for (const type of ['waiting', 'playing']) video.addEventListener(type, () => note(`video ${type} at ${video.currentTime.toFixed(2)}`));
      video.addEventListener('error', () => errors.push(`video: ${video.error?.message ?? video.error?.code}`));
      hls.loadSource(url);
      hls.attachMedia(video);
      void video.play().catch(() => {});
      const started = await new Promise<number | null>((resolve) => {
        video.addEventListener('playing', () => resolve(video.currentTime), { once: true });
        const check = () => (errors.length || performance.now() > deadline ? resolve(null) : setTimeout(check, 100));
        check();
      });
      let longestStallS = 0;
      if (started !== null) {
        w.__hlsPlayingAt = started;
        let lastTime = video.currentTime;
        let lastMove = performance.now();
        // Polled: the media clock standing still raises no event of its own.
        await new Promise<void>((resolve) => {
          const check = () => {
            const now = performance.now();
            if (video.currentTime !== lastTime) {
              lastTime = video.currentTime;
              lastMove = now;
            }
            longestStallS = Math.max(longestStallS, (now - lastMove) / 1000);
            if (video.currentTime >= started + plan.seconds || errors.length || now > deadline) resolve();
            else setTimeout(check, 20);
          };
          check();
        });
      }
      const result = { errors, advanced: started === null ? 0 : video.currentTime - started, longestStallS, log };
      hls.destroy();
      return result;
    },
    { url, plan },
  );
}
