// Job stream lanes on the coordinator (ActiveJob) and the worker's TVARR_JOB_STREAM_LANES.
import { EventEmitter } from 'node:events';
import { describe, expect, test } from 'bun:test';
import { PreframedMessage } from '../../common/job-stream-wire';
import { ActiveJob } from '../../coordinator/jobs/active-job';
import { AppError } from '../../coordinator/errors';
import { parseWorkerConfig } from '../../worker/config';

/** Enough of a ServerDuplexStream: records writes; write() returns `accept`. */
class FakeCall extends EventEmitter {
  writes: unknown[] = [];
  ended = false;
  accept = true;
  write(m: unknown): boolean {
    // Source bytes go out pre-encoded (common/job-stream-wire.ts): record them as the plain message.
    this.writes.push(m instanceof PreframedMessage ? m.plain() : m);
    return this.accept;
  }
  end(): void {
    this.ended = true;
  }
}

const newJob = () => new ActiveJob({ jobId: 'j', runId: 'r', attempt: 1, workerId: 'w', encoder: 'libx264', kind: 'cpu' });
const open = (job: ActiveJob, n: number) => {
  const calls = Array.from({ length: n }, () => new FakeCall());
  calls.forEach((c, i) => job.openLane(i, n, c as never));
  return calls;
};
const code = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return (err as AppError).code;
  }
  return null;
};

describe('ActiveJob with lanes', () => {
  test('attached only once every lane is open', async () => {
    const job = newJob();
    const waited = job.waitAttached();
    expect(job.openLane(1, 3, new FakeCall() as never)).toBe(false);
    expect(job.openLane(0, 3, new FakeCall() as never)).toBe(false);
    expect(job.attached).toBe(false);
    expect(job.openLane(2, 3, new FakeCall() as never)).toBe(true);
    expect(job.attached).toBe(true);
    expect(job.lanes).toBe(3);
    await waited;
  });

  test('a lane opened twice, or lanes that disagree, are refused', () => {
    const job = newJob();
    job.openLane(0, 3, new FakeCall() as never);
    expect(code(() => job.openLane(0, 3, new FakeCall() as never))).toBe('permission_denied');
    expect(code(() => job.openLane(1, 2, new FakeCall() as never))).toBe('invalid_request');
    job.openLane(1, 3, new FakeCall() as never);
    job.openLane(2, 3, new FakeCall() as never);
    expect(code(() => job.openLane(2, 3, new FakeCall() as never))).toBe('permission_denied');
  });

  test('input is striped round-robin with seq; waitDrain waits on the backpressured lane', async () => {
    const job = newJob();
    const calls = open(job, 3);
    for (let i = 0; i < 4; i++) expect(job.writeInput(Uint8Array.of(i))).toBe(true);
    expect(calls.map((c) => c.writes.length)).toEqual([2, 1, 1]);
    expect(calls[1]!.writes[0]).toEqual({ input_chunk: { seq: 1, data: Uint8Array.of(1) } });
    expect(calls[0]!.writes[1]).toEqual({ input_chunk: { seq: 3, data: Uint8Array.of(3) } });
    calls[1]!.accept = false;
    expect(job.writeInput(Uint8Array.of(4))).toBe(false);
    let drained = false;
    const d = job.waitDrain().then(() => (drained = true));
    calls[0]!.emit('drain');
    await Promise.resolve();
    expect(drained).toBe(false);
    calls[1]!.emit('drain');
    await d;
    job.endInput('done');
    for (const c of calls) expect(c.writes.at(-1)).toEqual({ input_ended: { reason: 'done' } });
    expect(job.bytesIn).toBe(5);
  });

  test('output chunks reach onOutput in seq order', () => {
    const job = newJob();
    open(job, 3);
    const got: number[] = [];
    job.onOutput = (c) => got.push(c[0]!);
    job.handleOutputChunk(1, Uint8Array.of(1));
    job.handleOutputChunk(2, Uint8Array.of(2));
    expect(got).toEqual([]);
    job.handleOutputChunk(0, Uint8Array.of(0));
    job.handleOutputChunk(3, Uint8Array.of(3));
    expect(got).toEqual([0, 1, 2, 3]);
    expect(job.bytesOut).toBe(4);
  });

  test('lanes that all end with a gap fail the attempt with the missing chunk named', () => {
    const job = newJob();
    const calls = open(job, 2);
    job.handleOutputChunk(1, Uint8Array.of(1));
    job.laneEnded(0);
    expect(job.ended).toBeNull();
    job.laneEnded(1);
    expect(job.ended?.state).toBe('failed');
    expect(job.ended?.reason).toContain('chunk 0 never arrived');
    for (const c of calls) expect(c.ended).toBe(true);
  });

  test('a duplicate output chunk fails the attempt', () => {
    const job = newJob();
    open(job, 2);
    job.handleOutputChunk(0, Uint8Array.of(0));
    job.handleOutputChunk(0, Uint8Array.of(0));
    expect(job.ended?.reason).toContain('received twice');
  });
});

describe('TVARR_JOB_STREAM_LANES', () => {
  const hw = { hostname: 'box', cpuCount: 8, nvidiaGpuCount: 0, otherGpuCount: 0 };
  test('defaults to 0 (the coordinator suggests); accepts 0-16; refuses the rest with the expected form', () => {
    expect(parseWorkerConfig({}, hw).jobStreamLanes).toBe(0);
    expect(parseWorkerConfig({ TVARR_JOB_STREAM_LANES: '0' }, hw).jobStreamLanes).toBe(0);
    expect(parseWorkerConfig({ TVARR_JOB_STREAM_LANES: '3' }, hw).jobStreamLanes).toBe(3);
    expect(parseWorkerConfig({ TVARR_JOB_STREAM_LANES: '16' }, hw).jobStreamLanes).toBe(16);
    for (const bad of ['17', '-1', 'two', '1.5']) {
      expect(() => parseWorkerConfig({ TVARR_JOB_STREAM_LANES: bad }, hw)).toThrow(/TVARR_JOB_STREAM_LANES must be an integer from 0 \(auto\) to 16/);
    }
  });
});
