// Test helpers shared by the mpegts-* and shared-buffer-* tests: real FFmpeg clips in
// a temp dir, decoding checks with FFmpeg, and small packet utilities. Real encoder
// output is used on purpose: the relay's assumptions (RAI on keyframes, PSI layout)
// are FFmpeg's behaviour, not the standard's minimum.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TS_PACKET_SIZE } from '../../common/mpegts/constants.ts';

export interface ClipOptions {
  seconds?: number;
  /** Shifts the output timeline (the second half of a splice continues the first). */
  tsOffset?: number;
  /** GOP length in frames (one keyframe per GOP). */
  gop?: number;
}

export function makeTempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Encodes a small H.264 + AAC MPEG-TS clip with FFmpeg and returns its bytes. */
export async function makeClip(dir: string, name: string, options: ClipOptions = {}): Promise<Uint8Array> {
  const out = join(dir, name);
  const args = [
    'ffmpeg', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(options.seconds ?? 2),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(options.gop ?? 25), '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k',
  ];
  if (options.tsOffset !== undefined) args.push('-output_ts_offset', String(options.tsOffset));
  args.push('-f', 'mpegts', out);
  const proc = Bun.spawn(args, { stdout: 'ignore', stderr: 'pipe' });
  const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`ffmpeg failed (${code}): ${stderr}`);
  return new Uint8Array(await Bun.file(out).arrayBuffer());
}

/** Decodes TS bytes with FFmpeg; returns its error output ('' = clean) and the frame count. */
export async function decodeWithFfmpeg(bytes: Uint8Array): Promise<{ errors: string; videoFrames: number }> {
  const proc = Bun.spawn(
    ['ffmpeg', '-v', 'error', '-i', 'pipe:0', '-map', '0:v:0', '-f', 'framemd5', 'pipe:1'],
    { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' },
  );
  proc.stdin.write(bytes);
  await proc.stdin.end();
  const [code, stdout, stderr] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ]);
  if (code !== 0) return { errors: `exit ${code}: ${stderr}`, videoFrames: 0 };
  const videoFrames = stdout.split('\n').filter((line) => line.length > 0 && !line.startsWith('#')).length;
  return { errors: stderr.trim(), videoFrames };
}

/** Reads a stream to its end and joins the chunks. */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(part);
  return concat(parts);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Splits `bytes` into chunks of random sizes in [1, maxSize] (deterministic seed). */
export function randomChunks(bytes: Uint8Array, maxSize: number, seed = 1): Uint8Array[] {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000;
  };
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; ) {
    const size = 1 + Math.floor(next() * maxSize);
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

/** Offsets of every packet in an aligned buffer. */
export function packetOffsets(bytes: Uint8Array): number[] {
  const offsets: number[] = [];
  for (let o = 0; o + TS_PACKET_SIZE <= bytes.length; o += TS_PACKET_SIZE) offsets.push(o);
  return offsets;
}

/** Compares byte arrays without dumping megabytes on failure: returns the first mismatch or null. */
export function firstDifference(a: Uint8Array, b: Uint8Array): string | null {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return `byte ${i} (packet ${Math.floor(i / TS_PACKET_SIZE)}): ${a[i]} != ${b[i]}`;
  return a.length === b.length ? null : `length ${a.length} != ${b.length}`;
}
