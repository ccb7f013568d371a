// A client that keeps reading a live stream in the background, like a player would,
// and lets a test wait for bytes (an event: a chunk arriving) and cut what came after a mark.
import { isDiscontinuity, PacketKind, ProgramTracker } from '../../common/mpegts';
import { pesPts } from '../../coordinator/streams/splice-point';
import { concat } from './media';

export class StreamRecorder {
  readonly chunks: { at: number; bytes: Uint8Array }[] = [];
  total = 0;
  status = 0;
  /** resolves with 'end' when the server ended the body cleanly, or the error text */
  readonly finished: Promise<string>;
  private reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  private waiters: { need: number; resolve: () => void }[] = [];
  private closedByUs = false;

  private constructor(readonly url: string, res: Response) {
    this.status = res.status;
    this.reader = res.body!.getReader();
    this.finished = this.pump();
  }

  static async open(url: string): Promise<StreamRecorder> {
    const res = await fetch(url);
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
    return new StreamRecorder(url, res);
  }

  private async pump(): Promise<string> {
    try {
      for (;;) {
        const { done, value } = await this.reader!.read();
        if (done) return this.closedByUs ? 'closed' : 'end';
        this.chunks.push({ at: Date.now(), bytes: value });
        this.total += value.byteLength;
        for (const w of [...this.waiters]) {
          if (this.total >= w.need) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve();
          }
        }
      }
    } catch (err) {
      return this.closedByUs ? 'closed' : `error: ${err instanceof Error ? err.message : String(err)}`;
    } finally {
      for (const w of this.waiters.splice(0)) w.resolve();
    }
  }

  /** Waits until `count` more bytes than `from` have arrived (or the stream finished). */
  async waitForBytes(count: number, from = this.total, timeoutMs = 60_000): Promise<void> {
    if (this.total >= from + count) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.waiters.push({ need: from + count, resolve })),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`stream ${this.url}: only ${this.total - from} of ${count} bytes arrived`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Bytes received after byte offset `mark`, re-cut to whole 188-byte packets. */
  bytesAfter(mark: number): Uint8Array {
    const all = concat(this.chunks.map((c) => c.bytes));
    const start = Math.ceil(mark / 188) * 188;
    return all.subarray(start, start + Math.floor((all.byteLength - start) / 188) * 188);
  }

  /** The longest time without a chunk from `since` on (the first chunk after it counts from `since`). */
  largestSilenceSince(since: number): number {
    return largestGap([since, ...this.chunks.filter((c) => c.at >= since).map((c) => c.at)]);
  }

  all(): Uint8Array {
    return concat(this.chunks.map((c) => c.bytes));
  }

  async close(): Promise<void> {
    this.closedByUs = true;
    await this.reader?.cancel().catch(() => {});
    await this.finished;
  }
}

/** Video packet presentation times (seconds) of an MPEG-TS byte string, via ffprobe. */
export async function videoPacketTimes(bytes: Uint8Array): Promise<number[]> {
  const proc = Bun.spawn(
    ['ffprobe', '-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', '-i', 'pipe:0'],
    { stdin: 'pipe', stdout: 'pipe', stderr: 'ignore' },
  );
  proc.stdin.write(bytes);
  await proc.stdin.end();
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  return out
    .split('\n')
    .map((l) => Number.parseFloat(l))
    .filter((n) => Number.isFinite(n));
}

export function largestGap(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let gap = 0;
  for (let i = 1; i < sorted.length; i++) gap = Math.max(gap, sorted[i]! - sorted[i - 1]!);
  return gap;
}

/**
 * What a player joining at byte `mark` would decode: the latest PAT and PMT before the
 * first keyframe after `mark`, then everything from that keyframe on.
 */
export function cutAtKeyframe(bytes: Uint8Array, mark: number): Uint8Array {
  const tracker = new ProgramTracker();
  let pat: Uint8Array | null = null;
  let pmt: Uint8Array | null = null;
  const start = Math.ceil(mark / 188) * 188;
  for (let off = 0; off + 188 <= bytes.byteLength; off += 188) {
    const kind = tracker.inspect(bytes, off);
    if (kind === PacketKind.Pat) pat = bytes.slice(off, off + 188);
    else if (kind === PacketKind.Pmt) pmt = bytes.slice(off, off + 188);
    else if (kind === PacketKind.Keyframe && off >= start && pat && pmt) {
      return concat([pat, pmt, bytes.subarray(off, Math.floor(bytes.byteLength / 188) * 188)]);
    }
  }
  throw new Error(`no keyframe after byte ${mark} in ${bytes.byteLength} bytes`);
}

/** The video PES starts of an MPEG-TS byte string in stream order: packet offset and PTS (90 kHz). */
export function* videoPesPts(bytes: Uint8Array): Generator<{ off: number; pts: number }> {
  const tracker = new ProgramTracker();
  for (let off = 0; off + 188 <= bytes.length; off += 188) {
    tracker.inspect(bytes, off);
    const pid = ((bytes[off + 1]! & 0x1f) << 8) | bytes[off + 2]!;
    if (pid !== tracker.videoPid) continue;
    const pts = pesPts(bytes, off);
    if (pts >= 0) yield { off, pts };
  }
}

/**
 * Steps between successive video PTS of an MPEG-TS byte string in stream order (90 kHz
 * ticks), and every step that does not move forward without a flagged discontinuity
 * (a repeated frame or a step back). For streams without B-frames, where stream order is
 * presentation order.
 */
export function videoPtsSteps(bytes: Uint8Array): { steps: number[]; notForward: string[] } {
  const steps: number[] = [];
  const notForward: string[] = [];
  let last = -1;
  for (const { off, pts } of videoPesPts(bytes)) {
    if (last >= 0) {
      if (pts <= last && !isDiscontinuity(bytes, off)) notForward.push(`${last} -> ${pts} at byte ${off}`);
      steps.push(pts - last);
    }
    last = pts;
  }
  return { steps, notForward };
}

