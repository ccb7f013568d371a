// Domain types shared inside the coordinator. Row types (typeof x.$inferSelect) stay in
// the db layer; these are what the rest of the code talks in.
import type { SpecFields } from '../common/transcode-rules';

/**
 * Worker states:
 *   online   -> draining (admin drain, or the worker's SIGTERM) -> online (resume)
 *   online | draining -> offline (connection closed or heartbeats stopped)
 *   offline -> online (the same identity registers again)
 */
export type WorkerState = 'online' | 'draining' | 'offline';

/**
 * Job states (one row per attempt):
 *   pending  -> running    (the worker opened the job stream)
 *   pending  -> failed     (rejected, start timeout, worker lost before start)
 *   running  -> failed     (worker lost, FFmpeg failed)
 *   running  -> completed  (input ended and FFmpeg exited cleanly)
 *   pending | running -> cancelled (last client left, admin cancel, drain moved it)
 * failed, completed and cancelled are final; a retry is a new row with attempt + 1.
 */
export type JobState = 'pending' | 'running' | 'failed' | 'completed' | 'cancelled';

export const LIVE_JOB_STATES = ['pending', 'running'] as const satisfies readonly JobState[];

export type EncoderKind = 'gpu' | 'cpu';

export interface EncoderCapability {
  name: string;
  codec: string;
  kind: EncoderKind;
  family: string;
}

export interface RejectedEncoder {
  name: string;
  codec: string;
  reason: string;
}

export interface GpuInfo {
  vendor: string;
  name: string;
  device: string;
  memoryBytes: number;
}

export interface WorkerLimits {
  maxJobs: number;
  maxGpuJobs: number;
  maxCpuJobs: number;
}

export interface WorkerRegistration {
  id: string;
  name: string;
  version: string;
  hostname: string;
  address: string;
  ffmpegVersion: string;
  encoders: EncoderCapability[];
  rejectedEncoders: RejectedEncoder[];
  gpus: GpuInfo[];
  limits: WorkerLimits;
  speedFps: number;
  activeJobs: { jobId: string; attempt: number }[];
  draining: boolean;
  /** Most renditions this worker encodes in one ladder job (proto Register.max_renditions); absent or 0 = none. */
  maxRenditions?: number;
}

export interface ResourceUsage {
  cpuPercent: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  load1: number;
  gpus: { index: number; utilizationPercent: number; encoderPercent: number; memoryUsedBytes: number; memoryTotalBytes: number }[];
}

export interface JobProgress {
  jobId: string;
  attempt: number;
  fps: number;
  speed: number;
  bitrateKbps: number;
  frames: number;
  bytesIn: number;
  bytesOut: number;
  outTimeUs: number;
}

/** The spec fields and their rules live in common/transcode-rules.ts, shared with the worker. */
export interface TranscodeSpec extends SpecFields {
  /** Failover splice: keyframe at the first frame at or after this PTS (coordinator/streams/splice-point.ts). */
  spliceKeyframePts?: number;
  /** Hot standby: keyframes exactly on the source's keyframes (proto keyframes_follow_source). */
  keyframesFollowSource?: boolean;
  /** A ladder job (proto TranscodeSpec.renditions): one output program per entry, in order. */
  renditions?: RenditionFields[];
}

/** What differs between a ladder job's renditions (proto Rendition). */
export interface RenditionFields {
  encoder: string;
  width: number;
  height: number;
  videoBitrateKbps: number;
  preset: string;
}

