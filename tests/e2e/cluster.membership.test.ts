// Several coordinators on one PostgreSQL database form one cluster (issue 23): each has a
// row in `coordinators` renewed under a lease; GET /api/cluster lists them all from any of
// them; a coordinator that starts leaves the workers and jobs of the live ones alone
// (before, every start wrote every worker offline, so the other coordinators' schedulers
// saw no worker); a SIGKILLed coordinator's lease passes and the survivors write its
// workers offline; a stopped one (SIGTERM) says so at once; /healthz says whether a
// coordinator may take viewers. Real processes, a real PostgreSQL server.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { launchChromium } from '../helpers/browser';
import { TestCluster, type CoordinatorHandle } from '../helpers/cluster';
import { eventually } from '../helpers/processes';
import { ScriptedPeer } from '../helpers/scripted-peer';
import { grpcClient } from '../helpers/security';

interface CoordinatorRow {
  id: string;
  httpUrl: string;
  grpcAddr: string;
  self: boolean;
  alive: boolean;
  renewedAt: number;
  stoppedAt: number | null;
  clients: number;
  sourcesOwned: number;
  workersAttached: number;
}

const LEASE_MS = 1000;

describe('cluster membership on PostgreSQL', () => {
  const cluster = new TestCluster({ engine: 'postgres', env: { TVARR_CLUSTER_LEASE_MS: String(LEASE_MS) } });
  let a: CoordinatorHandle;
  let b: CoordinatorHandle;
  const peers: ScriptedPeer[] = [];
  const clients: { close(): void }[] = [];

  const coordinators = async (via: CoordinatorHandle) => (await via.api<{ coordinators: CoordinatorRow[] }>('/api/cluster')).body.coordinators;
  const workerState = async (via: CoordinatorHandle, id: string) => (await via.api<{ state: string }>(`/api/workers/${id}`)).body.state;

  beforeAll(async () => {
    a = await cluster.startCoordinator({ TVARR_COORDINATOR_ID: 'coord-a', TVARR_PUBLIC_URL: 'http://coord-a.test:8080', TVARR_GRPC_PUBLIC_ADDR: 'coord-a.test:50051' });
    const client = grpcClient(a.grpcAddress);
    clients.push(client);
    const peer = new ScriptedPeer(client, 'held-by-a').register().keepAlive();
    peers.push(peer);
    await peer.registered;
    b = await cluster.startCoordinator({ TVARR_COORDINATOR_ID: 'coord-b' });
  });

  afterAll(async () => {
    for (const p of peers) p.close();
    for (const c of clients) c.close();
    await cluster.stop();
  });

  test('any coordinator lists every coordinator: alive, its addresses, the workers it holds', async () => {
    for (const via of [a, b]) {
      const rows = await coordinators(via);
      expect(rows.map((r) => r.id)).toEqual(['coord-a', 'coord-b']);
      const [ra, rb] = rows as [CoordinatorRow, CoordinatorRow];
      expect(ra.alive && rb.alive).toBe(true);
      expect(ra.self).toBe(via === a);
      expect(ra.httpUrl).toBe('http://coord-a.test:8080');
      expect(ra.grpcAddr).toBe('coord-a.test:50051');
      // Unset: the bind address with the real ports.
      expect(rb.httpUrl).toBe(b.httpUrl);
      expect(rb.grpcAddr).toBe(b.grpcAddress);
      expect(ra.workersAttached).toBe(1);
      expect(rb.workersAttached).toBe(0);
    }
    // Addresses are topology: redacted without the admin token.
    const anon = (await b.api<{ coordinators: CoordinatorRow[] }>('/api/cluster', { headers: { authorization: '' } })).body.coordinators;
    expect(anon[0]!.grpcAddr).not.toContain('coord-a');
  });

  test("a coordinator starting on the database leaves a live coordinator's workers online", async () => {
    // b started after a's worker registered: before the cluster work it wrote it offline.
    expect(await workerState(b, 'held-by-a')).toBe('online');
    const c = await cluster.startCoordinator({ TVARR_COORDINATOR_ID: 'coord-c' });
    expect(await workerState(c, 'held-by-a')).toBe('online');
    // SIGTERM: its row says stopped at once (no lease to wait for).
    c.proc.kill('SIGTERM');
    await c.proc.exited;
    const row = (await coordinators(a)).find((r) => r.id === 'coord-c')!;
    expect(row.alive).toBe(false);
    expect(row.stoppedAt).not.toBeNull();
  });

  test('/healthz: 200 with the coordinator id while its lease is renewed', async () => {
    const res = await fetch(`${b.httpUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { coordinatorId: string }).coordinatorId).toBe('coord-b');
  });

  test('the Transcoders page (real Chromium) shows the coordinators, this one marked', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${b.httpUrl}/transcoders`);
      const item = await page.waitForSelector('li.coordinator[data-coordinator="coord-a"]');
      expect(await item.textContent()).toContain('alive');
      expect(await item.textContent()).toContain('1 workers');
      expect(await page.textContent('li.coordinator[data-coordinator="coord-b"]')).toContain('(this one)');
    } finally {
      await browser.close();
    }
  });

  test("a SIGKILLed coordinator's lease passes: the others show it dead and write its workers offline", async () => {
    a.proc.proc.kill('SIGKILL');
    const killedAt = Date.now();
    await eventually('coord-a dead in the list', async () => (await coordinators(b)).find((r) => r.id === 'coord-a')?.alive === false, 10_000);
    await eventually("coord-a's worker offline", async () => (await workerState(b, 'held-by-a')) === 'offline', 10_000);
    // Within the lease plus a renewal tick or two (a loaded machine allows more).
    expect(Date.now() - killedAt).toBeLessThan(LEASE_MS * 5);
    const rb = (await coordinators(b)).find((r) => r.id === 'coord-b')!;
    expect(rb.alive).toBe(true);
  });
});
