// Test-encodes each candidate encoder on a tiny synthetic clip. FFmpeg lists nvenc,
// vaapi and qsv encoders on machines without the hardware, so only an encoder that
// actually produces frames here is offered to the coordinator.
import type { EncoderCandidate } from './encoder-list';
import { mapWithConcurrency, runCommand } from './run-command';

export interface TestEncodeResult {
  candidate: EncoderCandidate;
  ok: boolean;
  /** One line, taken from FFmpeg's stderr, when !ok. */
  reason?: string;
}

export interface TestEncodeOptions {
  ffmpegPath: string;
  timeoutMs: number;
  concurrency: number;
  /** Render node for vaapi encoders. */
  vaapiDevice?: string;
}

export function testEncodeArgs(c: EncoderCandidate, o: Pick<TestEncodeOptions, 'ffmpegPath' | 'vaapiDevice'>): string[] {
  const pre = c.family === 'vaapi' ? ['-vaapi_device', o.vaapiDevice ?? '/dev/dri/renderD128'] : [];
  const filter = c.family === 'vaapi' ? ['-vf', 'format=nv12,hwupload'] : [];
  return [
    o.ffmpegPath, '-hide_banner', '-nostdin', '-loglevel', 'error', ...pre,
    '-f', 'lavfi', '-i', 'testsrc2=size=256x144:rate=25',
    '-frames:v', '5', ...filter, '-c:v', c.name, '-f', 'null', '-',
  ];
}

// FFmpeg's most specific complaint is the one from the encoder itself
// ("[h264_nvenc @ 0x...] Cannot load libcuda.so.1"); the generic
// "Error initializing output stream" line follows it and says nothing new.
export function failureReason(stderr: string, encoder: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  const tagged = lines.find((l) => l.startsWith(`[${encoder} @`));
  const pick = tagged ?? lines.find((l) => !/^Svt\[/.test(l)) ?? '';
  const text = pick.replace(/^\[[^\]]+ @ 0x[0-9a-f]+\]\s*/, '').trim();
  return (text || 'test encode failed with no error output').slice(0, 300);
}

export async function testEncode(c: EncoderCandidate, o: TestEncodeOptions): Promise<TestEncodeResult> {
  const r = await runCommand(testEncodeArgs(c, o), o.timeoutMs);
  if (r.spawnError) return { candidate: c, ok: false, reason: `cannot run ffmpeg: ${r.spawnError}` };
  if (r.timedOut) return { candidate: c, ok: false, reason: `test encode timed out after ${o.timeoutMs} ms` };
  if (r.code === 0) return { candidate: c, ok: true };
  return { candidate: c, ok: false, reason: failureReason(r.stderr, c.name) };
}

export function testEncodeAll(candidates: readonly EncoderCandidate[], o: TestEncodeOptions): Promise<TestEncodeResult[]> {
  return mapWithConcurrency(candidates, o.concurrency, (c) => testEncode(c, o));
}
