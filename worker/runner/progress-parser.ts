// Parses FFmpeg's stderr when run with `-loglevel error -nostats -progress pipe:2`:
// key=value progress blocks ending in `progress=continue|end`, interleaved with
// error lines. Error lines are kept (the last few) as the job's failure message.
export interface FfmpegProgress {
  frame: number;
  fps: number;
  bitrateKbps: number;
  totalSize: number;
  outTimeUs: number;
  speed: number;
  done: boolean;
}

const PROGRESS_KEY = /^(frame|fps|stream_\d+_\d+_q|bitrate|total_size|out_time_us|out_time_ms|out_time|dup_frames|drop_frames|speed|progress)=(.*)$/;

function num(v: string | undefined): number {
  if (v === undefined) return 0;
  const n = Number.parseFloat(v);
  return Number.isFinite(n) ? n : 0;
}

export class ProgressParser {
  private partial = '';
  private block: Record<string, string> = {};
  private readonly errors: string[] = [];

  constructor(
    private readonly onProgress: (p: FfmpegProgress) => void = () => {},
    private readonly keepLines = 5,
  ) {}

  push(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.line(line.replace(/\r$/, ''));
  }

  /** Flushes a trailing line without newline (at process exit). */
  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }

  /** The last few non-progress lines, joined with " | ". */
  get errorMessage(): string {
    return this.errors.join(' | ');
  }

  private line(line: string): void {
    const m = PROGRESS_KEY.exec(line);
    if (!m) {
      if (line.trim()) {
        this.errors.push(line.trim());
        if (this.errors.length > this.keepLines) this.errors.shift();
      }
      return;
    }
    const [, key, value] = m as unknown as [string, string, string];
    this.block[key] = value.trim();
    if (key !== 'progress') return;
    const b = this.block;
    this.block = {};
    this.onProgress({
      frame: num(b.frame),
      fps: num(b.fps),
      // "1234.5kbits/s" or "N/A"
      bitrateKbps: num(b.bitrate),
      totalSize: num(b.total_size),
      // out_time_us is "N/A" before the first packet; out_time_ms is (despite its name) microseconds too.
      outTimeUs: Math.round(num(b.out_time_us ?? b.out_time_ms)),
      // "1.02x" or "N/A"
      speed: num(b.speed),
      done: value.trim() === 'end',
    });
  }
}
