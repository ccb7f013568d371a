// The protobuf edge: converts generated message shapes to domain types and back.
// Nothing outside worker/client/ sees protobuf types.
import type { CoordinatorCommand__Output } from '../../proto/gen/tvarr/transcode/v1/CoordinatorCommand';
import type { JobProgress } from '../../proto/gen/tvarr/transcode/v1/JobProgress';
import type { TranscodeSpec__Output } from '../../proto/gen/tvarr/transcode/v1/TranscodeSpec';
import type { WorkerEvent } from '../../proto/gen/tvarr/transcode/v1/WorkerEvent';
import type { AudioCodec, TranscodeSpec } from '../runner/transcode-spec';
import type { IncomingCommand, JobOutcome, JobProgressInfo, JobRef, OutgoingEvent, RejectReason } from './domain';

const REJECT_REASONS: Record<RejectReason, string> = {
  at_capacity: 'REJECT_REASON_AT_CAPACITY',
  encoder_unavailable: 'REJECT_REASON_ENCODER_UNAVAILABLE',
  draining: 'REJECT_REASON_DRAINING',
  invalid_spec: 'REJECT_REASON_INVALID_SPEC',
};

const OUTCOMES: Record<JobOutcome, string> = {
  completed: 'JOB_OUTCOME_COMPLETED',
  failed: 'JOB_OUTCOME_FAILED',
  cancelled: 'JOB_OUTCOME_CANCELLED',
};

function ref(m: { job_id?: string; attempt?: number } | null | undefined): JobRef {
  return { jobId: m?.job_id ?? '', attempt: m?.attempt ?? 0 };
}

export function toProtoJobRef(r: JobRef): { job_id: string; attempt: number } {
  return { job_id: r.jobId, attempt: r.attempt };
}

export function specFromProto(s: TranscodeSpec__Output | null | undefined): TranscodeSpec {
  return {
    encoder: s?.encoder ?? '',
    width: s?.width ?? 0,
    height: s?.height ?? 0,
    videoBitrateKbps: s?.video_bitrate_kbps ?? 0,
    // Validated later (validateSpec); an unknown value is rejected as INVALID_SPEC.
    audioCodec: (s?.audio_codec || 'none') as AudioCodec,
    audioBitrateKbps: s?.audio_bitrate_kbps ?? 0,
    gopFrames: s?.gop_frames ?? 0,
    preset: s?.preset ?? '',
    spliceKeyframePts: Number(s?.splice_keyframe_pts ?? 0),
    keyframesFollowSource: s?.keyframes_follow_source ?? false,
    // At most the proto's bound are read; validateSpec refuses more than MAX_RENDITIONS anyway.
    renditions: (s?.renditions ?? []).slice(0, 16).map((r) => ({
      encoder: r.encoder ?? '',
      width: r.width ?? 0,
      height: r.height ?? 0,
      videoBitrateKbps: r.video_bitrate_kbps ?? 0,
      preset: r.preset ?? '',
    })),
  };
}

export function commandFromProto(msg: CoordinatorCommand__Output): IncomingCommand {
  switch (msg.command) {
    case 'registered':
      return {
        type: 'registered',
        workerId: msg.registered?.worker_id ?? '',
        heartbeatIntervalMs: msg.registered?.heartbeat_interval_ms ?? 0,
        cancelJobs: (msg.registered?.cancel_jobs ?? []).map(ref),
      };
    case 'start_job':
      return { type: 'start_job', job: ref(msg.start_job), spec: specFromProto(msg.start_job?.spec), streamLanes: msg.start_job?.stream_lanes ?? 0, jobStreamAddress: msg.start_job?.job_stream_address ?? '' };
    case 'cancel_job':
      return { type: 'cancel_job', job: ref(msg.cancel_job), reason: msg.cancel_job?.reason ?? '' };
    case 'drain':
      return { type: 'drain', reason: msg.drain?.reason ?? '' };
    case 'resume':
      return { type: 'resume' };
    case 'ping':
      return { type: 'ping', nonce: msg.ping?.nonce ?? 0, heartbeatIntervalMs: msg.ping?.heartbeat_interval_ms ?? 0 };
    default:
      return { type: 'unknown' };
  }
}

export function progressToProto(p: JobProgressInfo): JobProgress {
  return {
    ...toProtoJobRef(p),
    fps: p.fps,
    speed: p.speed,
    bitrate_kbps: p.bitrateKbps,
    frames: p.frames,
    bytes_in: p.bytesIn,
    bytes_out: p.bytesOut,
    out_time_us: p.outTimeUs,
  };
}

export function eventToProto(e: OutgoingEvent): WorkerEvent {
  switch (e.type) {
    case 'register': {
      const r = e.registration;
      const c = r.capabilities;
      return {
        register: {
          worker_id: r.workerId,
          name: r.name,
          version: r.version,
          hostname: r.hostname,
          ffmpeg_version: c.ffmpegVersion,
          encoders: c.encoders.map((x) => ({
            name: x.name,
            codec: x.codec,
            family: x.family,
            kind: x.kind === 'gpu' ? 'ENCODER_KIND_GPU' : 'ENCODER_KIND_CPU',
          })),
          rejected_encoders: c.rejectedEncoders.map((x) => ({ name: x.name, codec: x.codec, reason: x.reason })),
          gpus: c.gpus.map((g) => ({ vendor: g.vendor, name: g.name, device: g.device, memory_bytes: g.memoryBytes })),
          limits: { max_jobs: r.limits.maxJobs, max_gpu_jobs: r.limits.maxGpuJobs, max_cpu_jobs: r.limits.maxCpuJobs },
          speed_fps: c.speedFps,
          active_jobs: r.activeJobs.map(toProtoJobRef),
          draining: r.draining,
          max_renditions: r.maxRenditions ?? 0,
        },
      };
    }
    case 'heartbeat':
      return {
        heartbeat: {
          usage: {
            cpu_percent: e.usage.cpuPercent,
            memory_used_bytes: e.usage.memoryUsedBytes,
            memory_total_bytes: e.usage.memoryTotalBytes,
            load1: e.usage.load1,
            gpus: e.usage.gpus.map((g) => ({
              index: g.index,
              utilization_percent: g.utilizationPercent,
              encoder_percent: g.encoderPercent,
              memory_used_bytes: g.memoryUsedBytes,
              memory_total_bytes: g.memoryTotalBytes,
            })),
          },
          jobs: e.jobs.map(progressToProto),
        },
      };
    case 'job_rejected':
      return {
        job_rejected: {
          ...toProtoJobRef(e.job),
          reason: REJECT_REASONS[e.reason] as 'REJECT_REASON_AT_CAPACITY',
          message: e.message,
        },
      };
    case 'job_ended':
      return {
        job_ended: {
          ...toProtoJobRef(e.ended),
          outcome: OUTCOMES[e.ended.outcome] as 'JOB_OUTCOME_COMPLETED',
          message: e.ended.message.slice(0, 2000),
          exit_code: e.ended.exitCode,
        },
      };
    case 'drain_started':
      return { drain_started: { reason: e.reason } };
    case 'pong':
      return { pong: { nonce: e.nonce } };
    default: {
      const never: never = e;
      throw new Error(`unknown event ${JSON.stringify(never)}`);
    }
  }
}
