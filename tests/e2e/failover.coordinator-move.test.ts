// A worker process given two real coordinators (each on its own SQLite file: the move
// itself needs no shared database) holds its Control stream to one; that one is
// SIGKILLed and the worker registers on the other as the same identity, without waiting
// its reconnect backoff. Then the killed one is restarted and the other frozen (SIGSTOP):
// keepalive notices, and the worker goes back.
import { afterAll, expect, test } from 'bun:test';
import { FAST_LIVENESS, TestCluster, type CoordinatorHandle } from '../helpers/cluster';
import { spawnBun, type LoggedProcess } from '../helpers/processes';

const one = new TestCluster({ env: FAST_LIVENESS });
const two = new TestCluster({ env: FAST_LIVENESS });
let worker: LoggedProcess | undefined;
let held: { cluster: TestCluster; handle: CoordinatorHandle };
let other: { cluster: TestCluster; handle: CoordinatorHandle };
// A move that waited the backoff (at least 5 s) would fail the bounds below.
const BACKOFF_MS = '10000';

afterAll(async () => {
  await worker?.stop();
  await Promise.all([one.stop(), two.stop()]);
});

test('the coordinator holding the worker is SIGKILLed: the worker is registered on the other within a few seconds', async () => {
  const [a, b] = await Promise.all([one.startCoordinator(), two.startCoordinator()]);
  worker = spawnBun('worker-move', 'worker/main.ts', {
    TVARR_COORDINATOR_URL: `${a.grpcAddress},${b.grpcAddress}`,
    TVARR_WORKER_NAME: 'move',
    TVARR_WORKER_ID: 'test-move',
    TVARR_MAX_CPU_JOBS: '1',
    TVARR_MAX_JOBS: '1',
    TVARR_RECONNECT_BASE_MS: BACKOFF_MS,
    TVARR_RECONNECT_MAX_MS: BACKOFF_MS,
  });
  // The first coordinator is a random one of the two.
  const first = await worker.waitForMsg('registered', 120_000);
  [held, other] = first.address === a.grpcAddress ? [{ cluster: one, handle: a }, { cluster: two, handle: b }] : [{ cluster: two, handle: b }, { cluster: one, handle: a }];
  await held.handle.proc.waitForLog((l) => l.msg === 'worker registered' && l.workerId === 'test-move', 10_000);

  const killedAt = Date.now();
  held.handle.proc.kill('SIGKILL');
  await held.handle.proc.exited;
  const moved = await worker.waitForLog((l) => l.msg === 'registered' && l.address === other.handle.grpcAddress, 9000);
  const tookMs = Date.parse(String(moved.ts)) - killedAt;
  expect(tookMs).toBeLessThan(4000);
  await other.handle.proc.waitForLog((l) => l.msg === 'worker registered' && l.workerId === 'test-move', 5000);
  const seen = await other.handle.api<{ state: string; connected: boolean }>('/api/workers/test-move');
  expect([seen.status, seen.body.state, seen.body.connected]).toEqual([200, 'online', true]);
  const move = worker.lines.filter((l) => l.msg === 'coordinator lost; trying next');
  expect(move.map((l) => [l.address, l.next])).toEqual([[held.handle.grpcAddress, other.handle.grpcAddress]]);
  console.log(`worker registered on the other coordinator ${tookMs} ms after the SIGKILL`);
}, 180_000);

test('the killed one is back and the other freezes (SIGSTOP): keepalive notices and the worker moves back', async () => {
  const gone = held.handle;
  const ports = { http: Number(new URL(gone.httpUrl).port), grpc: Number(gone.grpcAddress.split(':')[1]) };
  const back = await held.cluster.startCoordinator({}, ports);
  const from = worker!.lines.length;
  const frozenAt = Date.now();
  other.handle.proc.kill('SIGSTOP');
  const moved = await worker!.waitForLog((l) => l.msg === 'registered' && l.address === back.grpcAddress, 9000, from);
  // Keepalive: a ping every 500 ms, lost after 2250 ms without its ack (about 2.75 s), then no backoff.
  const tookMs = Date.parse(String(moved.ts)) - frozenAt;
  expect(tookMs).toBeLessThan(4500);
  await back.proc.waitForLog((l) => l.msg === 'worker registered' && l.workerId === 'test-move', 5000);
  const lost = worker!.lines.slice(from).find((l) => l.msg === 'coordinator lost; trying next');
  expect(lost).toMatchObject({ address: other.handle.grpcAddress, next: back.grpcAddress });
  console.log(`worker registered on the restarted coordinator ${tookMs} ms after the other froze (${String(lost?.reason)})`);
}, 60_000);
