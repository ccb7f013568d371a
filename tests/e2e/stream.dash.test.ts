// DASH of one variant against a real cluster: /stream/{source}/{profile}.mpd is a live
// manifest over the HLS window's CMAF fragments (video and audio each on its own), its
// SegmentTimeline times are the fragments' own, ?format=dash redirects to it, and dash.js
// in real Chromium (a page on another origin: CORS) plays it live without an error.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser';
import { TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { playDash, servePlayerPage, type PlayerPage } from '../helpers/dash-player';
import { fragmentDecodeTimes } from '../helpers/hls-client';
import { concat, ffprobeBytes } from '../helpers/media';

const VARIANT = `pattern/${TINY_H264_PROFILE.id}`;
const cluster = new TestCluster();
let base: string;
let browser: Browser;
let page: Page;
let pageServer: PlayerPage;

beforeAll(async () => {
  await cluster.startCoordinator();
  base = cluster.coordinator.httpUrl;
  await cluster.startWorker('alpha');
  await cluster.createSource('pattern', TINY_PATTERN_URL);
  await cluster.createProfile(TINY_H264_PROFILE);
  pageServer = servePlayerPage();
  browser = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
  page = await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
  await pageServer?.stop();
  await cluster.stop();
});

/** The attributes of the first element named `tag` (after `from`), as a map. */
function element(xml: string, tag: string, from = 0): Record<string, string> & { at: number } {
  const at = xml.indexOf(`<${tag} `, from);
  if (at < 0) throw new Error(`no <${tag}> in ${xml.slice(0, 400)}`);
  const end = xml.indexOf('>', at);
  const out: Record<string, string> & { at: number } = { at } as never;
  for (const m of xml.slice(at, end).matchAll(/([\w:]+)="([^"]*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

/** S elements of the SegmentTimeline after `from`, expanded to explicit t/d. */
function timelineAfter(xml: string, from: number): { t: number; d: number }[] {
  const body = xml.slice(xml.indexOf('<SegmentTimeline>', from), xml.indexOf('</SegmentTimeline>', from));
  const out: { t: number; d: number }[] = [];
  for (const m of body.matchAll(/<S([^/]*)\/>/g)) {
    const a = Object.fromEntries([...m[1]!.matchAll(/(\w+)="(\d+)"/g)].map((x) => [x[1]!, Number(x[2])]));
    let t = a.t ?? out.at(-1)!.t + out.at(-1)!.d;
    for (let r = 0; r <= (a.r ?? 0); r++, t += a.d!) out.push({ t, d: a.d! });
  }
  return out;
}

describe('DASH of a profile', () => {
  test('the .mpd: a dynamic isoff-live manifest, CORS and playlist caching, video and audio AdaptationSets whose timelines are the fragments\' own times', async () => {
    const res = await fetch(`${base}/stream/${VARIANT}.mpd`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/dash+xml');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('cache-control')).toBe('public, max-age=1');
    const xml = await res.text();
    const mpd = element(xml, 'MPD');
    expect(mpd).toMatchObject({
      type: 'dynamic',
      profiles: 'urn:mpeg:dash:profile:isoff-live:2011',
      minimumUpdatePeriod: 'PT2S',
      timeShiftBufferDepth: expect.stringMatching(/^PT\d+S$/),
      suggestedPresentationDelay: 'PT6S',
      maxSegmentDuration: 'PT2S',
    });
    expect(Date.parse(mpd.availabilityStartTime!)).toBeLessThanOrEqual(Date.parse(mpd.publishTime!));
    expect(Date.now() - Date.parse(mpd.publishTime!)).toBeLessThan(10_000);
    const period = element(xml, 'Period');
    expect(period.start).toMatch(/^PT[\d.]+S$/);
    const video = element(xml, 'AdaptationSet');
    expect(video).toMatchObject({ contentType: 'video', mimeType: 'video/mp4' });
    const rep = element(xml, 'Representation', video.at);
    expect(rep).toMatchObject({ codecs: expect.stringMatching(/^avc1\.[0-9a-f]{6}$/), width: String(TINY_H264_PROFILE.width), height: String(TINY_H264_PROFILE.height), frameRate: '25' });
    const audio = element(xml, 'AdaptationSet', rep.at);
    expect(audio).toMatchObject({ contentType: 'audio', mimeType: 'audio/mp4' });
    expect(element(xml, 'Representation', audio.at)).toMatchObject({ codecs: 'mp4a.40.2', audioSamplingRate: '48000' });
    expect(xml).toContain('<UTCTiming schemeIdUri="urn:mpeg:dash:utc:direct:2014"');

    // Each track's newest fragment starts where its timeline says (tfdt; no B-frames in the
    // tiny profile, so the video's earliest presentation time is its decode time).
    for (const [set, track, timescale] of [[video, 1, 90_000], [audio, 2, 48_000]] as const) {
      const tpl = element(xml, 'SegmentTemplate', set.at);
      expect(tpl.timescale).toBe(String(timescale));
      const entries = timelineAfter(xml, set.at);
      expect(entries.length).toBeGreaterThanOrEqual(1);
      const number = Number(tpl.startNumber) + entries.length - 1;
      const segUrl = new URL(tpl.media!.replace('$Number$', String(number)), res.url);
      const initUrl = new URL(tpl.initialization!, res.url);
      const [frag, init] = await Promise.all([fetch(segUrl), fetch(initUrl)]);
      expect([frag.status, init.status]).toEqual([200, 200]);
      expect(frag.headers.get('cache-control')).toBe('public, max-age=300, immutable');
      expect(frag.headers.get('access-control-allow-origin')).toBe('*');
      const fragment = new Uint8Array(await frag.arrayBuffer());
      expect(fragmentDecodeTimes(fragment).get(track)).toBe(entries.at(-1)!.t);
      // Init + fragment is one track only, the one the AdaptationSet names.
      const probe = await ffprobeBytes(concat([new Uint8Array(await init.arrayBuffer()), fragment]));
      expect(probe.streams.map((s) => s.codec_name)).toEqual([track === 1 ? 'h264' : 'aac']);
    }
  }, 90_000);

  test('?format=dash on the stream URL redirects to the .mpd (session kept); a .mpd asked as another format is 400', async () => {
    const res = await fetch(`${base}/stream/${VARIANT}?format=dash&session=abc`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`/stream/${VARIANT}.mpd?session=abc`);
    for (const url of [`${base}/stream/${VARIANT}.mpd?format=hls`, `${base}/stream/${VARIANT}.m3u8?format=dash`]) {
      const bad = await fetch(url);
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { field: string } }).error.field).toBe('query.format');
    }
    expect((await fetch(`${base}/stream/pattern/nope.mpd`)).status).toBe(404);
  });

  test('dash.js in chromium plays the manifest live: 4 s of media, no error event, the profile\'s picture size', async () => {
    await page.goto(pageServer.url);
    const played = await playDash(page, `${base}/stream/${VARIANT}.mpd?session=dashjs`, 4, 90_000);
    expect(played.errors).toEqual([]);
    expect(played.advanced).toBeGreaterThanOrEqual(4);
    expect(played.longestStallS).toBeLessThan(2);
    expect(played.videoWidth).toBe(TINY_H264_PROFILE.width);
  }, 120_000);
});
