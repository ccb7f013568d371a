// Probes this real machine: FFmpeg lists h264_nvenc here but there is no NVIDIA GPU,
// so the test encode must reject it with FFmpeg's own reason.
import { expect, test } from 'bun:test';
import { probeCapabilities } from '../../worker/probe/capabilities';

test('probe accepts libx264 and rejects h264_nvenc with a reason', async () => {
  const caps = await probeCapabilities({ ffmpegPath: 'ffmpeg', probeTimeoutMs: 10_000 });
  expect(caps.ffmpegVersion).toMatch(/^\d+\.\d+/);
  expect(caps.encoders).toContainEqual({ name: 'libx264', codec: 'h264', family: 'software', kind: 'cpu' });
  const nvenc = caps.rejectedEncoders.find((e) => e.name === 'h264_nvenc');
  expect(nvenc).toBeDefined();
  expect(nvenc?.reason.length).toBeGreaterThan(0);
  expect(nvenc?.reason).not.toContain('\n');
  expect(caps.encoders.some((e) => e.name === 'h264_nvenc')).toBe(false);
  expect(caps.speedFps).toBeGreaterThan(0);
}, 60_000);
