// Issue 23: what a coordinator's death costs a viewer of another coordinator, beside what
// a worker's death costs it, in the same run. Each run is a fresh cluster on one
// PostgreSQL server: coordinators A and B (default lease, TVARR_CLUSTER_LEASE_MS 1.5 s),
// two workers on A, one on B, the test pattern and the tiny H.264 profile. A viewer of A
// makes A the owner; a viewer of B is served from B's mirror of A.
//   1. worker failover: the worker running the job on A is SIGKILLed; the gap is the
//      largest silence the viewer of B sees from the kill until 100 KB more arrived;
//   2. coordinator takeover: A is SIGKILLed; the same measure on the viewer of B, whose
//      coordinator takes the source over and starts the variant on its own worker.
import { sharedPostgres } from '../tests/helpers/postgres';
import { FAST_LIVENESS, TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../tests/helpers/cluster';
import { StreamRecorder } from '../tests/helpers/stream-recorder';
import { percentile } from './common';

export interface TakeoverResult {
  runs: number;
  workerGapsMs: number[];
  takeoverGapsMs: number[];
  leaseMs: number;
}

const VARIANT = `/stream/pattern/${TINY_H264_PROFILE.id}`;

/** The largest silence on `viewer` from `since` until `bytes` more bytes came. */
async function gapAfter(viewer: StreamRecorder, since: number, bytes: number): Promise<number> {
  const mark = viewer.total;
  await viewer.waitForBytes(bytes, mark, 60_000);
  return viewer.largestSilenceSince(since);
}

async function oneRun(log: (s: string) => void, i: number): Promise<{ worker: number; takeover: number }> {
  const cluster = new TestCluster({ engine: 'postgres', env: { ...FAST_LIVENESS, TVARR_LOG_LEVEL: 'info' } });
  const viewers: StreamRecorder[] = [];
  try {
    const a = await cluster.startCoordinator({ TVARR_COORDINATOR_ID: 'coord-a' });
    await Promise.all([cluster.startWorker('a1'), cluster.startWorker('a2')]);
    const b = await cluster.startCoordinator({ TVARR_COORDINATOR_ID: 'coord-b' });
    await cluster.startWorker('b1');
    cluster.coordinator = a;
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);
    const onA = await StreamRecorder.open(`${a.httpUrl}${VARIANT}`);
    viewers.push(onA);
    await onA.waitForBytes(50_000);
    const onB = await StreamRecorder.open(`${b.httpUrl}${VARIANT}`);
    viewers.push(onB);
    await onB.waitForBytes(100_000);
    // 1. The worker under A's job.
    const { body } = await a.api<{ live: { job: { workerId: string } | null }[] }>('/api/variants');
    const serving = body.live[0]!.job!.workerId.replace(/^test-/, '');
    const killedWorkerAt = Date.now();
    cluster.workers.get(serving)!.kill('SIGKILL');
    const worker = await gapAfter(onB, killedWorkerAt, 100_000);
    // 2. A itself.
    const killedAt = Date.now();
    a.proc.proc.kill('SIGKILL');
    const takeover = await gapAfter(onB, killedAt, 150_000);
    log(`cluster takeover run ${i + 1}: worker failover gap ${worker} ms, coordinator takeover gap ${takeover} ms`);
    return { worker, takeover };
  } finally {
    for (const v of viewers) await v.close().catch(() => {});
    await cluster.stop();
  }
}

export async function benchClusterTakeover(opts: { quick: boolean; log: (s: string) => void }): Promise<TakeoverResult> {
  await sharedPostgres();
  const runs = opts.quick ? 3 : 10;
  const workerGapsMs: number[] = [];
  const takeoverGapsMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await oneRun(opts.log, i);
    workerGapsMs.push(r.worker);
    takeoverGapsMs.push(r.takeover);
  }
  return { runs, workerGapsMs, takeoverGapsMs, leaseMs: 1500 };
}

export function clusterTakeoverSection(r: TakeoverResult): string {
  const row = (name: string, v: number[]) => `| ${name} | ${v.length} | ${percentile(v, 50).toFixed(0)} | ${percentile(v, 90).toFixed(0)} | ${Math.max(...v).toFixed(0)} |`;
  return [
    '## Coordinator takeover (issue 23)',
    '',
    `Each run a fresh cluster on one PostgreSQL server (bench/cluster-takeover.ts): coordinators A and B (TVARR_CLUSTER_LEASE_MS ${r.leaseMs}, the default), two workers on A, one on B, the test pattern and the tiny H.264 profile; a viewer of A makes A the owner, a viewer of B is served from B's mirror of A. First the worker running the job is SIGKILLed, then A. The figure is the largest silence the viewer of B sees from the kill until 100 KB (150 KB after the takeover) more arrived: it keeps its connection throughout.`,
    '',
    '| event | runs | gap p50 (ms) | gap p90 (ms) | max (ms) |',
    '|---|---:|---:|---:|---:|',
    row('worker SIGKILL (failover to the owner\'s other worker)', r.workerGapsMs),
    row('owner coordinator SIGKILL (B takes the source over, new job on its worker)', r.takeoverGapsMs),
    '',
    `Reading: a takeover waits for the owner's source lease to pass (at most ${r.leaseMs} ms after its last renewal, 3/4 of that on average), then starts a new FFmpeg on the survivor's worker; the worker failover needs neither (the owner splices another attempt in at once).`,
  ].join('\n');
}

if (import.meta.main) {
  const quick = process.argv.includes('--quick');
  const r = await benchClusterTakeover({ quick, log: (s) => process.stderr.write(s + '\n') });
  console.log(clusterTakeoverSection(r));
  process.exit(0);
}
