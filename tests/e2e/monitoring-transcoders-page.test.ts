// The Transcoders page in a real browser (Debian's chromium via playwright-core) against
// a real cluster: two worker processes, one of them named like an XSS payload, and a
// client streaming a variant. The page shows both workers and the job, Drain changes the
// worker's state, the job moves, and the hostile name stays text.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser';
import { TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { eventually } from '../helpers/processes';

const XSS_NAME = '<script>alert(1)</script>';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url).pathname;
const VARIANT = `pattern/${TINY_H264_PROFILE.id}`;

interface ClusterView {
  workers: { id: string; state: string; jobs: { id: string; variant: string; state: string; progress: { fps: number } | null }[] }[];
}

describe('Transcoders page in chromium', () => {
  const cluster = new TestCluster();
  let browser: Browser;
  let page: Page;
  let client: ReadableStreamDefaultReader<Uint8Array> | null = null;
  const dialogs: string[] = [];
  const foreignRequests: string[] = [];
  let base: string;

  beforeAll(async () => {
    await cluster.startCoordinator();
    base = cluster.coordinator.httpUrl;
    await Promise.all([cluster.startWorker('alpha'), cluster.startWorker('xss', { TVARR_WORKER_NAME: XSS_NAME })]);
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);

    // A client that keeps reading the live stream for the whole test.
    const res = await fetch(`${base}/stream/${VARIANT}`);
    expect(res.status).toBe(200);
    client = res.body!.getReader();
    const reader = client;
    void (async () => {
      try {
        while (!(await reader.read()).done);
      } catch {
        // cancelled at the end of the test
      }
    })();
    // The worker reports FFmpeg progress about once a second; no event reaches this process for it.
    await eventually('the job to report progress', async () => {
      const { body } = await cluster.coordinator.api<ClusterView>('/api/cluster');
      return body.workers.some((w) => w.jobs.some((j) => j.variant === VARIANT && j.state === 'running' && (j.progress?.fps ?? 0) > 0));
    }, 90_000);

    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('request', (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith('data:')) foreignRequests.push(r.url());
    });
  });

  afterAll(async () => {
    await client?.cancel().catch(() => {});
    await browser?.close();
    await cluster.stop();
  });

  const card = (id: string) => `article.worker[data-worker-id="${id}"]`;

  test('shows both workers, the running job with its stats, and the cluster totals', async () => {
    await page.goto(`${base}/transcoders`);
    await page.waitForSelector(card('test-alpha'));
    await page.waitForSelector(card('test-xss'));
    expect(await page.textContent(`${card('test-alpha')} .worker-name`)).toBe('alpha');
    for (const id of ['test-alpha', 'test-xss']) {
      expect(await page.getAttribute(card(id), 'data-state')).toBe('online');
      expect(await page.textContent(`${card(id)} .cpu-encoders`)).toContain('libx264');
      // FFmpeg lists h264_nvenc but it cannot run here: shown as rejected, with a reason.
      expect(await page.textContent(`${card(id)} details.rejected`)).toContain('h264_nvenc');
    }
    const job = await page.waitForSelector(`tr.job[data-variant="${VARIANT}"]`);
    expect(await job.$eval('.job-state', (n) => n.textContent)).toContain('running');
    await page.waitForFunction((v) => {
      const fps = document.querySelector(`tr.job[data-variant="${v}"] .job-fps`)?.textContent ?? '–';
      return fps !== '–' && Number(fps) > 0;
    }, VARIANT);
    expect(await page.textContent('[data-total="workersOnline"]')).toBe('2');
    expect(await page.textContent('[data-total="runningJobs"]')).toBe('1');
    // CPU usage from the workers' heartbeats reached the page.
    expect(await page.textContent(`${card('test-alpha')} .stats`)).toMatch(/CPU\d+\.\d %/);
  });

  test('a worker named <script>alert(1)</script> is shown as text and runs nothing', async () => {
    expect(await page.textContent(`${card('test-xss')} .worker-name`)).toBe(XSS_NAME);
    expect(await page.$$eval(`${card('test-xss')} script`, (n) => n.length)).toBe(0);
    expect(await page.$$eval('body script', (n) => n.length)).toBe(0);
    expect(dialogs).toEqual([]);
  });

  test('Drain moves the worker to draining (and its job elsewhere); Resume brings it back', async () => {
    const { body } = await cluster.coordinator.api<ClusterView>('/api/cluster');
    const busy = body.workers.find((w) => w.jobs.some((j) => j.variant === VARIANT))!;
    const other = body.workers.find((w) => w.id !== busy.id)!;

    // The first action asks for the admin token once; the page keeps it and retries.
    await page.click(`${card(busy.id)} button[data-action="drain"]`);
    await page.waitForSelector('#token-form:not([hidden])');
    expect((await cluster.coordinator.api<{ state: string }>(`/api/workers/${busy.id}`)).body.state).toBe('online');
    await page.fill('#token', cluster.coordinator.adminToken);
    await page.click('#token-form button[type="submit"]');
    await page.waitForSelector(`${card(busy.id)}[data-state="draining"]`);
    expect(await page.textContent(`${card(busy.id)} .worker-state`)).toBe('draining');
    await page.waitForSelector(`${card(busy.id)} button[data-action="resume"]`);
    // The handover puts the variant on the other worker without dropping the client.
    await page.waitForSelector(`${card(other.id)} tr.job[data-variant="${VARIANT}"]`, { timeout: 60_000 });

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}transcoders.png`, fullPage: true });

    await page.click(`${card(busy.id)} button[data-action="resume"]`);
    await page.waitForSelector(`${card(busy.id)}[data-state="online"]`);
    expect(await page.isHidden('#token-form')).toBe(true); // asked once, not again
    expect(await page.textContent('#action-error')).toBe('');
  });

  test('the API reference UI renders from assets the coordinator serves (no CDN)', async () => {
    await page.goto(`${base}/openapi`);
    await page.waitForSelector('.swagger-ui .info .title');
    expect(await page.textContent('.swagger-ui .info .title')).toContain('tvarr');
    await page.waitForSelector('.opblock-summary-path[data-path="/api/cluster"]');
    expect(foreignRequests).toEqual([]);
  });
});
