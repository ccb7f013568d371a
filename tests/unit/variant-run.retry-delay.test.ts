// Retry backoff of a variant: a healthy variant's failover starts at once; only
// consecutive quick failures (a crash loop) back off, doubling up to the cap.
import { describe, expect, test } from 'bun:test';
import { ActiveJob, type JobEnd } from '../../coordinator/jobs/active-job';
import { HEALTHY_RUN_MS, retryDelayMs, VariantRun, type VariantRunDeps } from '../../coordinator/streams/variant-run';

test('the first failure retries at once; later consecutive ones double and stop at the cap', () => {
  expect([1, 2, 3, 4, 5, 6, 7].map((n) => retryDelayMs(n, 250, 5000))).toEqual([0, 250, 500, 1000, 2000, 4000, 5000]);
  expect(retryDelayMs(0, 250, 5000)).toBe(0);
  expect(retryDelayMs(40, 250, 5000)).toBe(5000);
});

// Strict fakes: a VariantRun only needs these from its collaborators.
function harness() {
  const dispatched: ActiveJob[] = [];
  const events: string[] = [];
  const closed: string[] = [];
  const deps = {
    ctx: {
      clock: { now: () => Date.now() },
      config: {
        bufferBytes: 1 << 20,
        stallTimeoutMs: 60_000,
        liveness: { maxAttempts: 5, retryBackoffMs: 250, retryBackoffMaxMs: 5000, idleGraceMs: 60_000 },
      },
      log: { info() {}, warn() {}, error() {}, debug() {} },
      events: { emit: (name: string) => void events.push(name) },
    },
    supervisor: {
      dispatch: async (req: { attempt: number }) => {
        const job = new ActiveJob({ jobId: `j${req.attempt}`, runId: 'r1', attempt: req.attempt, workerId: `w${req.attempt}`, encoder: 'libx264', kind: 'cpu' });
        dispatched.push(job);
        return job;
      },
      cancel: () => true,
    },
    upstreamFor: () => ({
      ensureStarted: async () => {},
      releaseIfUnused() {},
      // Source bytes never arrive in these tests: only the retry decisions matter.
      subscribe: () => ({ next: () => new Promise<never>(() => {}), close() {} }),
    }),
    onClosed: (_run: unknown, reason: string) => void closed.push(reason),
  } as unknown as VariantRunDeps;
  const run = new VariantRun(deps, { id: 's1' } as never, { id: 'p1', hotStandby: false } as never);
  return { run, dispatched, events, closed };
}

/** Lets promise callbacks run, but no timer: what is dispatched here was not delayed. */
async function microtasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

function fail(job: ActiveJob, ranForMs: number): void {
  // The attempt started ranForMs ago (time is a parameter: no sleeping in tests).
  Object.defineProperty(job, 'startedAt', { value: Date.now() - ranForMs });
  job.finish({ state: 'failed', reason: 'worker lost: test', cause: 'worker_lost' } satisfies JobEnd);
}

describe('variant retry after a failure', () => {
  test('a variant healthy for a while restarts at zero backoff, every time', async () => {
    const { run, dispatched, closed } = harness();
    await run.start();
    expect(dispatched).toHaveLength(1);
    for (let n = 1; n <= 4; n++) {
      fail(dispatched.at(-1)!, HEALTHY_RUN_MS + 1000);
      await microtasks();
      // Dispatched in the same turn as the failure, without waiting on a backoff timer.
      expect(dispatched).toHaveLength(n + 1);
      expect(run.currentJob).toBe(dispatched.at(-1)!);
    }
    expect(closed).toEqual([]); // never gave up: each failure was the first after a healthy run
    run.stop('test over');
  });

  test('a crash loop still backs off: the second quick failure waits for the timer', async () => {
    const { run, dispatched } = harness();
    await run.start();
    fail(dispatched[0]!, 100);
    await microtasks();
    expect(dispatched).toHaveLength(2); // first failure: at once
    fail(dispatched[1]!, 100);
    await microtasks();
    expect(dispatched).toHaveLength(2); // second consecutive quick failure: backoff (250 ms)
    run.stop('test over');
  });
});
