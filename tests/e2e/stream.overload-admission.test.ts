// Admission control (coordinator/load): a coordinator whose event loop lags refuses NEW
// viewers with 503 `overloaded` and a Retry-After, and /healthz says so, while the viewer
// it already has keeps getting media; once the lag has passed it takes viewers again.
// The coordinator runs in this process (its event loop is the test's: the lag is a real
// busy-wait, 300 ms at a time with one loop turn between, as a starved process runs), the
// worker is a real process with real FFmpeg, the viewers are real HTTP clients.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createLogger, setLogLevel } from '../../common/log';
import { parseCoordinatorConfig } from '../../coordinator/config';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/start-coordinator';
import { TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { makeTempDir } from '../helpers/media';
import { type LoggedProcess, spawnBun } from '../helpers/processes';
import { freshDatabaseEnv } from '../integration/scheduler-fixtures';

const ADMIN = 'admin-token-0123456789';
const THRESHOLD_MS = 200;

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // the coordinator's event loop is blocked: this is the point
  }
}

/** A viewer that counts what it reads. */
class Viewer {
  bytes = 0;
  status = 0;
  private readonly abort = new AbortController();
  readonly opened: Promise<void>;
  constructor(url: string) {
    this.opened = (async () => {
      const res = await fetch(url, { signal: this.abort.signal });
      this.status = res.status;
      if (res.status !== 200) return;
      const reader = res.body!.getReader();
      void (async () => {
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return;
            this.bytes += value.byteLength;
          }
        } catch {
          // closed by the test
        }
      })();
    })();
  }
  async waitForBytes(n: number, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.bytes < n) {
      if (Date.now() > deadline) throw new Error(`viewer got ${this.bytes} of ${n} bytes`);
      await Bun.sleep(50); // bytes from another process: no event to wait on
    }
  }
  close(): void {
    this.abort.abort();
  }
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, Bun.sleep(ms).then(() => Promise.reject(new Error(`${what}: not within ${ms} ms`)))]);
}

describe('an overloaded coordinator refuses new viewers and keeps its own', () => {
  const temp = makeTempDir('overload');
  let c: RunningCoordinator;
  let worker: LoggedProcess;
  const viewers: Viewer[] = [];
  const url = () => `http://127.0.0.1:${c.httpPort}/stream/pattern/${TINY_H264_PROFILE.id}`;
  const health = async () => {
    const res = await fetch(`http://127.0.0.1:${c.httpPort}/healthz`);
    return { status: res.status, body: (await res.json()) as { ok: boolean; reason?: string; lagMs?: number } };
  };

  beforeAll(async () => {
    setLogLevel('silent');
    const config = parseCoordinatorConfig({
      ...(await freshDatabaseEnv('sqlite', temp.dir, 'overload')),
      TVARR_HTTP_HOST: '127.0.0.1',
      TVARR_HTTP_PORT: '0',
      TVARR_GRPC_HOST: '127.0.0.1',
      TVARR_GRPC_PORT: '0',
      TVARR_ADMIN_TOKEN: ADMIN,
      TVARR_OVERLOAD_LAG_MS: String(THRESHOLD_MS),
    });
    c = await startCoordinator(config, createLogger('coordinator'));
    const registered = c.ctx.events.waitFor('worker:registered');
    worker = spawnBun('worker-overload', 'worker/main.ts', {
      TVARR_COORDINATOR_URL: `127.0.0.1:${c.grpcPort}`,
      TVARR_WORKER_NAME: 'overload',
      TVARR_WORKER_ID: 'test-overload',
      TVARR_MAX_CPU_JOBS: '1',
      TVARR_MAX_JOBS: '1',
      TVARR_PROBE_TIMEOUT_MS: '30000',
    });
    await within(registered, 300_000, 'worker registered');
    const post = (path: string, body: unknown) =>
      fetch(`http://127.0.0.1:${c.httpPort}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('/api/sources', { id: 'pattern', name: 'Pattern', url: TINY_PATTERN_URL })).status).toBe(201);
    expect((await post('/api/profiles', TINY_H264_PROFILE)).status).toBe(201);
  }, 330_000);

  afterAll(async () => {
    for (const v of viewers) v.close();
    await worker?.stop();
    await c?.stop();
    temp.cleanup();
  });

  test('503 overloaded with Retry-After while the loop lags, /healthz 503; the existing viewer keeps flowing; viewers taken again after', async () => {
    const existing = new Viewer(url());
    viewers.push(existing);
    await existing.opened;
    expect(existing.status).toBe(200);
    await existing.waitForBytes(100_000);
    expect(c.admission.state).toBe('accepting');
    expect((await health()).status).toBe(200);

    // The loop lags: 300 ms busy, one turn of the loop (timers, sockets, these requests), again.
    let stop = false;
    const lagging = (async () => {
      const end = performance.now() + 20_000;
      while (!stop && performance.now() < end) {
        busyWait(300);
        await new Promise((r) => setTimeout(r, 0));
      }
    })();
    try {
      await within(c.ctx.events.waitFor('coordinator:load', (e) => e.state === 'overloaded'), 10_000, 'overloaded');
      const before = existing.bytes;
      const res = await fetch(url());
      expect(res.status).toBe(503);
      const retryAfter = Number(res.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(10);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('overloaded');
      expect(body.error.message).toContain('TVARR_OVERLOAD_LAG_MS');
      const h = await health();
      expect(h.status).toBe(503);
      expect(h.body).toMatchObject({ ok: false, reason: 'overloaded' });
      expect(h.body.lagMs!).toBeGreaterThanOrEqual(THRESHOLD_MS / 2);
      // The viewer it has keeps getting media through the lag (~50 kB/s at 400 kbit/s).
      await existing.waitForBytes(before + 40_000, 15_000);
      expect(c.admission.refused).toBeGreaterThanOrEqual(1);
    } finally {
      stop = true;
      await lagging;
    }

    // The lag has passed: new viewers are taken again, and get media.
    if (c.admission.state === 'overloaded') await within(c.ctx.events.waitFor('coordinator:load', (e) => e.state === 'accepting'), 10_000, 'accepting again');
    expect((await health()).status).toBe(200);
    const next = new Viewer(url());
    viewers.push(next);
    await next.opened;
    expect(next.status).toBe(200);
    await next.waitForBytes(50_000);
    const flowing = existing.bytes;
    await existing.waitForBytes(flowing + 20_000);
  }, 180_000);
});
