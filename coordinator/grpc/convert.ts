// Protobuf <-> domain conversion, kept at the gRPC edge so generated shapes do not
// leak into the rest of the coordinator.
import type { Register__Output } from '../../proto/gen/tvarr/transcode/v1/Register';
import type { ResourceUsage__Output } from '../../proto/gen/tvarr/transcode/v1/ResourceUsage';
import type { JobProgress__Output } from '../../proto/gen/tvarr/transcode/v1/JobProgress';
import type { TranscodeSpec as ProtoSpec } from '../../proto/gen/tvarr/transcode/v1/TranscodeSpec';
import type { JobProgress, ResourceUsage, TranscodeSpec, WorkerRegistration } from '../domain';
import { AppError } from '../errors';
import {
  CLIP_LEN,
  clipText,
  MAX_ENCODERS,
  MAX_GPUS,
  MAX_JOB_SLOTS,
  MAX_LADDER_RENDITIONS,
  MAX_LEN,
  MAX_REJECTED_ENCODERS,
  MAX_REPORTED_JOBS,
  MAX_SPEED_FPS,
  resolveSlotLimits,
} from '../../common/worker-contract';

/**
 * Validates a Register message against the bounds in common/worker-contract.ts (stated in
 * proto/transcode.proto) and converts it. Every refusal is INVALID_ARGUMENT naming the
 * field, so a worker written from the proto alone learns exactly what to fix.
 */
export function registrationFromProto(msg: Register__Output, workerId: string, address: string): WorkerRegistration {
  if (msg.worker_id !== workerId) {
    throw new AppError('permission_denied', 'register.worker_id does not match the x-worker-id metadata');
  }
  const limits = msg.limits;
  if (!limits) throw invalid('register.limits', 'is required');
  checkSlots('register.limits.max_jobs', limits.max_jobs, 1);
  checkSlots('register.limits.max_gpu_jobs', limits.max_gpu_jobs, 0);
  checkSlots('register.limits.max_cpu_jobs', limits.max_cpu_jobs, 0);
  if (!Number.isFinite(msg.speed_fps) || msg.speed_fps < 0 || msg.speed_fps > MAX_SPEED_FPS) {
    throw invalid('register.speed_fps', `must be a finite number 0-${MAX_SPEED_FPS} (got ${msg.speed_fps})`);
  }
  checkCount('register.encoders', msg.encoders.length, MAX_ENCODERS);
  checkCount('register.rejected_encoders', msg.rejected_encoders.length, MAX_REJECTED_ENCODERS);
  checkCount('register.gpus', msg.gpus.length, MAX_GPUS);
  checkCount('register.active_jobs', msg.active_jobs.length, MAX_REPORTED_JOBS);
  const seen = new Set<string>();
  const encoders = msg.encoders.flatMap((e, i) => {
    const at = `register.encoders[${i}]`;
    const name = checkToken(`${at}.name`, e.name, MAX_LEN.encoderName);
    if (name === 'copy') return []; // implied: every worker can remux (worker-store adds it)
    if (seen.has(name)) throw invalid(`${at}.name`, `encoder ${name} is listed twice`);
    seen.add(name);
    return {
      name,
      codec: checkToken(`${at}.codec`, e.codec, MAX_LEN.codec),
      kind: e.kind === 'ENCODER_KIND_GPU' ? ('gpu' as const) : ('cpu' as const),
      family: e.family === '' ? 'software' : checkToken(`${at}.family`, e.family, MAX_LEN.family),
    };
  });
  const slots = resolveSlotLimits({ maxJobs: limits.max_jobs, maxGpuJobs: limits.max_gpu_jobs, maxCpuJobs: limits.max_cpu_jobs });
  return {
    id: workerId,
    name: checkLength('register.name', msg.name, MAX_LEN.name) || workerId,
    version: checkLength('register.version', msg.version, MAX_LEN.version),
    hostname: checkLength('register.hostname', msg.hostname, MAX_LEN.hostname),
    address,
    ffmpegVersion: checkLength('register.ffmpeg_version', msg.ffmpeg_version, MAX_LEN.ffmpegVersion),
    encoders,
    rejectedEncoders: msg.rejected_encoders.map((e, i) => ({
      name: checkLength(`register.rejected_encoders[${i}].name`, e.name, MAX_LEN.encoderName),
      codec: checkLength(`register.rejected_encoders[${i}].codec`, e.codec, MAX_LEN.codec),
      reason: clipText(e.reason, CLIP_LEN.rejectedEncoderReason),
    })),
    gpus: msg.gpus.map((g, i) => ({
      vendor: checkLength(`register.gpus[${i}].vendor`, g.vendor, MAX_LEN.gpuVendor),
      name: checkLength(`register.gpus[${i}].name`, g.name, MAX_LEN.gpuName),
      device: checkLength(`register.gpus[${i}].device`, g.device, MAX_LEN.gpuDevice),
      memoryBytes: Number(g.memory_bytes),
    })),
    limits: slots,
    speedFps: msg.speed_fps,
    activeJobs: msg.active_jobs.map((j, i) => ({ jobId: checkLength(`register.active_jobs[${i}].job_id`, j.job_id, MAX_LEN.jobId), attempt: j.attempt })),
    draining: msg.draining,
    maxRenditions: checkRenditions(msg.max_renditions),
  };
}

/** Register.max_renditions: 0-8 (0 or 1: no ladder jobs). */
function checkRenditions(n: number): number {
  if (n > MAX_LADDER_RENDITIONS) throw invalid('register.max_renditions', `must be 0-${MAX_LADDER_RENDITIONS} (got ${n})`);
  return n >= 2 ? n : 0;
}

function invalid(field: string, why: string): AppError {
  return new AppError('invalid_request', `${field} ${why}`, { field });
}

function checkSlots(field: string, n: number, min: number): void {
  if (n < min || n > MAX_JOB_SLOTS) throw invalid(field, `must be ${min}-${MAX_JOB_SLOTS} (got ${n})`);
}

function checkCount(field: string, n: number, max: number): void {
  if (n > max) throw invalid(field, `has ${n} entries; at most ${max} are allowed`);
}

function checkLength(field: string, s: string, max: number): string {
  if (s.length > max) throw invalid(field, `is ${s.length} characters; at most ${max} are allowed`);
  return s;
}

// FFmpeg encoder, codec and family names: letters, digits, '_', '-', '.'.
function checkToken(field: string, s: string, max: number): string {
  checkLength(field, s, max);
  if (!/^[A-Za-z0-9_.-]+$/.test(s)) throw invalid(field, `must be 1-${max} characters of [A-Za-z0-9_.-] (got ${JSON.stringify(s.slice(0, 40))})`);
  return s;
}

/** Heartbeat.jobs beyond this many entries is a broken or hostile peer. */
export function checkHeartbeatJobs(n: number): void {
  checkCount('heartbeat.jobs', n, MAX_REPORTED_JOBS);
}

export function usageFromProto(u: ResourceUsage__Output | null): ResourceUsage | undefined {
  if (!u) return undefined;
  return {
    cpuPercent: u.cpu_percent,
    memoryUsedBytes: u.memory_used_bytes,
    memoryTotalBytes: u.memory_total_bytes,
    load1: u.load1,
    gpus: u.gpus.slice(0, MAX_GPUS).map((g) => ({
      index: g.index,
      utilizationPercent: g.utilization_percent,
      encoderPercent: g.encoder_percent,
      memoryUsedBytes: g.memory_used_bytes,
      memoryTotalBytes: g.memory_total_bytes,
    })),
  };
}

export function progressFromProto(p: JobProgress__Output): JobProgress {
  return {
    jobId: p.job_id,
    attempt: p.attempt,
    fps: p.fps,
    speed: p.speed,
    bitrateKbps: p.bitrate_kbps,
    frames: p.frames,
    bytesIn: p.bytes_in,
    bytesOut: p.bytes_out,
    outTimeUs: p.out_time_us,
  };
}

export function specToProto(spec: TranscodeSpec): ProtoSpec {
  return {
    encoder: spec.encoder,
    width: spec.width,
    height: spec.height,
    video_bitrate_kbps: spec.videoBitrateKbps,
    audio_codec: spec.audioCodec,
    audio_bitrate_kbps: spec.audioBitrateKbps,
    gop_frames: spec.gopFrames,
    preset: spec.preset,
    splice_keyframe_pts: spec.spliceKeyframePts ?? 0,
    keyframes_follow_source: spec.keyframesFollowSource ?? false,
    renditions: (spec.renditions ?? []).map((r) => ({
      encoder: r.encoder,
      width: r.width,
      height: r.height,
      video_bitrate_kbps: r.videoBitrateKbps,
      preset: r.preset,
    })),
  };
}
