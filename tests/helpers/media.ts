// Tiny real media for tests, made with FFmpeg, and ffprobe on what came back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function makeTempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `tvarr-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A 320x240 MPEG-TS clip with audio; GOP of 25 frames at 25 fps. */
export async function makeTestClip(path: string, seconds = 2, size = '320x240'): Promise<void> {
  const proc = Bun.spawn(
    [
      'ffmpeg', '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=25`,
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', String(seconds),
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '64k', '-f', 'mpegts', path,
    ],
    { stdout: 'ignore', stderr: 'pipe' },
  );
  const code = await proc.exited;
  if (code !== 0) throw new Error(`ffmpeg could not make the test clip: ${await new Response(proc.stderr).text()}`);
}

export interface ProbedStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
}

export interface ProbeResult {
  formatName: string;
  streams: ProbedStream[];
}

/** ffprobe `args` over `bytes` on its stdin; its stdout, or an error with its stderr. */
export async function ffprobePipe(args: string[], bytes: Uint8Array): Promise<string> {
  const proc = Bun.spawn(['ffprobe', '-v', 'error', ...args, '-i', 'pipe:0'], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' });
  proc.stdin.write(bytes);
  await proc.stdin.end();
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  if (code !== 0) throw new Error(`ffprobe failed: ${await new Response(proc.stderr).text()}`);
  return out;
}

export async function ffprobeBytes(bytes: Uint8Array): Promise<ProbeResult> {
  const out = await ffprobePipe(['-show_streams', '-show_format', '-of', 'json'], bytes);
  const parsed = JSON.parse(out) as { format: { format_name: string }; streams: ProbedStream[] };
  return { formatName: parsed.format.format_name, streams: parsed.streams };
}

/** Decodes every frame; returns FFmpeg's error output (empty = clean decode). */
export async function decodeErrors(bytes: Uint8Array): Promise<string> {
  const proc = Bun.spawn(['ffmpeg', '-v', 'error', '-i', 'pipe:0', '-f', 'null', '-'], { stdin: 'pipe', stdout: 'ignore', stderr: 'pipe' });
  proc.stdin.write(bytes);
  await proc.stdin.end();
  const [err] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  return err.trim();
}

/** Reads a streaming HTTP response until `bytes` have arrived or the body ends. */
export async function readBytes(body: ReadableStream<Uint8Array>, bytes: number): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (total < bytes) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
  }
  await reader.cancel().catch(() => {});
  return concat(chunks);
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/** Reads a live stream for a stretch of wall-clock time (what a viewer watching for N seconds gets). */
export async function readFor(body: ReadableStream<Uint8Array>, ms: number): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  const stopAt = Date.now() + ms;
  const timer = setTimeout(() => void reader.cancel().catch(() => {}), ms);
  try {
    while (Date.now() < stopAt) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
  return concat(chunks);
}
