// Numbers of the worker contract that both sides need: the bounds the coordinator
// enforces on a registration and on worker reports, and the rule for slot limits left
// at 0. proto/transcode.proto states each of them beside the message it applies to;
// change both together.

/** Largest max_jobs / max_gpu_jobs / max_cpu_jobs a worker may claim. */
export const MAX_JOB_SLOTS = 256;
/** Most renditions of one ladder job (proto Register.max_renditions, TranscodeSpec.renditions). */
export const MAX_LADDER_RENDITIONS = 8;
/** Largest speed_fps (a reference encode far beyond any real machine). */
export const MAX_SPEED_FPS = 1_000_000;
export const MAX_ENCODERS = 128;
export const MAX_REJECTED_ENCODERS = 128;
export const MAX_GPUS = 16;
/** Jobs a worker may report as still running in Register.active_jobs or one Heartbeat. */
export const MAX_REPORTED_JOBS = MAX_JOB_SLOTS;

/** Identifier-like strings: longer ones are refused (INVALID_ARGUMENT naming the field). */
export const MAX_LEN = {
  workerId: 128,
  name: 128,
  version: 64,
  hostname: 255,
  ffmpegVersion: 256,
  encoderName: 64,
  codec: 32,
  family: 32,
  gpuVendor: 32,
  gpuName: 256,
  gpuDevice: 256,
  jobId: 128,
} as const;

/** Free-text diagnostics: longer ones are clipped before they are stored or logged. */
export const CLIP_LEN = {
  rejectedEncoderReason: 512,
  jobRejectedMessage: 1024,
  jobEndedMessage: 4096,
  drainReason: 256,
} as const;

/**
 * Control messages a worker may send: a burst of CONTROL_BURST, refilled at
 * CONTROL_RATE_PER_S. A worker that sends more is closed with RESOURCE_EXHAUSTED. A real
 * worker sends one heartbeat per interval and one report per job event.
 */
export const CONTROL_BURST = 1000;
export const CONTROL_RATE_PER_S = 200;

export interface SlotLimits {
  maxJobs: number;
  maxGpuJobs: number;
  maxCpuJobs: number;
}

/**
 * What 0 means in Limits. max_jobs 0 is refused. Both slot fields 0 (left at the proto3
 * default) means "no separate class limit": each class may use up to max_jobs. Otherwise
 * a slot field of 0 disables that class (a GPU-only or CPU-only worker).
 */
export function resolveSlotLimits(l: SlotLimits): SlotLimits {
  if (l.maxGpuJobs === 0 && l.maxCpuJobs === 0) return { maxJobs: l.maxJobs, maxGpuJobs: l.maxJobs, maxCpuJobs: l.maxJobs };
  return { ...l };
}

/** Clips a peer's free text to at most n characters, marking the cut with '…'. */
export function clipText(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
