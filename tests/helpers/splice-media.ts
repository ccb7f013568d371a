// Helpers of the splice tests that run the worker's real FFmpeg command line on a recorded
// source: run FFmpeg on bytes, index a stream's keyframes, and cut an encoder's output
// where its worker "died".
import { PacketKind, ProgramTracker } from '../../common/mpegts';
import { pesPts } from '../../coordinator/streams/splice-point';

/** FFmpeg with `args`, `input` on stdin (if any); resolves with its stdout, throws on failure. */
export async function ffmpegBytes(args: string[], input?: Uint8Array): Promise<Uint8Array> {
  const proc = Bun.spawn(['ffmpeg', ...args], { stdin: input ? 'pipe' : 'ignore', stdout: 'pipe', stderr: 'pipe' });
  if (input && proc.stdin) {
    proc.stdin.write(input);
    await proc.stdin.end();
  }
  const out = new Uint8Array(await new Response(proc.stdout).arrayBuffer());
  const code = await proc.exited;
  if (code !== 0) throw new Error(`ffmpeg exited ${code}: ${await new Response(proc.stderr).text()}`);
  return out;
}

/** Byte offsets of a stream's video keyframes with their PTS, and its first PAT and PMT. */
export function keyframeIndex(bytes: Uint8Array) {
  const tracker = new ProgramTracker();
  const keyframes: { off: number; pts: number }[] = [];
  let pat: Uint8Array | null = null;
  let pmt: Uint8Array | null = null;
  for (let off = 0; off + 188 <= bytes.length; off += 188) {
    const kind = tracker.inspect(bytes, off);
    if (kind === PacketKind.Pat) pat ??= bytes.slice(off, off + 188);
    else if (kind === PacketKind.Pmt) pmt ??= bytes.slice(off, off + 188);
    else if (kind === PacketKind.Keyframe) keyframes.push({ off, pts: pesPts(bytes, off) });
  }
  return { keyframes, pat: pat!, pmt: pmt! };
}

/** An encoder's output cut just before its first video PES at or after `pts` (whole PES units). */
export function cutBeforeVideoPts(out: Uint8Array, pts: number): Uint8Array {
  const tracker = new ProgramTracker();
  for (let off = 0; off + 188 <= out.length; off += 188) {
    tracker.inspect(out, off);
    const pid = ((out[off + 1]! & 0x1f) << 8) | out[off + 2]!;
    if (pid === tracker.videoPid && pesPts(out, off) >= pts) return out.subarray(0, off);
  }
  throw new Error('cut point not found');
}
