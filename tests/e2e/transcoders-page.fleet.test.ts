// The Transcoders page with a fleet larger than one page, in real Chromium: 150 fake
// workers (tests/helpers/fake-fleet.ts) register; the page draws the first 100 cards in
// name order and offers the rest with "Show more"; the filter finds one worker among them.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser';
import { TestCluster } from '../helpers/cluster';
import { FleetProcess } from '../helpers/fleet-process';

const FLEET = 150;

describe('Transcoders page with 150 workers', () => {
  const cluster = new TestCluster();
  let fleet: FleetProcess;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    await cluster.startCoordinator();
    fleet = new FleetProcess(cluster.coordinator.grpcAddress, FLEET, 'page');
    await fleet.waitFor((e) => e.event === 'registered' && e.count === FLEET);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await fleet?.kill().catch(() => {});
    await cluster.stop();
  });

  const cards = () => page.$$eval('article.worker', (n) => n.map((e) => e.getAttribute('data-worker-id')));

  test('draws one page of 100 cards, "Show 50 more" draws the rest', async () => {
    await page.goto(`${cluster.coordinator.httpUrl}/transcoders`);
    await page.waitForSelector('article.worker[data-worker-id="page-00099"]');
    const first = await cards();
    expect(first).toHaveLength(100);
    expect(first[0]).toBe('page-00000');
    expect(await page.textContent('#shown')).toContain(`100 of ${FLEET} matching`);
    expect(await page.textContent('#more')).toBe('Show 50 more');
    await page.click('#more');
    await page.waitForSelector('article.worker[data-worker-id="page-00149"]');
    expect(await cards()).toHaveLength(FLEET);
    expect(await page.isHidden('#more')).toBe(true);
  });

  test('the filter finds one worker among them and paging starts again', async () => {
    await page.fill('#filter', 'page-00123');
    await page.waitForFunction(() => document.querySelectorAll('article.worker').length === 1);
    expect(await cards()).toEqual(['page-00123']);
    await page.fill('#filter', '');
    await page.waitForFunction(() => document.querySelectorAll('article.worker').length === 100);
    expect(await page.isVisible('#more')).toBe(true);
  });
});
