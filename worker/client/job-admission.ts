// Pure decisions about jobs: whether to accept a StartJob, and how to report an
// ended one. Kept free of I/O so both are unit-tested directly.
import type { EncoderInfo, EncoderKind } from '../probe/capabilities';
import type { JobExit } from '../runner/job-process';
import { validateSpec, type TranscodeSpec } from '../runner/transcode-spec';
import { resolveSlotLimits } from '../../common/worker-contract';
import type { JobOutcome, Limits, RejectReason } from './domain';

export interface SlotUsage {
  total: number;
  gpu: number;
  cpu: number;
}

export type Admission = { accept: true; kind: EncoderKind } | { accept: false; reason: RejectReason; message: string };

/**
 * Checks run in this order: draining, an encoder this worker does not have (or whose
 * test encode failed), a malformed spec, then capacity. "copy" needs no encoder and
 * takes a CPU slot (it still costs a process and the I/O).
 */
export function decideAdmission(input: {
  draining: boolean;
  spec: TranscodeSpec;
  encoders: readonly EncoderInfo[];
  limits: Limits;
  usage: SlotUsage;
  /** Register.max_renditions: the most renditions one ladder job may have here (0: no ladder jobs). */
  maxRenditions?: number;
}): Admission {
  const { draining, spec, encoders, usage } = input;
  const renditions = spec.renditions ?? [];
  // The coordinator reads Limits the same way (both slot fields 0 = each up to max_jobs).
  const limits = resolveSlotLimits(input.limits);
  if (draining) return { accept: false, reason: 'draining', message: 'worker is draining and takes no new jobs' };
  // The encoder first: a worker without it cannot judge the encoder's options, and
  // "unavailable" is about this worker, while "invalid spec" blames the variant.
  let kind: EncoderKind = 'cpu';
  const names = renditions.length ? renditions.map((r) => r.encoder) : [spec.encoder];
  for (const [i, name] of names.entries()) {
    if (name === 'copy') continue;
    const enc = encoders.find((e) => e.name === name);
    if (!enc) return { accept: false, reason: 'encoder_unavailable', message: `encoder ${String(name).slice(0, 64)} is not available on this worker` };
    if (i > 0 && enc.kind !== kind) return { accept: false, reason: 'invalid_spec', message: `renditions[${i}].encoder: a ${enc.kind} encoder in a ladder whose renditions[0] is ${kind}` };
    kind = enc.kind;
  }
  if (renditions.length > 0 && renditions.length > (input.maxRenditions ?? 0)) {
    return { accept: false, reason: 'invalid_spec', message: `renditions: ${renditions.length} renditions, this worker encodes at most ${input.maxRenditions ?? 0} in one job` };
  }
  const invalid = validateSpec(spec);
  if (invalid) return { accept: false, reason: 'invalid_spec', message: invalid };
  // A ladder job takes one slot per rendition (proto TranscodeSpec.renditions).
  const slots = jobSlots(spec);
  if (usage.total + slots > limits.maxJobs) {
    return { accept: false, reason: 'at_capacity', message: `running ${usage.total} of max ${limits.maxJobs} jobs${slots > 1 ? `, this one takes ${slots}` : ''}` };
  }
  if (kind === 'gpu' && usage.gpu + slots > limits.maxGpuJobs) {
    return { accept: false, reason: 'at_capacity', message: `running ${usage.gpu} of max ${limits.maxGpuJobs} GPU jobs${slots > 1 ? `, this one takes ${slots}` : ''}` };
  }
  if (kind === 'cpu' && usage.cpu + slots > limits.maxCpuJobs) {
    return { accept: false, reason: 'at_capacity', message: `running ${usage.cpu} of max ${limits.maxCpuJobs} CPU jobs${slots > 1 ? `, this one takes ${slots}` : ''}` };
  }
  return { accept: true, kind };
}

/** Slots a job takes: one per rendition of a ladder job, else one. */
export function jobSlots(spec: TranscodeSpec): number {
  return Math.max(1, spec.renditions?.length ?? 0);
}

export interface StreamFailure {
  /** gRPC status code name, e.g. "CANCELLED", "UNAVAILABLE". */
  code: string;
  details: string;
}

/**
 * A cancel requested by the coordinator (or by this worker shutting down) wins; then
 * a clean FFmpeg exit is a completion even if the stream closed badly afterwards;
 * a job stream the coordinator cancelled is a cancellation; anything else failed.
 */
export function decideOutcome(input: {
  exit: JobExit;
  cancelReason?: string;
  streamFailure?: StreamFailure;
}): { outcome: JobOutcome; message: string; exitCode: number } {
  const { exit, cancelReason, streamFailure } = input;
  const exitCode = exit.code ?? -1;
  if (cancelReason !== undefined) return { outcome: 'cancelled', message: cancelReason, exitCode };
  if (exit.code === 0 && !exit.cancelled) return { outcome: 'completed', message: '', exitCode };
  if (streamFailure) {
    const message = `job stream ended: ${streamFailure.code} ${streamFailure.details}`.trim();
    return { outcome: streamFailure.code === 'CANCELLED' ? 'cancelled' : 'failed', message, exitCode };
  }
  return { outcome: 'failed', message: exit.message || `ffmpeg exited with code ${exitCode}`, exitCode };
}
