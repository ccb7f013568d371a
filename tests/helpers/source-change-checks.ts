// Checks on what a client recorded while its source changed under it (issue 21), shared by
// tests/e2e/source-changes.sequence.test.ts and the bench: program parts of an MPEG-TS
// recording and what each one really carries, video decode-time steps, arrival gaps by
// wall clock, continuity counters, decoded frame sizes, and an HLS recorder with the
// times and tags a player would see. Pure functions where the answer is in the bytes;
// FFmpeg/ffprobe where only a decoder can tell.
import { ContinuityChecker, isDiscontinuity, parsePat, parsePmt, PID_PAT, TS_PACKET_SIZE, videoCodecOf, type Pmt } from '../../common/mpegts';
import { pesDts } from '../../coordinator/streams/splice-point';
import { timestampDelta } from '../../coordinator/streams/hls/pes-timestamp';
import { parseMediaPlaylist } from './hls-client';
import { concat, decodeErrors } from './media';

const PTS_HZ = 90_000;

// ---- what the elementary streams really carry ---------------------------------------

/** Audio stream types of a PMT, by name (ISO 13818-1 and the ATSC/FFmpeg AC-3 ones). */
const AUDIO_STREAM_TYPES: ReadonlyMap<number, string> = new Map([
  [0x03, 'mpegaudio'],
  [0x04, 'mpegaudio'],
  [0x0f, 'aac'],
  [0x11, 'aac_latm'],
  [0x81, 'ac3'],
  [0x87, 'eac3'],
]);

/** Codec a PMT stream type names (video or audio), or `type 0xNN`. */
export function codecOfStreamType(streamType: number): string {
  return videoCodecOf(streamType) ?? AUDIO_STREAM_TYPES.get(streamType) ?? `type 0x${streamType.toString(16)}`;
}

/** Offset of the PES payload (after the PES header) in the packet at `off`, or -1. */
function pesPayloadStart(buf: Uint8Array, off: number): number {
  if ((buf[off + 1]! & 0x40) === 0) return -1;
  const b3 = buf[off + 3]!;
  if ((b3 & 0x10) === 0) return -1;
  let p = off + 4;
  if ((b3 & 0x20) !== 0) p += 1 + buf[off + 4]!;
  if (p + 9 > off + TS_PACKET_SIZE || buf[p] !== 0 || buf[p + 1] !== 0 || buf[p + 2] !== 1) return -1;
  const start = p + 9 + buf[p + 8]!;
  return start < off + TS_PACKET_SIZE ? start : -1;
}

const HEVC_NAL_TYPES = new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 18, 19, 20, 21, 32, 33, 34, 35, 36, 37, 38, 39, 40]);
const H264_NAL_TYPES = new Set([1, 5, 6, 7, 8, 9]);

/**
 * Video codec of an access unit from its first NAL header (FFmpeg and broadcast encoders
 * start each with an access unit delimiter): HEVC headers are two bytes whose second is
 * 0x01 on the base layer, which no H.264 AUD, SPS or slice header starts with.
 */
export function sniffVideoCodec(buf: Uint8Array, payloadStart: number, end: number): string {
  for (let i = payloadStart; i + 4 < end; i++) {
    if (buf[i] !== 0 || buf[i + 1] !== 0 || buf[i + 2] !== 1) continue;
    const h0 = buf[i + 3]!;
    const h1 = buf[i + 4]!;
    if ((h0 & 0x81) === 0 && h1 === 0x01 && HEVC_NAL_TYPES.has(h0 >> 1)) return 'hevc';
    if ((h0 & 0x80) === 0 && H264_NAL_TYPES.has(h0 & 0x1f)) return 'h264';
    return 'unknown';
  }
  return 'unknown';
}

/**
 * Audio codec of a PES from the sync word it starts with (FFmpeg and broadcast muxers
 * start each audio PES on a frame): AC-3/E-AC-3 0x0B77, AAC ADTS 0xFFF with layer 0, MPEG
 * audio (layers I-III, stream types 0x03/0x04) 0xFFE with a layer. Bytes that are not
 * frame-aligned (a codec muxed under the wrong stream type) read as 'unknown' or, by
 * chance, as some sync word.
 */
export function sniffAudioCodec(buf: Uint8Array, at: number): string {
  const b0 = buf[at]!;
  const b1 = buf[at + 1]!;
  if (b0 === 0x0b && b1 === 0x77) return (buf[at + 5]! >> 3) > 10 ? 'eac3' : 'ac3';
  if (b0 === 0xff && (b1 & 0xf0) === 0xf0 && (b1 & 0x06) === 0) return 'aac';
  if (b0 === 0xff && (b1 & 0xe0) === 0xe0 && (b1 & 0x06) !== 0) return 'mpegaudio';
  return 'unknown';
}

// ---- parts of a recording ----------------------------------------------------------

export type SplitReason = 'start' | 'pmt-version' | 'discontinuity';

export interface TsPart {
  index: number;
  splitBy: SplitReason;
  /** Byte range of the recording this part covers. */
  start: number;
  end: number;
  /** The part's own bytes: the latest PAT and PMT put in front where it does not start with them. */
  bytes: Uint8Array;
  /** The part's PMT (the first one inside it, else the one in force when it began). */
  pmt: Pmt | null;
  /** Codec the PMT names for each of its PIDs. */
  declared: Map<number, string>;
  /** Codecs found in each PID's PES payloads, in order of first appearance. */
  carried: Map<number, string[]>;
  /** Video PES starts in the part. */
  videoFrames: number;
}

interface PartBuilder {
  splitBy: SplitReason;
  start: number;
  prefix: Uint8Array[];
  pmt: Pmt | null;
  carried: Map<number, string[]>;
  payloadPids: Set<number>;
  videoFrames: number;
}

/**
 * Splits an MPEG-TS recording into program parts: at each PMT whose version differs from
 * the previous PMT's (with the PAT just before it, when there is one), and at each
 * packet flagged discontinuity_indicator on a PID that already carried payload in the
 * current part (so one flag per PID after a splice opens one part, not several).
 */
export function splitAtProgramChanges(bytes: Uint8Array): TsPart[] {
  const parts: TsPart[] = [];
  let pmtPid = -1;
  let latestPat: Uint8Array | null = null;
  let latestPmt: Uint8Array | null = null;
  let pmtInForce: Pmt | null = null;
  const fresh = (splitBy: SplitReason, start: number, prefix: Uint8Array[]): PartBuilder => ({
    splitBy, start, prefix, pmt: pmtInForce, carried: new Map(), payloadPids: new Set(), videoFrames: 0,
  });
  let part = fresh('start', 0, []);
  const close = (end: number) => {
    if (end <= part.start && part.prefix.length === 0) return;
    const pmt = part.pmt;
    const declared = new Map<number, string>((pmt?.streams ?? []).map((s) => [s.pid, codecOfStreamType(s.streamType)]));
    parts.push({
      index: parts.length, splitBy: part.splitBy, start: part.start, end,
      bytes: concat([...part.prefix, bytes.subarray(part.start, end)]),
      pmt, declared, carried: part.carried, videoFrames: part.videoFrames,
    });
  };
  const count = Math.floor(bytes.length / TS_PACKET_SIZE);
  for (let i = 0; i < count; i++) {
    const off = i * TS_PACKET_SIZE;
    const pid = ((bytes[off + 1]! & 0x1f) << 8) | bytes[off + 2]!;
    if (pid === PID_PAT) {
      const pat = parsePat(bytes, off);
      if (pat) {
        latestPat = bytes.slice(off, off + TS_PACKET_SIZE);
        pmtPid = pat.programs[0]?.pmtPid ?? -1;
      }
      continue;
    }
    if (pid === pmtPid) {
      const pmt = parsePmt(bytes, off);
      if (!pmt) continue;
      if (pmtInForce && pmt.version !== pmtInForce.version && off > part.start) {
        const prevIsPat = i > 0 && (((bytes[off - TS_PACKET_SIZE + 1]! & 0x1f) << 8) | bytes[off - TS_PACKET_SIZE + 2]!) === PID_PAT;
        const at = prevIsPat ? off - TS_PACKET_SIZE : off;
        close(at);
        part = fresh('pmt-version', at, prevIsPat || !latestPat ? [] : [latestPat]);
      }
      if (!part.pmt || part.pmt.version !== pmt.version) part.pmt = pmt;
      pmtInForce = pmt;
      latestPmt = bytes.slice(off, off + TS_PACKET_SIZE);
      continue;
    }
    if (isDiscontinuity(bytes, off) && part.payloadPids.has(pid)) {
      close(off);
      part = fresh('discontinuity', off, [latestPat, latestPmt].filter((p): p is Uint8Array => p !== null));
    }
    if ((bytes[off + 3]! & 0x10) !== 0) part.payloadPids.add(pid);
    const payload = pesPayloadStart(bytes, off);
    if (payload < 0 || !pmtInForce) continue;
    const stream = pmtInForce.streams.find((s) => s.pid === pid);
    if (!stream) continue;
    const isVideo = pid === pmtInForce.videoPid;
    const codec = isVideo ? sniffVideoCodec(bytes, payload, off + TS_PACKET_SIZE) : sniffAudioCodec(bytes, payload);
    if (isVideo) part.videoFrames++;
    const seen = part.carried.get(pid) ?? [];
    if (!seen.includes(codec)) seen.push(codec);
    part.carried.set(pid, seen);
  }
  close(count * TS_PACKET_SIZE);
  return parts;
}

/** Where a part's PMT does not describe what it carries: one line per PID, empty when it does. */
export function pmtMismatches(part: TsPart): string[] {
  const out: string[] = [];
  for (const [pid, codecs] of part.carried) {
    const declared = part.declared.get(pid) ?? 'not in the PMT';
    const real = codecs.filter((c) => c !== 'unknown');
    if (real.length === 0) continue;
    if (real.length > 1 || real[0] !== declared) out.push(`part ${part.index} pid 0x${pid.toString(16)}: PMT v${part.pmt?.version} says ${declared}, carries ${real.join(' then ')}`);
  }
  return out;
}

export interface ProbedStreamInfo {
  type: string;
  codec: string;
  width?: number;
  height?: number;
  channels?: number;
}

export interface PartReport {
  index: number;
  splitBy: SplitReason;
  bytes: number;
  pmtVersion: number | null;
  /** PMT stream types by PID, e.g. { '0x100': '0x1b' }. */
  streamTypes: Record<string, string>;
  declared: Record<string, string>;
  carried: Record<string, string[]>;
  videoFrames: number;
  probed: ProbedStreamInfo[];
  decodeErrors: string;
}

/** A part with ffprobe's view of it (codecs, sizes, channels) and FFmpeg's decode errors. */
export async function describePart(part: TsPart): Promise<PartReport> {
  const hex = (n: number) => `0x${n.toString(16)}`;
  const [probed, errors] = await Promise.all([probeStreams(part.bytes), decodeErrors(part.bytes)]);
  return {
    index: part.index,
    splitBy: part.splitBy,
    bytes: part.bytes.length,
    pmtVersion: part.pmt?.version ?? null,
    streamTypes: Object.fromEntries((part.pmt?.streams ?? []).map((s) => [hex(s.pid), hex(s.streamType)])),
    declared: Object.fromEntries([...part.declared].map(([pid, c]) => [hex(pid), c])),
    carried: Object.fromEntries([...part.carried].map(([pid, c]) => [hex(pid), c])),
    videoFrames: part.videoFrames,
    probed,
    decodeErrors: errors,
  };
}

async function runFfprobe(args: string[], bytes: Uint8Array): Promise<string> {
  const proc = Bun.spawn(['ffprobe', '-v', 'error', ...args, '-of', 'json', '-i', 'pipe:0'], { stdin: 'pipe', stdout: 'pipe', stderr: 'ignore' });
  // ffprobe -show_streams stops reading once it knows the streams: a broken pipe is expected.
  const fed = (async () => {
    proc.stdin.write(bytes);
    await proc.stdin.end();
  })().catch(() => {});
  const [out] = await Promise.all([new Response(proc.stdout).text(), proc.exited, fed]);
  return out;
}

async function probeStreams(bytes: Uint8Array): Promise<ProbedStreamInfo[]> {
  const out = await runFfprobe(['-show_entries', 'stream=codec_type,codec_name,width,height,channels'], bytes);
  try {
    const streams = (JSON.parse(out) as { streams?: { codec_type: string; codec_name?: string; width?: number; height?: number; channels?: number }[] }).streams ?? [];
    return streams.map((s) => ({ type: s.codec_type, codec: s.codec_name ?? 'unknown', width: s.width, height: s.height, channels: s.channels }));
  } catch {
    return [];
  }
}

export interface DecodedFrames {
  /** Decoded video frames by size ("320x240" -> count). */
  videoSizes: Record<string, number>;
  /** Decoded audio frames by channel count ("2" -> count). */
  audioChannels: Record<string, number>;
  videoFrames: number;
  audioFrames: number;
}

/** Every decoded frame's size (video) and channel count (audio), from ffprobe -show_frames. */
export async function decodedFrames(bytes: Uint8Array): Promise<DecodedFrames> {
  const out = await runFfprobe(['-show_entries', 'frame=media_type,width,height,channels'], bytes);
  const frames = (JSON.parse(out || '{}') as { frames?: { media_type: string; width?: number; height?: number; channels?: number }[] }).frames ?? [];
  const result: DecodedFrames = { videoSizes: {}, audioChannels: {}, videoFrames: 0, audioFrames: 0 };
  for (const f of frames) {
    if (f.media_type === 'video') {
      const key = `${f.width}x${f.height}`;
      result.videoSizes[key] = (result.videoSizes[key] ?? 0) + 1;
      result.videoFrames++;
    } else if (f.media_type === 'audio') {
      const key = String(f.channels);
      result.audioChannels[key] = (result.audioChannels[key] ?? 0) + 1;
      result.audioFrames++;
    }
  }
  return result;
}

// ---- timestamps, counters, arrival -------------------------------------------------

/** Video PES starts in stream order: packet offset, decode time (90 kHz), discontinuity flag. */
export function videoDecodeTimes(bytes: Uint8Array): { off: number; dts: number; flagged: boolean }[] {
  const out: { off: number; dts: number; flagged: boolean }[] = [];
  let pmtPid = -1;
  let videoPid = -1;
  for (let off = 0; off + TS_PACKET_SIZE <= bytes.length; off += TS_PACKET_SIZE) {
    const pid = ((bytes[off + 1]! & 0x1f) << 8) | bytes[off + 2]!;
    if (pid === PID_PAT) {
      pmtPid = parsePat(bytes, off)?.programs[0]?.pmtPid ?? pmtPid;
    } else if (pid === pmtPid) {
      videoPid = parsePmt(bytes, off)?.videoPid ?? videoPid;
    } else if (pid === videoPid) {
      const dts = pesDts(bytes, off);
      if (dts >= 0) out.push({ off, dts, flagged: isDiscontinuity(bytes, off) });
    }
  }
  return out;
}

export interface DtsStepProblem {
  /** Byte offset of the later frame (in the checked bytes), or a segment's index for HLS. */
  at: number;
  from: number;
  to: number;
  /** Seconds, across the 33-bit wrap (negative = back). */
  step: number;
  flagged: boolean;
}

export interface DtsStepReport {
  frames: number;
  /** Largest forward step, seconds. */
  maxStep: number;
  /** Steps that do not move forward, or move forward more than `maxStepSeconds`. */
  problems: DtsStepProblem[];
}

/**
 * Video decode-time steps of one recording (33-bit wrap taken into account): all must be
 * forward and at most `maxStepSeconds`. Each problem says whether discontinuity_indicator
 * flagged it; the caller decides whether a flag excuses it.
 */
export function checkDtsSteps(frames: { off: number; dts: number; flagged: boolean }[], maxStepSeconds = 3): DtsStepReport {
  let maxStep = 0;
  const problems: DtsStepProblem[] = [];
  for (let i = 1; i < frames.length; i++) {
    const a = frames[i - 1]!;
    const b = frames[i]!;
    const step = timestampDelta(a.dts, b.dts) / PTS_HZ;
    if (step > maxStep) maxStep = step;
    if (step <= 0 || step > maxStepSeconds) problems.push({ at: b.off, from: a.dts / PTS_HZ, to: b.dts / PTS_HZ, step, flagged: b.flagged });
  }
  return { frames: frames.length, maxStep, problems };
}

/** Continuity counter errors over a whole recording (flagged discontinuities excused). */
export function continuityErrors(bytes: Uint8Array): number {
  return new ContinuityChecker().check(bytes).length;
}

/**
 * Wall-clock arrival of each video PES start in a recording made of timed chunks (a
 * StreamRecorder's), in ms: the time of the chunk that completed the packet.
 */
export function videoArrivalTimes(chunks: { at: number; bytes: Uint8Array }[]): number[] {
  const all = concat(chunks.map((c) => c.bytes));
  const frames = videoDecodeTimes(all.subarray(0, all.length - (all.length % TS_PACKET_SIZE)));
  const out: number[] = [];
  let chunk = 0;
  let chunkEnd = chunks[0]?.bytes.length ?? 0;
  for (const f of frames) {
    while (chunk < chunks.length - 1 && chunkEnd < f.off + TS_PACKET_SIZE) chunkEnd += chunks[++chunk]!.bytes.length;
    out.push(chunks[chunk]!.at);
  }
  return out;
}

export interface Gap {
  from: number;
  to: number;
  ms: number;
  /** Why it is allowed, or null when it is not. */
  allowedAs: 'normal' | 'outage' | null;
}

export interface GapRules {
  /** Largest gap allowed outside an outage, ms. */
  limitMs: number;
  /** Source outages: [start, end] wall clock (the steps' start times the server reported). */
  outages: { start: number; end: number }[];
  /** A gap that overlaps an outage must end this long after its end at the latest, ms. */
  resumeWithinMs: number;
  /** ...and may start this long before the outage at the earliest (delivery latency), ms. */
  leadMs?: number;
}

/**
 * Gaps between successive arrivals, plus the silence from the last arrival to `until`
 * (a client that froze at the end has no next arrival). A gap over `limitMs` is allowed
 * only when it overlaps an outage, starts no earlier than `leadMs` before it and ends no
 * later than `resumeWithinMs` after the source came back.
 */
export function arrivalGaps(times: number[], until: number, rules: GapRules): { largest: Gap | null; violations: Gap[] } {
  const gaps: Gap[] = [];
  const lead = rules.leadMs ?? rules.limitMs;
  const points = [...times, until];
  for (let i = 1; i < points.length; i++) {
    const from = points[i - 1]!;
    const to = points[i]!;
    const ms = to - from;
    if (ms <= rules.limitMs) continue;
    const outage = rules.outages.find((o) => from <= o.end && to >= o.start);
    const allowedAs = outage && from >= outage.start - lead && to <= outage.end + rules.resumeWithinMs ? 'outage' : null;
    gaps.push({ from, to, ms, allowedAs });
  }
  let largestMs = 0;
  let largest: Gap | null = null;
  for (let i = 1; i < points.length; i++) {
    const ms = points[i]! - points[i - 1]!;
    if (ms > largestMs) {
      largestMs = ms;
      largest = gaps.find((g) => g.from === points[i - 1]) ?? { from: points[i - 1]!, to: points[i]!, ms, allowedAs: 'normal' };
    }
  }
  return { largest, violations: gaps.filter((g) => g.allowedAs === null) };
}

// ---- HLS -----------------------------------------------------------------------------

export interface HlsPoll {
  at: number;
  status: number;
  mediaSequence?: number;
  discontinuitySequence?: number;
  targetDuration?: number;
  lastSequence?: number;
}

export interface HlsRecordedSegment {
  sequence: number;
  duration: number;
  /** #EXT-X-DISCONTINUITY before this segment. */
  discontinuity: boolean;
  /** Its discontinuity sequence number (the playlist's plus the tags before it there). */
  discontinuitySequence: number;
  uri: string;
  /** Wall clock when its bytes had arrived. */
  at: number;
  bytes: Uint8Array;
}

/**
 * A live HLS player's view: reloads the media playlist every half target duration, fetches
 * each new segment once in order (starting three back from the live edge) and records
 * every poll and segment with its arrival time. Like hls-client.ts's HlsPoller, with the
 * times and discontinuity numbering a source-change check needs.
 */
export class HlsRecorder {
  readonly polls: HlsPoll[] = [];
  readonly segments: HlsRecordedSegment[] = [];
  readonly errors: string[] = [];
  private next = -1;
  private stopped = false;
  private readonly loop: Promise<void>;
  private wake: (() => void) | null = null;

  constructor(readonly url: string) {
    this.loop = this.run();
  }

  /** Resolves once `count` segments have arrived (or rejects after `timeoutMs`). */
  async waitForSegments(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.segments.length < count) {
      if (Date.now() > deadline) throw new Error(`HLS ${this.url}: ${this.segments.length}/${count} segments in ${timeoutMs} ms; ${this.errors.slice(-3).join('; ')}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 250);
      });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let waitMs = 1000;
      try {
        const res = await fetch(this.url);
        const at = Date.now();
        if (!res.ok) {
          this.polls.push({ at, status: res.status });
          this.errors.push(`playlist ${res.status}: ${(await res.text()).slice(0, 200)}`);
        } else {
          const playlist = parseMediaPlaylist(await res.text());
          this.polls.push({
            at, status: res.status, mediaSequence: playlist.mediaSequence, discontinuitySequence: playlist.discontinuitySequence,
            targetDuration: playlist.targetDuration, lastSequence: playlist.segments.at(-1)?.sequence,
          });
          waitMs = Math.max(250, (playlist.targetDuration * 1000) / 2);
          if (this.next < 0) this.next = playlist.segments.at(-3)?.sequence ?? playlist.mediaSequence;
          let discontinuitySequence = playlist.discontinuitySequence;
          for (const segment of playlist.segments) {
            if (segment.discontinuity) discontinuitySequence++;
            if (this.stopped || segment.sequence < this.next) continue;
            const s = await fetch(new URL(segment.uri, res.url));
            if (!s.ok) {
              this.errors.push(`segment ${segment.sequence}: ${s.status}`);
              await s.body?.cancel();
              break;
            }
            const bytes = new Uint8Array(await s.arrayBuffer());
            this.segments.push({ ...segment, discontinuitySequence, at: Date.now(), bytes });
            this.next = segment.sequence + 1;
            this.wake?.();
          }
        }
      } catch (err) {
        this.polls.push({ at: Date.now(), status: 0 });
        this.errors.push(String(err));
      }
      if (!this.stopped) await Bun.sleep(waitMs);
    }
  }
}

/** Ways the media sequence went wrong: a playlist older than the one before, a segment skipped or repeated. */
export function mediaSequenceProblems(polls: HlsPoll[], segments: HlsRecordedSegment[]): string[] {
  const out: string[] = [];
  let last = -1;
  for (const p of polls) {
    if (p.mediaSequence === undefined) continue;
    if (p.mediaSequence < last) out.push(`playlist at ${p.at}: media sequence ${p.mediaSequence} after ${last}`);
    last = Math.max(last, p.mediaSequence);
  }
  for (let i = 1; i < segments.length; i++) {
    const a = segments[i - 1]!.sequence;
    const b = segments[i]!.sequence;
    if (b !== a + 1) out.push(`segment ${b} after ${a}`);
  }
  return out;
}

/** Segments between discontinuities, in order: each run should play as one timeline. */
export function discontinuityRuns(segments: HlsRecordedSegment[]): HlsRecordedSegment[][] {
  const runs: HlsRecordedSegment[][] = [];
  for (const s of segments) {
    if (runs.length === 0 || s.discontinuity) runs.push([]);
    runs.at(-1)!.push(s);
  }
  return runs;
}

/** Video decode-time steps across consecutive segments of one run (problem `at` = byte offset in the run). */
export function runDtsSteps(run: HlsRecordedSegment[], maxStepSeconds = 3): DtsStepReport {
  return checkDtsSteps(videoDecodeTimes(concat(run.map((s) => s.bytes))), maxStepSeconds);
}

// ---- phases --------------------------------------------------------------------------

/** The script step (by index) whose wall-clock span holds `at`, or -1 before the first. */
export function stepAt(steps: readonly { startedAt?: number }[], at: number): number {
  let found = -1;
  for (let i = 0; i < steps.length; i++) if (steps[i]!.startedAt !== undefined && steps[i]!.startedAt! <= at) found = i;
  return found;
}

/** How many arrivals fell into each step's span (a phase with none had no output). */
export function arrivalsPerStep(steps: readonly { startedAt?: number; label: string }[], times: number[]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(steps.map((s, i) => [`${i} ${s.label}`, 0]));
  for (const t of times) {
    const i = stepAt(steps, t);
    if (i >= 0) out[`${i} ${steps[i]!.label}`]!++;
  }
  return out;
}
