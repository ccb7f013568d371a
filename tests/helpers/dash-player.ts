// dash.js in Chromium, as a DASH viewer of the coordinator would run it: a page on its own
// origin (a web app elsewhere: the manifest and segments must carry CORS), serving the
// `dashjs` npm package (devDependency) from node_modules, never from a CDN. The page
// plays a manifest muted and reports, on the media clock, how far playback advanced and
// every error event dash.js raised.
import type { Page } from 'playwright-core';
import { servePlayerLibraryPage, type PlayerPage } from './player-page';

const DASH_JS = new URL('../../node_modules/dashjs/dist/modern/umd/dash.all.min.js', import.meta.url).pathname;

export type { PlayerPage } from './player-page';

/** Serves the test page and dash.js on 127.0.0.1 (port 0). */
export function servePlayerPage(): PlayerPage {
  return servePlayerLibraryPage('dash.js test page', 'dash.all.min.js', DASH_JS);
}

export interface DashPlayback {
  /** Media seconds played after the first `playing` event. */
  advanced: number;
  /** dash.js ERROR events and media element errors. */
  errors: string[];
  videoWidth: number;
  /** Representation ids in the video AdaptationSet, as dash.js read them. */
  videoRepresentations: string[];
  /** The longest time (s) the media clock stood still once playing. */
  longestStallS: number;
  /** With `switchTo`: the Representation asked for, the picture width once it rendered, and media seconds played after that. */
  switched: { id: string; width: number; advancedAfter: number } | null;
}

/** A Representation to switch to once playing: the first whose picture width differs from the one playing. */
export interface SwitchTarget {
  id: string;
  width: number;
}

/**
 * Plays `mpdUrl` on the page until `seconds` of media played (or an error, or `timeoutMs`).
 * With `switchTo`, after those seconds it turns ABR off, asks for another Representation
 * (as a viewer picking a quality does), waits until the picture has its width, and plays
 * `seconds` more.
 */
export async function playDash(page: Page, mpdUrl: string, seconds: number, timeoutMs = 60_000, switchTo: SwitchTarget[] = []): Promise<DashPlayback> {
  return page.evaluate(
    async ({ url, seconds, timeoutMs, switchTo }) => {
      const dashjs = (window as unknown as { dashjs: any }).dashjs;
      const video = document.getElementById('video') as HTMLVideoElement;
      const errors: string[] = [];
      const player = dashjs.MediaPlayer().create();
      player.updateSettings({ debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING } });
      player.on(dashjs.MediaPlayer.events.ERROR, (e: { error?: { code?: number; message?: string } }) => errors.push(`dash.js ${e.error?.code}: ${e.error?.message}`));
      video.addEventListener('error', () => errors.push(`video: ${video.error?.message ?? video.error?.code}`));
      player.initialize(video, url, true);
      const deadline = performance.now() + timeoutMs;
      const started = await new Promise<number | null>((resolve) => {
        video.addEventListener('playing', () => resolve(video.currentTime), { once: true });
        const check = () => (errors.length || performance.now() > deadline ? resolve(null) : setTimeout(check, 100));
        check();
      });
      let longestStallS = 0;
      let lastTime = video.currentTime;
      let lastMove = performance.now();
      /** Resolves once `until()` holds, an error came, or the deadline passed; tracks stalls meanwhile. */
      const playUntil = (until: () => boolean) =>
        new Promise<void>((resolve) => {
          const check = () => {
            const now = performance.now();
            if (video.currentTime !== lastTime) {
              lastTime = video.currentTime;
              lastMove = now;
            }
            longestStallS = Math.max(longestStallS, (now - lastMove) / 1000);
            if (until() || errors.length || now > deadline) resolve();
            else setTimeout(check, 50);
          };
          check();
        });
      let switched: { id: string; width: number; advancedAfter: number } | null = null;
      if (started !== null) {
        await playUntil(() => video.currentTime >= started + seconds);
        const target = switchTo.find((t) => t.width !== video.videoWidth);
        if (target && !errors.length) {
          player.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: false } } } });
          player.setRepresentationForTypeById('video', target.id);
          await playUntil(() => video.videoWidth === target.width);
          const at = video.currentTime;
          await playUntil(() => video.currentTime >= at + seconds);
          switched = { id: target.id, width: video.videoWidth, advancedAfter: video.currentTime - at };
        }
      }
      const videoRepresentations = (player.getRepresentationsByType?.('video') ?? []).map((r: { id: string }) => r.id);
      const result = { advanced: started === null ? 0 : video.currentTime - started, errors, videoWidth: video.videoWidth, videoRepresentations, longestStallS, switched };
      player.reset();
      return result;
    },
    { url: mpdUrl, seconds, timeoutMs, switchTo },
  );
}
