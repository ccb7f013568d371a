// The Transcoders page's live preview in a real browser (Debian's chromium via
// playwright-core) against a real cluster: an anonymous visitor picks a running variant,
// hls.js (served by the coordinator, allowed by the page's CSP) plays it muted, the
// video's clock advances, the picture is the test pattern, and the preview counts as an
// HLS viewer while it is open.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser';
import { TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { eventually } from '../helpers/processes';

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url).pathname;
const VARIANT = `pattern/${TINY_H264_PROFILE.id}`;

interface VariantsView {
  live: { variant: string; viewers: { ts: number; hls: number } }[];
}

const cluster = new TestCluster();
let browser: Browser;
let page: Page;
let client: ReadableStreamDefaultReader<Uint8Array> | null = null;
const foreignRequests: string[] = [];
const cspErrors: string[] = [];
let base: string;

beforeAll(async () => {
  await cluster.startCoordinator();
  base = cluster.coordinator.httpUrl;
  await cluster.startWorker('alpha');
  await cluster.createSource('pattern', TINY_PATTERN_URL);
  await cluster.createProfile(TINY_H264_PROFILE);
  // An MPEG-TS client keeps the variant running, so the page lists it.
  const res = await fetch(`${base}/stream/${VARIANT}`);
  expect(res.status).toBe(200);
  client = res.body!.getReader();
  const reader = client;
  void (async () => {
    try {
      while (!(await reader.read()).done);
    } catch {
      // cancelled at the end
    }
  })();
  browser = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
  page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  page.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) foreignRequests.push(r.url());
  });
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
  });
});

afterAll(async () => {
  await client?.cancel().catch(() => {});
  await browser?.close();
  await cluster.stop();
});

test('the preview plays a running variant for an anonymous viewer: time advances, the test pattern shows, it counts as a viewer', async () => {
  await page.goto(`${base}/transcoders`);
  await page.waitForSelector(`#preview-variant option[value="${VARIANT}"]`, { state: 'attached', timeout: 30_000 });
  await page.selectOption('#preview-variant', VARIANT);
  await page.waitForFunction(() => (document.getElementById('preview-video') as HTMLVideoElement).currentTime > 0, undefined, { timeout: 60_000 });
  const t0 = await page.$eval('#preview-video', (v) => (v as HTMLVideoElement).currentTime);
  // 3 s of media must play (waiting on the media clock, not on wall time).
  await page.waitForFunction((start) => (document.getElementById('preview-video') as HTMLVideoElement).currentTime >= start + 3, t0, { timeout: 60_000 });
  const state = await page.$eval('#preview-video', (v) => {
    const video = v as HTMLVideoElement;
    return { muted: video.muted, width: video.clientWidth, error: video.error?.message ?? null, videoWidth: video.videoWidth, videoHeight: video.videoHeight };
  });
  expect(state).toEqual({ muted: true, width: 320, error: null, videoWidth: TINY_H264_PROFILE.width, videoHeight: TINY_H264_PROFILE.height });

  // fps and speed of the job appear beside the video.
  await page.waitForFunction(() => /^\d+(\.\d+)?$/.test(document.querySelector('[data-preview="fps"]')?.textContent ?? ''), undefined, { timeout: 30_000 });
  expect(await page.textContent('[data-preview="speed"]')).toMatch(/^\d+\.\d\d×$/);

  // The picture is the test pattern: many distinct, saturated colours (a black or frozen
  // grey frame would have a handful).
  mkdirSync(ARTIFACTS, { recursive: true });
  const png = await page.locator('#preview-video').screenshot({ path: `${ARTIFACTS}transcoders-preview.png` });
  expect(await colourfulness(png)).toBeGreaterThan(6);
  await page.screenshot({ path: `${ARTIFACTS}transcoders-with-preview.png` });

  // The preview is an HLS viewer of the variant while it is open.
  const { body } = await cluster.coordinator.api<VariantsView>('/api/variants');
  expect(body.live.find((v) => v.variant === VARIANT)?.viewers).toEqual({ ts: 1, hls: 1 });
  expect(await page.textContent('[data-preview="viewers"]')).toMatch(/1 TS · 1 HLS/);
  // The job's row on the page shows its viewers by format too (after the next poll).
  await page.waitForFunction(
    (variant) => Array.from(document.querySelectorAll('tr.job')).some((r) => (r as HTMLElement).dataset.variant === variant && /TS 1 · HLS 1/.test(r.textContent || '')),
    VARIANT,
    { timeout: 30_000 },
  );
  expect(foreignRequests).toEqual([]);
  expect(cspErrors).toEqual([]);

  // Closed, it stops fetching and leaves after a few segment durations.
  await page.click('#preview-close');
  await eventually('the preview to leave the variant', async () => {
    const { body: after } = await cluster.coordinator.api<VariantsView>('/api/variants');
    return after.live.find((v) => v.variant === VARIANT)?.viewers.hls === 0;
  }, 30_000);
});

test('hls.js in chromium plays the fMP4 (CMAF) playlist too: MSE accepts the init segment and fragments', async () => {
  await page.goto(`${base}/transcoders`);
  await page.waitForFunction(() => typeof (window as unknown as { Hls?: unknown }).Hls === 'function');
  const played = await page.evaluate(async (url) => {
    const Hls = (window as unknown as { Hls: any }).Hls;
    const video = document.createElement('video');
    video.muted = true;
    document.body.append(video);
    const hls = new Hls({ enableWorker: false });
    const errors: string[] = [];
    hls.on(Hls.Events.ERROR, (_e: unknown, d: { fatal: boolean; details: string }) => d.fatal && errors.push(d.details));
    hls.loadSource(url);
    hls.attachMedia(video);
    void video.play().catch(() => {});
    // Resolve on the media clock: 2 s of fMP4 played, or a fatal error.
    const start = await new Promise<number>((resolve) => video.addEventListener('playing', () => resolve(video.currentTime), { once: true }));
    await new Promise<void>((resolve) => {
      const check = () => (video.currentTime >= start + 2 || errors.length ? resolve() : requestAnimationFrame(check));
      check();
    });
    const result = { advanced: video.currentTime - start, errors, width: video.videoWidth };
    hls.destroy();
    video.remove();
    return result;
  }, `${base}/stream/${VARIANT}.m3u8?format=hls-fmp4&session=fmp4`);
  expect(played.errors).toEqual([]);
  expect(played.advanced).toBeGreaterThanOrEqual(2);
  expect(played.width).toBe(TINY_H264_PROFILE.width);
}, 120_000);

/** Number of hue buckets (of 12) holding at least 1% of the saturated pixels of a PNG. */
async function colourfulness(png: Uint8Array): Promise<number> {
  const proc = Bun.spawn(['ffmpeg', '-v', 'error', '-i', 'pipe:0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { stdin: 'pipe', stdout: 'pipe', stderr: 'ignore' });
  proc.stdin.write(png);
  await proc.stdin.end();
  const rgb = new Uint8Array(await new Response(proc.stdout).arrayBuffer());
  await proc.exited;
  const buckets = new Array<number>(12).fill(0);
  let saturated = 0;
  for (let i = 0; i + 2 < rgb.length; i += 3) {
    const r = rgb[i]!, g = rgb[i + 1]!, b = rgb[i + 2]!;
    const max = Math.max(r, g, b), min = Math.min(r, g, b);
    if (max < 40 || max - min < 60) continue;
    saturated++;
    let h = max === r ? (g - b) / (max - min) : max === g ? 2 + (b - r) / (max - min) : 4 + (r - g) / (max - min);
    h = ((h * 60) + 360) % 360;
    buckets[Math.floor(h / 30)]!++;
  }
  return buckets.filter((n) => n > saturated * 0.01).length;
}
