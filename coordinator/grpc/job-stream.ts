// Handler for one job attempt's byte stream: source bytes down, MPEG-TS up.
import { Metadata, status as grpcStatus, type ServerDuplexStream } from '@grpc/grpc-js';
import type { JobDownlink } from '../../proto/gen/tvarr/transcode/v1/JobDownlink';
import type { JobUplink__Output } from '../../proto/gen/tvarr/transcode/v1/JobUplink';
import type { CoreContext } from '../context';
import { AppError } from '../errors';
import type { ActiveJob } from '../jobs/active-job';
import type { JobSupervisor } from '../jobs/job-supervisor';
import { acceptWorkerCall } from './accept-worker-call';
import { progressFromProto } from './convert';
import { toGrpcStatus } from './status';

// After the worker ends its half cleanly it reports JobEnded on the control stream;
// this is how long that report may take before the attempt counts as failed.
const END_REPORT_GRACE_MS = 3000;

export function handleJobStream(ctx: CoreContext, supervisor: JobSupervisor, call: ServerDuplexStream<JobUplink__Output, JobDownlink>): void {
  const workerId = acceptWorkerCall(call, ctx.config);
  if (workerId === null) return;
  let job: ActiveJob | null = null;
  // `open` must come first and soon: a call that never sends it would hold a stream (and
  // its buffers) forever. The same budget as StartJob -> job stream open.
  const openTimeoutMs = ctx.config.liveness.jobStartTimeoutMs;
  const openTimer = setTimeout(() => {
    if (job || rejectedLate) return;
    rejectedLate = true;
    ctx.log.warn('job stream rejected', { workerId, error: `no open within ${openTimeoutMs} ms` });
    call.emit('error', { code: grpcStatus.DEADLINE_EXCEEDED, details: `first message must be open, within ${openTimeoutMs} ms`, metadata: new Metadata() });
  }, openTimeoutMs);
  const stopOpenTimer = () => clearTimeout(openTimer);
  call.on('close', stopOpenTimer);
  // Lanes mode (open.lanes > 1): this call is lane `lane` of the attempt; bytes come as output_chunk.
  let lane = 0;
  let laned = false;
  let rejectedLate = false;

  const reject = (err: unknown) => {
    rejectedLate = true;
    ctx.log.warn('job stream rejected', { workerId, error: err instanceof Error ? err.message : String(err) });
    call.emit('error', toGrpcStatus(err));
  };
  let opening = false;

  call.on('data', (msg) => {
    if (rejectedLate) return;
    try {
      if (!job) {
        if (opening) throw new AppError('invalid_request', 'open sent twice');
        if (msg.msg !== 'open' || !msg.open) throw new AppError('invalid_request', 'first message must be open');
        stopOpenTimer();
        const fence = { jobId: msg.open.job_id, attempt: msg.open.attempt, workerId };
        const { lane: l, lanes } = msg.open;
        if (lanes <= 1 && l !== 0) throw new AppError('invalid_request', `lane ${l} is out of range for 1 lane(s)`);
        // The attach writes the job row (pending -> running). Until it is done this call
        // delivers nothing more: what the worker sent right behind `open` waits in the
        // call's buffer (HTTP/2 flow control bounds it) and is handled in order after, as
        // this attempt's, or dropped with the call if the attach is refused.
        opening = true;
        call.pause();
        const attached =
          lanes > 1 ? supervisor.attachLane(fence, l, lanes, (j) => j.openLane(l, lanes, call)) : supervisor.attachStream(fence, (j) => j.attach(call));
        attached.then(
          (j) => {
            job = j;
            lane = l;
            laned = lanes > 1;
            opening = false;
            call.resume();
          },
          (err: unknown) => {
            opening = false;
            reject(err);
          },
        );
        return;
      }
      switch (msg.msg) {
        case 'output':
          if (laned) throw new AppError('invalid_request', 'output on a lane; lanes carry output_chunk');
          if (msg.output) job.handleOutput(msg.output);
          return;
        case 'output_chunk':
          if (!laned) throw new AppError('invalid_request', 'output_chunk on a single-lane job stream');
          if (msg.output_chunk) job.handleOutputChunk(msg.output_chunk.seq, msg.output_chunk.data);
          return;
        case 'progress':
          if (msg.progress) job.progress = progressFromProto(msg.progress);
          return;
        case 'open':
          throw new AppError('invalid_request', 'open sent twice');
        default:
          return;
      }
    } catch (err) {
      reject(err);
    }
  });

  // The worker reports how a job ended on its control stream (JobEnded, with FFmpeg's
  // error); the job stream closing is only a hint. Wait briefly for the report; if the
  // worker itself is gone, the registry's loss handler ends the job first.
  const endSoon = (reason: string) => {
    const j = job;
    if (!j || j.ended) return;
    const timer = setTimeout(() => j.finish({ state: 'failed', reason }), END_REPORT_GRACE_MS);
    j.onEnd(() => clearTimeout(timer));
  };
  call.on('end', () => {
    // The worker half-closed: close ours too, then expect its JobEnded report.
    try {
      call.end();
    } catch {
      // already closed
    }
    if (laned) job?.laneEnded(lane);
    endSoon('job stream ended without an end report');
  });
  call.on('error', (err: Error) => {
    stopOpenTimer();
    endSoon(`job stream error: ${err.message}`);
  });
  call.on('cancelled', () => {
    stopOpenTimer();
    endSoon('job stream cancelled: the connection to the worker dropped');
  });
}
