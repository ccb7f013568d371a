// Protobuf <-> domain conversion, kept at the gRPC edge so generated shapes do not
// leak into the rest of the coordinator.
import type { Register__Output } from '../../proto/gen/tvarr/transcode/v1/Register';
import type { ResourceUsage__Output } from '../../proto/gen/tvarr/transcode/v1/ResourceUsage';
import type { JobProgress__Output } from '../../proto/gen/tvarr/transcode/v1/JobProgress';
import type { TranscodeSpec as ProtoSpec } from '../../proto/gen/tvarr/transcode/v1/TranscodeSpec';
import type { JobProgress, ResourceUsage, TranscodeSpec, WorkerRegistration } from '../domain';
import { AppError } from '../errors';

const MAX_ENCODERS = 512;
const clip = (s: string, n = 256) => (s.length > n ? s.slice(0, n) : s);

export function registrationFromProto(msg: Register__Output, workerId: string, address: string): WorkerRegistration {
  if (msg.worker_id !== workerId) {
    throw new AppError('permission_denied', 'register.worker_id does not match the x-worker-id metadata');
  }
  const limits = msg.limits;
  if (!limits || limits.max_jobs < 1) throw new AppError('invalid_request', 'register.limits.max_jobs must be at least 1');
  if (msg.encoders.length > MAX_ENCODERS) throw new AppError('invalid_request', `at most ${MAX_ENCODERS} encoders`);
  return {
    id: workerId,
    name: clip(msg.name || workerId, 128),
    version: clip(msg.version, 64),
    hostname: clip(msg.hostname, 255),
    address,
    ffmpegVersion: clip(msg.ffmpeg_version, 128),
    encoders: msg.encoders.map((e) => ({
      name: clip(e.name, 64),
      codec: clip(e.codec, 32),
      kind: e.kind === 'ENCODER_KIND_GPU' ? 'gpu' : 'cpu',
      family: clip(e.family || 'software', 32),
    })),
    rejectedEncoders: msg.rejected_encoders.slice(0, MAX_ENCODERS).map((e) => ({
      name: clip(e.name, 64),
      codec: clip(e.codec, 32),
      reason: clip(e.reason, 512),
    })),
    gpus: msg.gpus.slice(0, 64).map((g) => ({ vendor: clip(g.vendor, 32), name: clip(g.name), device: clip(g.device), memoryBytes: g.memory_bytes })),
    limits: { maxJobs: limits.max_jobs, maxGpuJobs: limits.max_gpu_jobs, maxCpuJobs: limits.max_cpu_jobs },
    speedFps: Number.isFinite(msg.speed_fps) ? msg.speed_fps : 0,
    activeJobs: msg.active_jobs.map((j) => ({ jobId: j.job_id, attempt: j.attempt })),
    draining: msg.draining,
  };
}

export function usageFromProto(u: ResourceUsage__Output | null): ResourceUsage | undefined {
  if (!u) return undefined;
  return {
    cpuPercent: u.cpu_percent,
    memoryUsedBytes: u.memory_used_bytes,
    memoryTotalBytes: u.memory_total_bytes,
    load1: u.load1,
    gpus: u.gpus.slice(0, 64).map((g) => ({
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
  };
}
