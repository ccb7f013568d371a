// Domain shapes of what crosses the control stream, independent of protobuf.
// proto-convert.ts is the only place that maps these to and from generated types.
import type { Capabilities } from '../probe/capabilities';
import type { ResourceUsageSample } from '../heartbeat/resource-sampler';
import type { TranscodeSpec } from '../runner/transcode-spec';

export interface JobRef {
  jobId: string;
  attempt: number;
}

export function jobKey(ref: JobRef): string {
  return `${ref.jobId}#${ref.attempt}`;
}

export interface Limits {
  maxJobs: number;
  maxGpuJobs: number;
  maxCpuJobs: number;
}

export interface Registration {
  workerId: string;
  name: string;
  version: string;
  hostname: string;
  capabilities: Capabilities;
  limits: Limits;
  activeJobs: JobRef[];
  draining: boolean;
  /** Most renditions of one ladder job (proto Register.max_renditions); absent = 0. */
  maxRenditions?: number;
}

export interface JobProgressInfo extends JobRef {
  fps: number;
  speed: number;
  bitrateKbps: number;
  frames: number;
  bytesIn: number;
  bytesOut: number;
  outTimeUs: number;
}

export type RejectReason = 'at_capacity' | 'encoder_unavailable' | 'draining' | 'invalid_spec';
export type JobOutcome = 'completed' | 'failed' | 'cancelled';

export interface JobEndedInfo extends JobRef {
  outcome: JobOutcome;
  message: string;
  exitCode: number;
}

export type OutgoingEvent =
  | { type: 'register'; registration: Registration }
  | { type: 'heartbeat'; usage: ResourceUsageSample; jobs: JobProgressInfo[] }
  | { type: 'job_rejected'; job: JobRef; reason: RejectReason; message: string }
  | { type: 'job_ended'; ended: JobEndedInfo }
  | { type: 'drain_started'; reason: string }
  | { type: 'pong'; nonce: number };

export type IncomingCommand =
  | { type: 'registered'; workerId: string; heartbeatIntervalMs: number; cancelJobs: JobRef[] }
  | {
      type: 'start_job';
      job: JobRef;
      spec: TranscodeSpec;
      /** lanes the coordinator suggests; 0 = none */
      streamLanes: number;
      /** host:port of the job's owner when another coordinator owns it (proto StartJob.job_stream_address); '' = the sender */
      jobStreamAddress: string;
    }
  | { type: 'cancel_job'; job: JobRef; reason: string }
  | { type: 'drain'; reason: string }
  | { type: 'resume' }
  | { type: 'ping'; nonce: number; heartbeatIntervalMs: number }
  | { type: 'unknown' };
