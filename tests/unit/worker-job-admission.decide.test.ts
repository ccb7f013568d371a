import { expect, test } from 'bun:test';
import { decideAdmission, decideOutcome } from '../../worker/client/job-admission';
import { backoffDelayMs } from '../../worker/client/backoff';
import type { EncoderInfo } from '../../worker/probe/capabilities';
import type { TranscodeSpec } from '../../worker/runner/transcode-spec';

const encoders: EncoderInfo[] = [
  { name: 'libx264', codec: 'h264', family: 'software', kind: 'cpu' },
  { name: 'h264_nvenc', codec: 'h264', family: 'nvenc', kind: 'gpu' },
];
const spec: TranscodeSpec = { encoder: 'libx264', width: 640, height: 360, videoBitrateKbps: 0, audioCodec: 'aac', audioBitrateKbps: 0, gopFrames: 0, preset: '' };
const limits = { maxJobs: 3, maxGpuJobs: 2, maxCpuJobs: 1 };
const idle = { total: 0, gpu: 0, cpu: 0 };

test('accepts and classifies by encoder kind; copy takes a CPU slot', () => {
  expect(decideAdmission({ draining: false, spec, encoders, limits, usage: idle })).toEqual({ accept: true, kind: 'cpu' });
  expect(decideAdmission({ draining: false, spec: { ...spec, encoder: 'h264_nvenc' }, encoders, limits, usage: idle })).toEqual({ accept: true, kind: 'gpu' });
  expect(decideAdmission({ draining: false, spec: { ...spec, encoder: 'copy', width: 0, height: 0 }, encoders, limits, usage: idle })).toEqual({ accept: true, kind: 'cpu' });
});

test('rejects with the right reason', () => {
  const reason = (o: Partial<Parameters<typeof decideAdmission>[0]>) => {
    const d = decideAdmission({ draining: false, spec, encoders, limits, usage: idle, ...o });
    return d.accept ? 'accepted' : d.reason;
  };
  expect(reason({ draining: true })).toBe('draining');
  expect(reason({ spec: { ...spec, encoder: 'hevc_qsv' } })).toBe('encoder_unavailable');
  expect(reason({ spec: { ...spec, audioCodec: 'opus' as 'aac' } })).toBe('invalid_spec');
  expect(reason({ usage: { total: 3, gpu: 2, cpu: 1 }, spec: { ...spec, encoder: 'h264_nvenc' } })).toBe('at_capacity');
  expect(reason({ usage: { total: 1, gpu: 0, cpu: 1 } })).toBe('at_capacity');
  expect(reason({ usage: { total: 2, gpu: 2, cpu: 0 }, spec: { ...spec, encoder: 'h264_nvenc' } })).toBe('at_capacity');
  expect(reason({ usage: { total: 2, gpu: 2, cpu: 0 } })).toBe('accepted');
});

test('outcome: cancel wins, clean exit completes, coordinator-cancelled stream is cancelled, else failed', () => {
  const ok = { code: 0, signal: null, message: '', cancelled: false };
  const killed = { code: null, signal: 'SIGTERM', message: 'ffmpeg killed by SIGTERM', cancelled: true };
  expect(decideOutcome({ exit: killed, cancelReason: 'moved' })).toEqual({ outcome: 'cancelled', message: 'moved', exitCode: -1 });
  expect(decideOutcome({ exit: ok, streamFailure: { code: 'UNAVAILABLE', details: 'x' } }).outcome).toBe('completed');
  expect(decideOutcome({ exit: killed, streamFailure: { code: 'CANCELLED', details: 'gone' } }).outcome).toBe('cancelled');
  expect(decideOutcome({ exit: killed, streamFailure: { code: 'UNAVAILABLE', details: 'gone' } })).toEqual({ outcome: 'failed', message: 'job stream ended: UNAVAILABLE gone', exitCode: -1 });
  expect(decideOutcome({ exit: { code: 1, signal: null, message: 'Invalid data found', cancelled: false } })).toEqual({ outcome: 'failed', message: 'Invalid data found', exitCode: 1 });
});

test('backoff grows exponentially with jitter and caps at max', () => {
  expect(backoffDelayMs(0, 250, 10_000, () => 0)).toBe(125);
  expect(backoffDelayMs(0, 250, 10_000, () => 1)).toBe(250);
  expect(backoffDelayMs(3, 250, 10_000, () => 1)).toBe(2000);
  expect(backoffDelayMs(20, 250, 10_000, () => 1)).toBe(10_000);
  expect(backoffDelayMs(20, 250, 10_000, () => 0)).toBe(5000);
});
