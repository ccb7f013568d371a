// A ladder split over two workers still aligns: its two renditions (256x144 and 192x108)
// run as separate jobs on separate workers, the second one started ~4 s after the first,
// and yet the same HLS sequence number covers the same frames in both (first video PTS
// equal, by ffprobe) for the same time (EXTINF). dash.js in real Chromium then plays the
// ladder's DASH manifest, one Representation per rendition; and a rendition whose worker
// is SIGKILLed resumes on a third one still aligned with the other rendition.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser';
import { FAST_LIVENESS, TestCluster, TINY_PATTERN_URL } from '../helpers/cluster';
import { playDash, servePlayerPage, type PlayerPage } from '../helpers/dash-player';
import { HlsPoller, type FetchedSegment } from '../helpers/hls-client';
import { ffprobePipe } from '../helpers/media';

const RENDITIONS = [
  { id: 'r144', name: 'R 144p', videoCodec: 'h264', width: 256, height: 144, videoBitrateKbps: 200, audioCodec: 'aac', audioBitrateKbps: 64, gopFrames: 50, preset: 'ultrafast' },
  { id: 'r108', name: 'R 108p', videoCodec: 'h264', width: 192, height: 108, videoBitrateKbps: 120, audioCodec: 'aac', audioBitrateKbps: 64, gopFrames: 50, preset: 'ultrafast' },
];
// One job each: the two renditions cannot share a worker.
const ONE_JOB = { TVARR_MAX_JOBS: '1', TVARR_MAX_CPU_JOBS: '1' };

interface VariantsView {
  live: { variant: string; job: { id: string; workerId: string } | null }[];
}

const cluster = new TestCluster({ env: FAST_LIVENESS });
let base: string;

beforeAll(async () => {
  await cluster.startCoordinator();
  base = cluster.coordinator.httpUrl;
  await Promise.all([cluster.startWorker('w1', ONE_JOB, { registerTimeoutMs: 120_000 }), cluster.startWorker('w2', ONE_JOB, { registerTimeoutMs: 120_000 })]);
  await cluster.createSource('pattern', TINY_PATTERN_URL);
  for (const p of RENDITIONS) await cluster.createProfile(p);
  const ladder = await cluster.coordinator.api('/api/ladders', { method: 'POST', body: JSON.stringify({ id: 'abr', name: 'ABR', renditions: RENDITIONS.map((p) => p.id) }) });
  expect(ladder.status).toBe(201);
}, 240_000);

afterAll(async () => {
  await cluster.stop();
});

/** PTS (90 kHz) of a segment's first video packet, read by ffprobe. */
async function firstVideoPts(bytes: Uint8Array): Promise<number> {
  const out = await ffprobePipe(['-select_streams', 'v:0', '-show_entries', 'packet=pts', '-read_intervals', '%+#1', '-of', 'csv=p=0'], bytes);
  return Number(out.trim().split('\n')[0]);
}

/** For each sequence number both pollers fetched: the first video PTS and EXTINF duration of each. */
async function compareCommon(a: HlsPoller, b: HlsPoller): Promise<{ sequence: number; pts: [number, number]; duration: [number, number] }[]> {
  const bySequence = new Map(a.segments.map((s) => [s.sequence, s] as const));
  const out = [];
  for (const s of b.segments) {
    const t = bySequence.get(s.sequence);
    if (!t) continue;
    const [x, y] = await Promise.all([firstVideoPts(t.bytes), firstVideoPts(s.bytes)]);
    out.push({ sequence: s.sequence, pts: [x, y] as [number, number], duration: [t.duration, s.duration] as [number, number] });
  }
  return out;
}

describe('a ladder over two workers', () => {
  test('renditions started ~4 s apart on different workers: the same sequence numbers cover the same frames for the same time', async () => {
    const top = new HlsPoller(`${base}/stream/pattern/r144.m3u8?session=top`);
    let low: HlsPoller | null = null;
    try {
      await top.waitForSegments(2, 90_000);
      // Two more segments of the top rendition (~4 s) before the other one starts.
      await top.waitForSegments(2, 60_000, top.segments.length);
      low = new HlsPoller(`${base}/stream/pattern/r108.m3u8?session=low`);
      await low.waitForSegments(3, 90_000);
      const lastLow = low.segments.at(-1)!.sequence;
      await eventuallyHas(top, lastLow);
    } finally {
      await Promise.all([top.stop(), low?.stop()]);
    }
    // Separate jobs on separate workers.
    const { body } = await cluster.coordinator.api<VariantsView>('/api/variants');
    const workers = RENDITIONS.map((p) => body.live.find((v) => v.variant === `pattern/${p.id}`)?.job?.workerId);
    expect(workers.every(Boolean)).toBe(true);
    expect(new Set(workers).size).toBe(2);

    const rows = await compareCommon(top, low!);
    // Every segment the later rendition published is one the first one has too.
    expect(rows.map((r) => r.sequence)).toEqual(low!.segments.map((s) => s.sequence));
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const r of rows) expect({ sequence: r.sequence, pts: r.pts[1], duration: r.duration[1] }).toEqual({ sequence: r.sequence, pts: r.pts[0], duration: r.duration[0] });
    // The later rendition's numbers are the source grid's, not a count from 0 of its own.
    expect(low!.segments[0]!.sequence).toBeGreaterThan(top.segments[0]!.sequence);
    // One discontinuity timeline for both (players line renditions up by it: hls.js looks
    // for the switch's fragment on the playing fragment's discontinuity sequence).
    expect(low!.playlists.at(-1)!.discontinuitySequence).toBe(top.playlists.at(-1)!.discontinuitySequence);
  }, 240_000);

  test('dash.js in chromium plays the ladder\'s MPD: a Representation per rendition, and switched to the other one it plays on', async () => {
    const redirect = await fetch(`${base}/stream/pattern/abr?format=dash&session=s1`, { redirect: 'manual' });
    expect([redirect.status, redirect.headers.get('location')]).toEqual([302, '/stream/pattern/abr.mpd?session=s1']);
    const pageServer: PlayerPage = servePlayerPage();
    let browser: Browser | undefined;
    try {
      browser = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
      const page: Page = await browser.newPage();
      await page.goto(pageServer.url);
      const targets = RENDITIONS.map((p) => ({ id: p.id, width: p.width }));
      const played = await playDash(page, `${base}/stream/pattern/abr.mpd?session=dash-ladder`, 3, 120_000, targets);
      expect(played.errors).toEqual([]);
      expect([...played.videoRepresentations].sort()).toEqual(RENDITIONS.map((p) => p.id).sort());
      // Switched at a segment boundary of aligned renditions: the other picture, playback going on.
      expect(played.switched).toMatchObject({ width: RENDITIONS.find((p) => p.id === played.switched?.id)!.width });
      expect(played.switched!.advancedAfter).toBeGreaterThanOrEqual(3);
      expect(played.advanced).toBeGreaterThanOrEqual(6);
      expect(played.longestStallS).toBeLessThan(2);
    } finally {
      await browser?.close();
      await pageServer.stop();
    }
  }, 180_000);
});

test('a rendition\'s worker SIGKILLed: it resumes on another worker and its segments still align with the other rendition\'s', async () => {
  await cluster.startWorker('w3', ONE_JOB, { registerTimeoutMs: 120_000 });
  const top = new HlsPoller(`${base}/stream/pattern/r144.m3u8?session=top-failover`);
  const low = new HlsPoller(`${base}/stream/pattern/r108.m3u8?session=low-failover`);
  try {
    await Promise.all([top.waitForSegments(2, 90_000), low.waitForSegments(2, 90_000)]);
    const { body } = await cluster.coordinator.api<VariantsView>('/api/variants');
    const serving = body.live.find((v) => v.variant === 'pattern/r144')!.job!.workerId.replace(/^test-/, '');
    const resumed = cluster.coordinator.proc.waitForMsg('variant resumed on a new worker', 60_000);
    const before = top.segments.length;
    cluster.workers.get(serving)!.kill('SIGKILL');
    await resumed;
    // Three segments of the top rendition made wholly by its new worker, and the other one's as far.
    await top.waitForSegments(4, 90_000, before);
    await eventuallyHas(low, top.segments.at(-1)!.sequence);
  } finally {
    await Promise.all([top.stop(), low.stop()]);
  }
  const rows = await compareCommon(top, low);
  expect(rows.length).toBeGreaterThanOrEqual(5);
  for (const r of rows) expect({ sequence: r.sequence, pts: r.pts[1], duration: r.duration[1] }).toEqual({ sequence: r.sequence, pts: r.pts[0], duration: r.duration[0] });
  // The top rendition's sequence only grew, one by one, through the failover.
  const numbers = top.segments.map((s) => s.sequence);
  expect(numbers).toEqual(numbers.map((_, i) => numbers[0]! + i));
  expect(top.errors).toEqual([]);
}, 240_000);

async function eventuallyHas(poller: HlsPoller, sequence: number): Promise<FetchedSegment> {
  for (let i = 0; i < 40; i++) {
    const found = poller.segments.find((s) => s.sequence === sequence);
    if (found) return found;
    await poller.waitForSegments(1, 30_000, poller.segments.length);
  }
  throw new Error(`segment ${sequence} never came`);
}
