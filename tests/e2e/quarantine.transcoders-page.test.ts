// The Transcoders page in chromium shows a quarantined worker with its reason and lets the
// admin lift it, and lists a variant that failed on its own (an invalid profile) with the
// reason: the variant's fault, not a worker's.
import { Database } from 'bun:sqlite';
import { afterAll, expect, test } from 'bun:test';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser';
import { TestCluster, TINY_PATTERN_URL } from '../helpers/cluster';

const cluster = new TestCluster();
let browser: Browser | undefined;

afterAll(async () => {
  await browser?.close();
  await cluster.stop();
});

test('quarantine badge with reason, "Lift quarantine", and recently failed variants', async () => {
  const coordinator = await cluster.startCoordinator();
  await cluster.startWorker('w1');
  await cluster.createSource('pattern', TINY_PATTERN_URL);
  const sqlite = new Database(cluster.dbPath);
  // A profile row the API would refuse (copy with a GOP), and a quarantine as the watcher writes it.
  sqlite.run(
    `INSERT INTO profiles (id, name, video_codec, audio_codec, audio_bitrate_kbps, gop_frames, created_at) VALUES ('copy-old', 'copy-old', 'copy', 'copy', 0, 50, ?)`,
    [Date.now()],
  );
  const reason = '3 worker faults within 120 s: 3 lost connections (last: connection closed)';
  sqlite.run(`UPDATE workers SET quarantined_until = ?, quarantine_reason = ? WHERE id = 'test-w1'`, [Date.now() + 300_000, reason]);
  sqlite.close();
  const refused = await fetch(`${coordinator.httpUrl}/stream/pattern/copy-old`);
  expect(refused.status).toBe(422);
  await refused.body?.cancel();

  browser = await launchChromium();
  const page = await browser.newPage();
  await page.goto(`${coordinator.httpUrl}/`);
  const card = 'article.worker[data-worker-id="test-w1"]';
  await page.waitForSelector(`${card} .badge.quarantine`);
  expect(await page.textContent(`${card} .badge.quarantine`)).toMatch(/^quarantined /);
  expect(await page.textContent(`${card} .quarantine-reason`)).toContain(reason);
  // Without the token the page shows only the reason's first clause.
  await page.waitForSelector('#variant-failures .variant-failure[data-variant="pattern/copy-old"]');

  // Lift: the page asks for the admin token once, then calls POST /api/workers/{id}/unquarantine.
  await page.click(`${card} button[data-action="unquarantine"]`);
  await page.waitForSelector('#token-form:not([hidden])');
  await page.fill('#token', coordinator.adminToken);
  await page.click('#token-form button[type="submit"]');
  await page.waitForSelector(`${card} .badge.quarantine`, { state: 'detached' });
  const { body } = await coordinator.api<{ quarantinedUntil: number | null; quarantineReason: string | null }>('/api/workers/test-w1');
  expect([body.quarantinedUntil, body.quarantineReason]).toEqual([null, null]);
  expect(await page.textContent('#action-error')).toBe('');
  // With the token the failed variant shows the whole reason, naming the field.
  await page.waitForFunction(() => document.querySelector('#variant-failures .variant-failure')?.textContent?.includes('gopFrames'));
}, 180_000);
