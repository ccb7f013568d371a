// GET /api/workers filters (state, encoder, name) and pages (limit, offset) with the
// total in X-Total-Count, the same on both engines. Workers are real worker processes
// registered over gRPC.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { TEST_ENGINES, TestCluster } from '../helpers/cluster';

interface WorkerRow {
  id: string;
  name: string;
  state: string;
  encoders: { name: string }[];
}

describe.each(TEST_ENGINES)('/api/workers paging and filters (%s)', (engine) => {
  const cluster = new TestCluster({ engine });

  beforeAll(async () => {
    await cluster.startCoordinator();
    await Promise.all(['alpha', 'beta', 'gamma_1'].map((n) => cluster.startWorker(n)));
  }, 180_000);
  afterAll(() => cluster.stop());

  const get = async (q: string) => {
    const res = await fetch(`${cluster.coordinator.httpUrl}/api/workers${q}`, { headers: { authorization: `Bearer ${cluster.coordinator.adminToken}` } });
    return { status: res.status, total: res.headers.get('x-total-count'), body: (await res.json()) as WorkerRow[] };
  };

  test('pages in name order with the total of the filter', async () => {
    const all = await get('');
    expect(all.total).toBe('3');
    expect(all.body.map((w) => w.name)).toEqual(['alpha', 'beta', 'gamma_1']);
    const page = await get('?limit=2&offset=1');
    expect(page.total).toBe('3');
    expect(page.body.map((w) => w.name)).toEqual(['beta', 'gamma_1']);
    expect((await get('?limit=2&offset=5')).body).toEqual([]);
  });

  test('filters by state, encoder and name (case-insensitive; _ and % are plain characters)', async () => {
    expect((await get('?state=online')).total).toBe('3');
    expect((await get('?state=offline')).body).toEqual([]);
    const x264 = await get('?encoder=libx264');
    expect(x264.total).toBe('3');
    expect(x264.body.every((w) => w.encoders.some((e) => e.name === 'libx264'))).toBe(true);
    expect((await get('?encoder=h264_nvenc')).total).toBe('0');
    expect((await get('?name=ALPH')).body.map((w) => w.name)).toEqual(['alpha']);
    expect((await get('?name=a_1')).body.map((w) => w.name)).toEqual(['gamma_1']);
    expect((await get('?name=%25')).total).toBe('0');
  });

  test('bad paging values are refused with a 400/422 JSON error', async () => {
    for (const q of ['?limit=0', '?limit=5000', '?offset=-1', '?state=weird']) {
      const res = await fetch(`${cluster.coordinator.httpUrl}/api/workers${q}`);
      expect([400, 422]).toContain(res.status);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('invalid_request');
      expect(body.error.message.length).toBeGreaterThan(0);
    }
  });
});
