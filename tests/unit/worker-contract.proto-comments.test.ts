// The proto's comments are the worker contract (a worker written from them alone must
// work), and common/worker-contract.ts holds the same numbers for the code. Each number
// is checked against the comment beside its field, so changing one without the other fails.
import { expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CLIP_LEN, CONTROL_BURST, CONTROL_RATE_PER_S, MAX_ENCODERS, MAX_GPUS, MAX_JOB_SLOTS, MAX_LEN, MAX_REJECTED_ENCODERS, MAX_REPORTED_JOBS, MAX_SPEED_FPS,
} from '../../common/worker-contract';

const proto = readFileSync(join(import.meta.dir, '../../proto/transcode.proto'), 'utf8');

/** The body of `message name { ... }` (no nested messages in this file). */
function message(name: string): string {
  const m = new RegExp(`message ${name} \\{([^}]*)\\}`).exec(proto);
  if (!m) throw new Error(`message ${name} not in the proto`);
  return m[1]!;
}

/** The number the comment on `field`'s line gives after `words` (e.g. "at most"). */
function noted(body: string, field: string, words: string): number {
  const line = body.split('\n').find((l) => new RegExp(`\\b${field} = \\d+;`).test(l));
  if (!line) throw new Error(`field ${field} not found`);
  const m = new RegExp(`${words} (\\d+)`).exec(line);
  if (!m) throw new Error(`no "${words} N" on the line of ${field}: ${line.trim()}`);
  return Number(m[1]);
}

test('string lengths and list sizes in Register, Encoder, RejectedEncoder and Gpu', () => {
  const register = message('Register');
  expect(noted(register, 'name', 'at most')).toBe(MAX_LEN.name);
  expect(noted(register, 'version', 'at most')).toBe(MAX_LEN.version);
  expect(noted(register, 'hostname', 'at most')).toBe(MAX_LEN.hostname);
  expect(noted(register, 'ffmpeg_version', 'at most')).toBe(MAX_LEN.ffmpegVersion);
  expect(noted(register, 'encoders', 'at most')).toBe(MAX_ENCODERS);
  expect(noted(register, 'rejected_encoders', 'at most')).toBe(MAX_REJECTED_ENCODERS);
  expect(noted(register, 'gpus', 'at most')).toBe(MAX_GPUS);
  const rejected = message('RejectedEncoder');
  expect(noted(rejected, 'name', 'at most')).toBe(MAX_LEN.encoderName);
  expect(noted(rejected, 'codec', 'at most')).toBe(MAX_LEN.codec);
  expect(noted(rejected, 'reason', 'clipped to')).toBe(CLIP_LEN.rejectedEncoderReason);
  const gpu = message('Gpu');
  expect(noted(gpu, 'vendor', 'at most')).toBe(MAX_LEN.gpuVendor);
  expect(noted(gpu, 'name', 'at most')).toBe(MAX_LEN.gpuName);
  expect(noted(gpu, 'device', 'at most')).toBe(MAX_LEN.gpuDevice);
  expect(noted(message('DrainStarted'), 'reason', 'clipped to')).toBe(CLIP_LEN.drainReason);
  const encoder = message('Encoder');
  expect(encoder).toContain(`1-${MAX_LEN.encoderName} characters of\n  // [A-Za-z0-9_.-], unique in the list.`);
  expect(encoder).toContain(`1-${MAX_LEN.codec} characters of [A-Za-z0-9_.-]`);
  expect(encoder).toContain(`At most ${MAX_LEN.family} characters of [A-Za-z0-9_.-].`);
});

test('ranges and rates stated in the comments', () => {
  expect(proto).toContain(`max_jobs: total, 1-${MAX_JOB_SLOTS}.`);
  expect(proto).toContain(`speed_fps finite, 0-${MAX_SPEED_FPS};`);
  expect(proto).toContain(`at most ${MAX_ENCODERS} encoders, ${MAX_REJECTED_ENCODERS}\n//   rejected_encoders, ${MAX_GPUS} gpus, ${MAX_REPORTED_JOBS} active_jobs`);
  expect(proto).toContain(`(at most ${MAX_REPORTED_JOBS}, job_id at most ${MAX_LEN.jobId} characters)`);
  expect(proto).toContain(`not 1-${MAX_LEN.workerId} characters`);
  expect(proto).toContain(`at most ${CONTROL_BURST} Control messages at once and ${CONTROL_RATE_PER_S}/s sustained`);
  expect(proto).toContain(`More than ${MAX_REPORTED_JOBS} \`jobs\`: INVALID_ARGUMENT.`);
  expect(proto).toContain(`clipped to ${CLIP_LEN.jobRejectedMessage} characters`);
  expect(proto).toContain(`clipped to ${CLIP_LEN.jobEndedMessage} characters`);
});
