// Backup URLs and outages with real HTTP sources: the primary killed (connection closed,
// connects refused), the backup serves within 2 s and the client stays connected; the
// primary back, the upstream returns to it after TVARR_SOURCE_PRIMARY_HOLD_MS of healthy
// probes; both down, viewers stay connected up to TVARR_SOURCE_OUTAGE_LIMIT_MS and are
// then closed cleanly with the reason in /api/variants.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { FAST_LIVENESS, TestCluster, TINY_H264_PROFILE } from '../helpers/cluster';
import { startLoopingTsServer, type LoopingTsServer } from '../helpers/looping-ts-server';
import { decodeErrors, makeTempDir, makeTestClip } from '../helpers/media';
import { eventually } from '../helpers/processes';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text';
import { StreamRecorder, cutAtKeyframe } from '../helpers/stream-recorder';

interface SourceView {
  url: string;
  backupUrls: string[];
  status: { connected: boolean; liveUrl: number; switches: number; urls: { role: string; live: boolean; lastError: string | null }[] } | null;
}
interface VariantsView {
  live: { variant: string; source: { connected: boolean; liveUrl: number; outageSince: number | null } }[];
  recentlyEnded: { variant: string; reason: string }[];
}

const HOLD_MS = 2500;
const OUTAGE_LIMIT_MS = 4000;

describe('source backup URLs and outages', () => {
  const temp = makeTempDir('backup');
  let cluster: TestCluster;
  let primary: LoopingTsServer;
  let backup: LoopingTsServer;
  let client: StreamRecorder | undefined;

  beforeAll(async () => {
    await Promise.all([makeTestClip(`${temp.dir}/primary.ts`, 2), makeTestClip(`${temp.dir}/backup.ts`, 2, '256x144')]);
    primary = startLoopingTsServer(`${temp.dir}/primary.ts`);
    backup = startLoopingTsServer(`${temp.dir}/backup.ts`);
    cluster = new TestCluster({
      env: {
        ...FAST_LIVENESS,
        TVARR_SOURCE_NO_DATA_MS: '1000',
        TVARR_SOURCE_PROBE_INTERVAL_MS: '500',
        TVARR_SOURCE_PRIMARY_HOLD_MS: String(HOLD_MS),
        TVARR_SOURCE_OUTAGE_LIMIT_MS: String(OUTAGE_LIMIT_MS),
        TVARR_IDLE_GRACE_MS: '500',
      },
    });
    await cluster.startCoordinator();
    await cluster.startWorker('a');
    const res = await cluster.coordinator.api('/api/sources', { method: 'POST', body: JSON.stringify({ id: 'news', name: 'News', url: primary.url, backupUrls: [backup.url] }) });
    expect(res.status).toBe(201);
    await cluster.createProfile(TINY_H264_PROFILE);
  });
  afterAll(async () => {
    await client?.close();
    await cluster.stop();
    primary.stop();
    backup.stop();
    temp.cleanup();
  });

  const source = async () => (await cluster.coordinator.api<SourceView>('/api/sources/news')).body;

  test('a backup URL is checked by the source policy like the primary', async () => {
    const bad = await cluster.coordinator.api<{ error: { field: string } }>('/api/sources', {
      method: 'POST',
      body: JSON.stringify({ id: 'bad', name: 'bad', url: primary.url, backupUrls: ['file:///etc/passwd'] }),
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error.field).toBe('backupUrls');
  });

  test('primary killed: the backup serves within 2 s, the client stays connected', async () => {
    client = await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/news/h264-240p`);
    await client.waitForBytes(30_000);
    expect(backup.connections).toBe(0);
    const port = primary.port;
    const killedAt = Date.now();
    primary.stop();
    await eventually('a connection to the backup', () => backup.open > 0, 10_000);
    const switchedAfter = Date.now() - killedAt;
    expect(switchedAfter).toBeLessThan(2000);
    const mark = client.total;
    await client.waitForBytes(40_000, mark);
    const after = cutAtKeyframe(client.all(), mark);
    expect(await decodeErrors(after)).toBe('');
    const s = await source();
    expect(s.status?.liveUrl).toBe(1);
    expect(s.status?.urls[0]?.lastError).toBeTruthy();
    expect(s.status?.urls[1]?.live).toBe(true);
    console.log(`switch to backup after ${switchedAfter} ms`);

    // The primary comes back on its port: taken back after the hold time, not before.
    const backAt = Date.now();
    primary = startLoopingTsServer(`${temp.dir}/primary.ts`, 2, { port });
    await eventually('the return to the primary', async () => (await source()).status?.liveUrl === 0, 20_000);
    const returnedAfter = Date.now() - backAt;
    expect(returnedAfter).toBeGreaterThanOrEqual(HOLD_MS);
    await eventually('the backup connection closed', () => backup.open === 0, 5000);
    const mark2 = client.total;
    await client.waitForBytes(40_000, mark2);
    expect(await decodeErrors(cutAtKeyframe(client.all(), mark2))).toBe('');
    console.log(`return to primary ${returnedAfter} ms after it came back (hold ${HOLD_MS} ms)`);
    const metrics = parsePrometheusText(await (await fetch(`${cluster.coordinator.httpUrl}/metrics`)).text());
    expect(sampleValue(metrics, 'tvarr_source_switches_total')).toBeGreaterThanOrEqual(2);
  });

  test('both down: viewers stay connected until the outage limit, then a clean close with the reason', async () => {
    expect(client).toBeDefined();
    const downAt = Date.now();
    primary.stop();
    backup.stop();
    const end = await client!.finished;
    const connectedFor = Date.now() - downAt;
    expect(end).toBe('end');
    expect(connectedFor).toBeGreaterThanOrEqual(OUTAGE_LIMIT_MS);
    const { body } = await cluster.coordinator.api<VariantsView>('/api/variants');
    const ended = body.recentlyEnded.find((e) => e.variant === 'news/h264-240p');
    expect(ended?.reason).toMatch(/^source unavailable for \d+ s/);
    console.log(`clients closed ${connectedFor} ms into the outage (limit ${OUTAGE_LIMIT_MS} ms)`);
  });
});
