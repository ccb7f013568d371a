// Measures this machine's encode speed on a fixed reference clip, so the scheduler
// can prefer faster workers. libx264 ultrafast is available everywhere and stands in
// for "how much CPU does this box have"; GPU throughput is not measured here.
import { runCommand } from './run-command';

export const REFERENCE_FRAMES = 50;

export function speedTestArgs(ffmpegPath: string): string[] {
  return [
    // -benchmark prints "bench: ... rtime=0.057s" at info level; that excludes process
    // start-up, which would otherwise dominate a clip this short.
    ffmpegPath, '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info', '-benchmark',
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25',
    '-frames:v', String(REFERENCE_FRAMES), '-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'null', '-',
  ];
}

/** Frames per second of the reference encode, or 0 when it failed. */
export async function measureEncodeSpeed(ffmpegPath: string, timeoutMs: number): Promise<number> {
  const started = performance.now();
  const r = await runCommand(speedTestArgs(ffmpegPath), timeoutMs);
  const wall = (performance.now() - started) / 1000;
  const bench = /rtime=([0-9.]+)s/.exec(r.stderr);
  const seconds = bench ? Number(bench[1]) : wall;
  if (r.code !== 0 || !(seconds > 0)) return 0;
  return Math.round((REFERENCE_FRAMES / seconds) * 10) / 10;
}

/** First line of `ffmpeg -version`, e.g. "ffmpeg version 5.1.6-0+deb12u1 Copyright ...". */
export async function readFfmpegVersion(ffmpegPath: string, timeoutMs: number): Promise<string> {
  const r = await runCommand([ffmpegPath, '-hide_banner', '-version'], timeoutMs);
  const first = r.stdout.split('\n')[0] ?? '';
  const m = /^ffmpeg version (\S+)/.exec(first);
  return m?.[1] ?? (first.trim() || 'unknown');
}
