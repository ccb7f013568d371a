// Lanes open in parallel, each on its own connection: output may arrive on an early lane
// before the last lane's open. It is held (bounded) and delivered in order once the
// attempt is attached, instead of failing the attempt (coordinator/jobs/active-job.ts).
import { EventEmitter } from 'node:events';
import { expect, test } from 'bun:test';
import { ActiveJob } from '../../coordinator/jobs/active-job';

class FakeCall extends EventEmitter {
  write(): boolean {
    return true;
  }
  end(): void {}
}

test('output before the last lane opens is held, then delivered in order after attach', async () => {
  const job = new ActiveJob({ jobId: 'j', runId: 'r', attempt: 1, workerId: 'w', encoder: 'copy', kind: 'cpu' });
  const got: number[] = [];
  job.openLane(0, 3, new FakeCall() as never);
  job.openLane(1, 3, new FakeCall() as never);
  // Lanes 0 and 1 deliver chunks 0, 1, 3, 4 before lane 2 has even opened.
  job.handleOutputChunk(0, Uint8Array.of(0));
  job.handleOutputChunk(1, Uint8Array.of(1));
  job.handleOutputChunk(3, Uint8Array.of(3));
  job.handleOutputChunk(4, Uint8Array.of(4));
  expect(job.ended).toBeNull();
  expect(job.attached).toBe(false);
  const attached = job.waitAttached().then(() => {
    // Wired after attach, as the variant run does.
    job.onOutput = (c) => got.push(c[0]!);
  });
  job.openLane(2, 3, new FakeCall() as never);
  await attached;
  job.handleOutputChunk(2, Uint8Array.of(2));
  job.handleOutputChunk(5, Uint8Array.of(5));
  await new Promise((r) => setImmediate(r));
  expect(got).toEqual([0, 1, 2, 3, 4, 5]);
  expect(job.bytesOut).toBe(6);
  expect(job.ended).toBeNull();
});

test('held early output is flushed even if nothing more arrives', async () => {
  const job = new ActiveJob({ jobId: 'j', runId: 'r', attempt: 1, workerId: 'w', encoder: 'copy', kind: 'cpu' });
  const got: number[] = [];
  job.openLane(0, 2, new FakeCall() as never);
  job.handleOutputChunk(0, Uint8Array.of(7));
  const attached = job.waitAttached().then(() => (job.onOutput = (c) => got.push(c[0]!)));
  job.openLane(1, 2, new FakeCall() as never);
  await attached;
  await new Promise((r) => setImmediate(r));
  expect(got).toEqual([7]);
});
