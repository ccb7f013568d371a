// Bridges one JobStream call and one FFmpeg process.
//
// Flow control is end to end in both directions:
//  - down: each `input` message is written to FFmpeg's stdin and the call is paused
//    until the pipe has taken it, so HTTP/2 stops granting window to the coordinator;
//  - up: FFmpeg's stdout is pulled only while the call accepts writes
//    (`write() === false` waits for 'drain'), so a slow coordinator pauses FFmpeg.
// Each job has its own call, hence its own HTTP/2 window: one slow job cannot stall
// another one on the same connection.
import type * as grpc from '@grpc/grpc-js';
import type { JobDownlink__Output } from '../../proto/gen/tvarr/transcode/v1/JobDownlink';
import type { JobUplink } from '../../proto/gen/tvarr/transcode/v1/JobUplink';
import type { Logger } from '../../common/log';
import type { JobExit, JobProcess } from '../runner/job-process';
import { TsPacketSplitter } from '../runner/ts-packet-splitter';
import { uplinkOutput, type PreframedMessage } from '../../common/job-stream-wire';
import type { JobProgressInfo, JobRef } from './domain';
import type { StreamFailure } from './job-admission';
import { statusName, type CoordinatorClient } from './grpc-connection';
import { progressToProto, toProtoJobRef } from './proto-convert';

export type JobCall = grpc.ClientDuplexStream<JobUplink, JobDownlink__Output>;

export interface JobStreamResult {
  exit: JobExit;
  streamFailure?: StreamFailure;
}

/** Opens the job's stream; its first message names the job attempt. */
export function openJobStream(client: CoordinatorClient, metadata: grpc.Metadata, ref: JobRef): JobCall {
  const call = client.JobStream(metadata);
  call.write({ open: toProtoJobRef(ref) });
  return call;
}

export function jobProgress(ref: JobRef, proc: JobProcess): JobProgressInfo {
  const p = proc.lastProgress;
  return {
    ...ref,
    fps: p?.fps ?? 0,
    speed: p?.speed ?? 0,
    bitrateKbps: p?.bitrateKbps ?? 0,
    frames: p?.frame ?? 0,
    bytesIn: proc.bytesIn,
    bytesOut: proc.bytesOut,
    outTimeUs: p?.outTimeUs ?? 0,
  };
}

/** Resolves on 'drain', or when the call can no longer drain (error/close). */
export interface OutputPump {
  proc: JobProcess;
  logger: Logger;
  progressIntervalMs?: number;
  /** true once the job's stream(s) failed: output is still read, no longer sent */
  failed(): boolean;
  sendProgress(): void;
  /** sends whole packets (consecutive pieces); returns the call to wait 'drain' on when it is backpressured */
  sendPackets(pieces: Uint8Array[]): JobCall | null;
}

/**
 * FFmpeg stdout -> whole 188-byte packets -> the job's stream(s), pulled only while the
 * call accepts writes, with a progress message about once a second. Shared by the
 * single-call and the laned bridge. Resolves with FFmpeg's exit.
 */
export async function pumpOutput(o: OutputPump): Promise<JobExit> {
  let waitingDrain = false;
  const progressTimer = setInterval(() => {
    if (waitingDrain || o.failed() || o.proc.hasExited) return;
    o.sendProgress();
  }, o.progressIntervalMs ?? 1000);
  const aligner = new TsPacketSplitter();
  try {
    for await (const chunk of o.proc.output()) {
      const pieces = aligner.push(chunk);
      // After a stream failure keep reading so FFmpeg is never blocked on stdout while it is being stopped.
      if (pieces.length === 0 || o.failed()) continue;
      const blocked = o.sendPackets(pieces);
      if (blocked) {
        waitingDrain = true;
        await waitWritable(blocked);
        waitingDrain = false;
      }
    }
  } finally {
    clearInterval(progressTimer);
  }
  const exit = await o.proc.exited;
  if (aligner.pending) o.logger.warn('ffmpeg output ended mid-packet', { bytes: aligner.pending });
  return exit;
}

/**
 * Output goes out pre-encoded: the client's JobStream serializer passes it to grpc-js,
 * which copies the pieces once into its frame (common/job-stream-wire.ts).
 */
export function writeBytes(call: JobCall, message: PreframedMessage): boolean {
  return call.write(message as unknown as JobUplink);
}

export function waitWritable(call: JobCall): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off('drain', done);
      call.off('error', done);
      call.off('close', done);
      resolve();
    };
    call.on('drain', done);
    call.on('error', done);
    call.on('close', done);
  });
}

export interface BridgeOptions {
  call: JobCall;
  proc: JobProcess;
  ref: JobRef;
  logger: Logger;
  progressIntervalMs?: number;
  /** How long to wait for the coordinator to close the call after our half-close. */
  closeTimeoutMs?: number;
}

export async function bridgeJobStream(o: BridgeOptions): Promise<JobStreamResult> {
  const { call, proc, ref, logger } = o;
  let streamFailure: StreamFailure | undefined;
  let finished = false;
  const callClosed = new Promise<void>((resolve) => {
    call.on('status', () => resolve());
    call.on('close', () => resolve());
    call.on('error', (err: grpc.ServiceError) => {
      resolve();
      if (finished) return;
      streamFailure = { code: statusName(err.code), details: err.details ?? err.message };
      // The coordinator is gone or no longer wants this attempt: stop FFmpeg.
      if (!proc.hasExited) {
        logger.warn('job stream failed; stopping ffmpeg', { code: streamFailure.code, details: streamFailure.details });
        void proc.cancel();
      }
    });
  });

  call.on('data', (msg: JobDownlink__Output) => {
    if (msg.msg === 'input' && msg.input) {
      call.pause();
      void proc.write(msg.input).finally(() => call.resume());
    } else if (msg.msg === 'input_ended') {
      logger.debug('input ended', { reason: msg.input_ended?.reason });
      void proc.endInput();
    }
  });
  // The coordinator half-closing its side also means no more input.
  call.on('end', () => void proc.endInput());

  const exit = await pumpOutput({
    proc,
    logger,
    progressIntervalMs: o.progressIntervalMs,
    failed: () => streamFailure !== undefined,
    sendProgress: () => call.write({ progress: progressToProto(jobProgress(ref, proc)) }),
    sendPackets: (pieces) => (writeBytes(call, uplinkOutput(pieces)) ? null : call),
  });
  finished = true;

  if (!streamFailure) {
    call.write({ progress: progressToProto(jobProgress(ref, proc)) });
    call.end();
    // Let the coordinator take the last output before job_ended goes out on the
    // control stream; a coordinator that never closes the call is cut off.
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), o.closeTimeoutMs ?? 5000).unref?.());
    if ((await Promise.race([callClosed, timeout])) === 'timeout') call.cancel();
  }
  // Drain any input still arriving so the call can complete.
  call.resume();
  return { exit, streamFailure };
}
