// Job stream lanes (TVARR_JOB_STREAM_LANES > 1): one job attempt over N JobStream calls,
// each on its own connection with the default HTTP/2 window, so a coordinator far away
// gets N x one call's throughput with ordinary flow control on every lane (the design
// is in proto/transcode.proto, JobStreamOpen; figures in docs/BENCHMARKS.md).
//
// Flow control stays end to end, as in job-stream.ts:
//  - up: FFmpeg output chunk `seq` goes on lane seq % N; write() === false waits for
//    'drain' on that lane before FFmpeg's stdout is read again;
//  - down: input chunks are put back in order (bounded reorder buffer); every lane is
//    paused while in-order bytes are being written to FFmpeg's stdin, and a lane that
//    delivers out of order while much is already held is paused until the gap fills.
import type * as grpc from '@grpc/grpc-js';
import type { JobDownlink__Output } from '../../proto/gen/tvarr/transcode/v1/JobDownlink';
import type { Logger } from '../../common/log';
import { DEFAULT_REORDER_LIMIT_BYTES, LaneStriper, SequenceReassembler } from '../../common/job-lanes';
import type { JobProcess } from '../runner/job-process';
import type { JobRef } from './domain';
import type { StreamFailure } from './job-admission';
import { statusName, type CoordinatorClient } from './grpc-connection';
import { uplinkOutputChunk } from '../../common/job-stream-wire';
import { jobProgress, pumpOutput, writeBytes, type JobCall, type JobStreamResult } from './job-stream';
import { progressToProto, toProtoJobRef } from './proto-convert';

/** Opens one call per client (one client per lane, each with its own connection). */
export function openJobLanes(clients: CoordinatorClient[], metadata: () => grpc.Metadata, ref: JobRef): JobCall[] {
  return clients.map((client, lane) => {
    const call = client.JobStream(metadata());
    call.write({ open: { ...toProtoJobRef(ref), lane, lanes: clients.length } });
    return call;
  });
}

export interface LanesBridgeOptions {
  calls: JobCall[];
  proc: JobProcess;
  ref: JobRef;
  logger: Logger;
  progressIntervalMs?: number;
  closeTimeoutMs?: number;
  /** Hard bound on input bytes held out of order; past it the job fails. */
  reorderLimitBytes?: number;
}

export async function bridgeJobLanes(o: LanesBridgeOptions): Promise<JobStreamResult> {
  const { calls, proc, ref, logger } = o;
  const n = calls.length;
  const limit = o.reorderLimitBytes ?? DEFAULT_REORDER_LIMIT_BYTES;
  // Past this many held bytes a lane delivering out of order is paused until the gap fills.
  const softLimit = Math.min(limit / 2, 4 * 1024 * 1024);
  let streamFailure: StreamFailure | undefined;
  let finished = false;

  const fail = (f: StreamFailure) => {
    if (finished || streamFailure) return;
    streamFailure = f;
    logger.warn('job stream lane failed; stopping ffmpeg', { code: f.code, details: f.details });
    if (!proc.hasExited) void proc.cancel();
    // The attempt is lost with any lane: take the other lanes down with it.
    for (const c of calls) c.cancel();
  };

  const closed = calls.map(
    (call, lane) =>
      new Promise<void>((resolve) => {
        call.on('status', () => resolve());
        call.on('close', () => resolve());
        call.on('error', (err: grpc.ServiceError) => {
          resolve();
          fail({ code: statusName(err.code), details: `lane ${lane}: ${err.details ?? err.message}` });
        });
      }),
  );

  // ---- down: reassemble input chunks by seq ----
  const reassembler = new SequenceReassembler(limit);
  const inputEnded = new Set<number>();
  const endInputWhenAllLanesSaidSo = (lane: number) => {
    inputEnded.add(lane);
    if (inputEnded.size < n) return;
    if (reassembler.hasGap) {
      fail({ code: 'DATA_LOSS', details: `job stream lanes ended with a gap in the input: ${reassembler.describeGap()}` });
      return;
    }
    void proc.endInput();
  };
  calls.forEach((call, lane) => {
    call.on('data', (msg: JobDownlink__Output) => {
      if (msg.msg === 'input_chunk' && msg.input_chunk) {
        let ready: Uint8Array[];
        try {
          ready = reassembler.push(msg.input_chunk.seq, msg.input_chunk.data);
        } catch (err) {
          fail({ code: 'DATA_LOSS', details: `job stream lanes: ${(err as Error).message}` });
          return;
        }
        if (ready.length === 0) {
          if (reassembler.pendingBytes > softLimit) call.pause();
          return;
        }
        // Hold every lane while FFmpeg takes the bytes: no window is granted meanwhile.
        for (const c of calls) c.pause();
        void (async () => {
          for (const chunk of ready) await proc.write(chunk);
        })().finally(() => {
          for (const c of calls) c.resume();
        });
      } else if (msg.msg === 'input_ended') {
        logger.debug('input ended on lane', { lane, reason: msg.input_ended?.reason });
        endInputWhenAllLanesSaidSo(lane);
      } else if (msg.msg === 'input') {
        fail({ code: 'INVALID_ARGUMENT', details: `lane ${lane}: input without a sequence number on a laned job stream` });
      }
    });
    // The coordinator half-closing a lane also means no more input on it.
    call.on('end', () => endInputWhenAllLanesSaidSo(lane));
  });

  // ---- up: stripe output chunks over the lanes ----
  const striper = new LaneStriper(n);
  const exit = await pumpOutput({
    proc,
    logger,
    progressIntervalMs: o.progressIntervalMs,
    failed: () => streamFailure !== undefined,
    sendProgress: () => calls[0]!.write({ progress: progressToProto(jobProgress(ref, proc)) }),
    sendPackets: (pieces) => {
      const { seq, lane } = striper.next();
      const call = calls[lane]!;
      return writeBytes(call, uplinkOutputChunk(seq, pieces)) ? null : call;
    },
  });
  finished = true;

  if (!streamFailure) {
    calls[0]!.write({ progress: progressToProto(jobProgress(ref, proc)) });
    for (const c of calls) c.end();
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), o.closeTimeoutMs ?? 5000).unref?.());
    if ((await Promise.race([Promise.all(closed), timeout])) === 'timeout') for (const c of calls) c.cancel();
  }
  for (const c of calls) c.resume();
  return { exit, streamFailure };
}
