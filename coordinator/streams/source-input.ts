// Opens a source's byte stream: HTTP(S) with fetch, the built-in test pattern and any
// other FFmpeg input through an FFmpeg remux to MPEG-TS on stdout.
import type { Subprocess } from 'bun';
import { dieWithParentArgv } from '../../common/spawn-guard';
import { ffmpegProtocolWhitelist, fetchSourceUrl } from './source-policy';

export interface SourceInput {
  readable: ReadableStream<Uint8Array>;
  close(): void;
  /** stderr tail or HTTP status, for the error a client sees when nothing arrives */
  describeFailure(): string;
}

export const TEST_PATTERN_SCHEME = 'testpattern:';

/** testpattern:?size=640x360&rate=25 — a moving test card with a clock and a 1 kHz tone. */
export function testPatternArgs(url: string): string[] {
  const params = new URL(url.replace(TEST_PATTERN_SCHEME, 'http://x/')).searchParams;
  const size = /^\d{2,4}x\d{2,4}$/.test(params.get('size') ?? '') ? params.get('size')! : '1280x720';
  const rate = /^\d{1,3}$/.test(params.get('rate') ?? '') ? params.get('rate')! : '25';
  return [
    '-re',
    '-f', 'lavfi', '-i', `testsrc=size=${size}:rate=${rate}`,
    '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=48000',
    // MPEG-2 at a high bitrate costs little CPU: the pattern must not compete with the transcodes.
    '-c:v', 'mpeg2video', '-q:v', '4', '-g', rate, '-bf', '0',
    '-c:a', 'mp2', '-b:a', '128k',
    '-f', 'mpegts', 'pipe:1',
  ];
}

function spawnFfmpegInput(ffmpegPath: string, args: string[]): SourceInput {
  // dieWithParentArgv: this FFmpeg is SIGKILLed by the kernel when the coordinator dies,
  // even if it never writes again (HLS between segments, a stalled input).
  const proc: Subprocess<'ignore', 'pipe', 'pipe'> = Bun.spawn(dieWithParentArgv([ffmpegPath, '-hide_banner', '-loglevel', 'error', '-nostdin', ...args]), {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  let stderrTail = '';
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) stderrTail = (stderrTail + decoder.decode(chunk)).slice(-2000);
  })().catch(() => {});
  return {
    readable: proc.stdout,
    close: () => proc.kill('SIGKILL'),
    describeFailure: () => stderrTail.trim().split('\n').slice(-2).join(' ') || `ffmpeg exited with ${proc.exitCode ?? 'no code yet'}`,
  };
}

function isHlsUrl(url: string): boolean {
  try {
    return /\.m3u8?$/i.test(new URL(url).pathname);
  } catch {
    return false;
  }
}

export async function openSourceInput(url: string, opts: { ffmpegPath: string; timeoutMs: number; sourceSchemes?: readonly string[] }): Promise<SourceInput> {
  if (url.startsWith(TEST_PATTERN_SCHEME)) return spawnFfmpegInput(opts.ffmpegPath, testPatternArgs(url));
  // Plain HTTP(S) is read directly (one connection, no FFmpeg); HLS playlists need FFmpeg.
  if (/^https?:\/\//i.test(url) && !isHlsUrl(url)) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`no response within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    try {
      const res = await fetchSourceUrl(url, { signal: controller.signal, headers: { 'user-agent': 'tvarr-coordinator' } });
      clearTimeout(timer);
      if (!res.ok || !res.body) {
        controller.abort();
        throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
      }
      return { readable: res.body, close: () => controller.abort(), describeFailure: () => `HTTP ${res.status}` };
    } catch (err) {
      clearTimeout(timer);
      throw err instanceof Error ? err : new Error(String(err));
    }
  }
  // Anything else FFmpeg can read (HLS, rtsp://, udp://, srt://, a file): remux to MPEG-TS.
  return spawnFfmpegInput(opts.ffmpegPath, ['-protocol_whitelist', ffmpegProtocolWhitelist(url, opts.sourceSchemes ?? []), '-i', url, '-map', '0', '-c', 'copy', '-f', 'mpegts', 'pipe:1']);
}
