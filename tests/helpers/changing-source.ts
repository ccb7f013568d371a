// A live MPEG-TS source over HTTP that does, one step after another, what IPTV
// providers' streams do (issue 21): an ad break at another resolution, a switch to HEVC,
// a restarted encoder whose timestamps jump back an hour, an outage, timestamps 5.4 h
// ahead after it, an audio switch from AAC stereo to AC-3 5.1, and a PTS/PCR wrap at 2^33.
//
// Each piece is encoded by FFmpeg on its own and the pieces are joined at the byte level,
// as a provider's splicer or a restarted encoder joins them: the same PIDs (PMT 0x1000,
// video 0x100, audio 0x101), the PMT version bumped exactly where the PMT changes, and
// continuity counters restarting at every join (each FFmpeg counts from 0), unflagged.
// Pieces are cached by a hash of their FFmpeg arguments, so later runs and the bench
// reuse them.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TS_PACKET_SIZE } from '../../common/mpegts';

export const PTS_WRAP_SECONDS = 2 ** 33 / 90_000; // 95443.717...
const FPS = 25;
// FFmpeg's mpegts muxer starts video 1.4 s after -output_ts_offset (mux delay and
// preload, 0.7 s each); x265 ultrafast's two reordered B-frames put its first DTS two
// frames earlier still. Checked with ffprobe (FFmpeg 5.1).
const MUX_START_SECONDS = 1.4;
const HEVC_REORDER_SECONDS = 2 / FPS;

export type VideoKind = 'h264' | 'hevc';
export type AudioKind = 'aac-stereo' | 'ac3-5.1';

export interface PieceSpec {
  name: string;
  seconds: number;
  video: VideoKind;
  width: number;
  height: number;
  audio: AudioKind;
  /** PMT (and PAT) version_number written by FFmpeg (-tables_version). */
  pmtVersion: number;
  /** Decode time of the piece's first video frame, seconds (before the 33-bit wrap). */
  firstDts: number;
}

export interface SourcePiece extends PieceSpec {
  path: string;
  bytes: Uint8Array;
  /** Per packet, when it is due after the piece starts (seconds, paced by its PCR). */
  packetTimes: Float64Array;
}

/** The pieces of issue 21's sequence, by name. */
export interface SourcePieces {
  /** H.264 320x240 + AAC stereo, the channel as usual; long enough for clients to start. */
  leadIn: SourcePiece;
  /** Ad break: H.264 256x144, continuous timestamps, same PMT. */
  adBreak: SourcePiece;
  /** HEVC 320x240 + AAC, continuous timestamps, PMT version +1. */
  hevc: SourcePiece;
  /** H.264 again from a restarted encoder: timestamps 3600 s behind, PMT version +1. */
  encoderRestart: SourcePiece;
  /** After the outage: timestamps 5.4 h (19440 s) ahead of where the restart piece ended, same PMT. */
  afterOutage: SourcePiece;
  /** Audio switch to AC-3 5.1 (continuous timestamps), PMT version +1. */
  ac3: SourcePiece;
  /** Same program; timestamps placed so PTS and PCR wrap at 2^33 in its middle. */
  wrap: SourcePiece;
  /** Continues after the wrap: gives the outputs time to deliver the wrap. */
  tail: SourcePiece;
}

/** Seconds of one piece's video: from its first DTS to where the next continuous piece starts. */
function specs(leadInSeconds: number, pieceSeconds: number): Record<keyof SourcePieces, PieceSpec> {
  const base = 10_000;
  const s = pieceSeconds;
  const after = (p: PieceSpec) => p.firstDts + p.seconds;
  const h264 = { video: 'h264' as const, width: 320, height: 240 };
  const leadIn: PieceSpec = { name: 'lead-in', seconds: leadInSeconds, ...h264, audio: 'aac-stereo', pmtVersion: 0, firstDts: base };
  const adBreak: PieceSpec = { ...leadIn, name: 'ad-break-256x144', seconds: s, width: 256, height: 144, firstDts: after(leadIn) };
  const hevc: PieceSpec = { ...leadIn, name: 'hevc', seconds: s, video: 'hevc', pmtVersion: 1, firstDts: after(adBreak) };
  const encoderRestart: PieceSpec = { ...leadIn, name: 'encoder-restart-minus-1h', seconds: s, pmtVersion: 2, firstDts: after(hevc) - 3600 };
  const afterOutage: PieceSpec = { ...encoderRestart, name: 'after-outage-plus-5.4h', firstDts: after(encoderRestart) + 19_440 };
  const ac3: PieceSpec = { ...afterOutage, name: 'ac3-5.1', audio: 'ac3-5.1', pmtVersion: 3, firstDts: after(afterOutage) };
  const wrap: PieceSpec = { ...ac3, name: 'wrap-2^33', firstDts: PTS_WRAP_SECONDS - s / 2 };
  const tail: PieceSpec = { ...ac3, name: 'tail', firstDts: after(wrap) - PTS_WRAP_SECONDS };
  return { leadIn, adBreak, hevc, encoderRestart, afterOutage, ac3, wrap, tail };
}

// Audio frames: AAC 1024 samples, AC-3 1536. The encoders start one priming block early
// (AAC 1024 samples, AC-3 256), so each piece's audio is made that much shorter than its
// video: joined pieces then continue each other's audio exactly, with no overlap (which
// FFmpeg reports as non-monotonic timestamps) and no gap.
const AUDIO_PRIMING = { 'aac-stereo': 1024, 'ac3-5.1': 256 } as const;
/** Piece lengths are whole multiples of this: 16 video frames, 30 AAC frames, 20 AC-3 frames. */
export const PIECE_GRAIN_SECONDS = 0.64;

function ffmpegArgs(p: PieceSpec, out: string): string[] {
  const grains = p.seconds / PIECE_GRAIN_SECONDS;
  if (Math.abs(grains - Math.round(grains)) > 1e-9) throw new Error(`piece ${p.name}: ${p.seconds} s is not a multiple of ${PIECE_GRAIN_SECONDS} s`);
  const video =
    p.video === 'hevc'
      ? ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error']
      : ['-c:v', 'libx264', '-preset', 'ultrafast'];
  const audio = p.audio === 'ac3-5.1' ? ['-c:a', 'ac3', '-ac', '6', '-b:a', '384k'] : ['-c:a', 'aac', '-ac', '2', '-b:a', '64k'];
  const samples = Math.round(p.seconds * 48_000) - AUDIO_PRIMING[p.audio];
  const offset = p.firstDts - MUX_START_SECONDS + (p.video === 'hevc' ? HEVC_REORDER_SECONDS : 0);
  return [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${p.width}x${p.height}:rate=${FPS}:duration=${p.seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000,atrim=end_sample=${samples}`,
    ...video, '-g', String(FPS), '-pix_fmt', 'yuv420p',
    ...audio, '-ar', '48000',
    '-output_ts_offset', offset.toFixed(6),
    '-f', 'mpegts', '-mpegts_pmt_start_pid', '0x1000', '-mpegts_start_pid', '0x100', '-tables_version', String(p.pmtVersion),
    out,
  ];
}

/** PCR of the packet at `off` in 90 kHz units (the 33-bit base), or -1. */
export function readPcrBase(buf: Uint8Array, off: number): number {
  const b3 = buf[off + 3]!;
  if ((b3 & 0x20) === 0 || buf[off + 4]! < 7 || (buf[off + 5]! & 0x10) === 0) return -1;
  return buf[off + 6]! * 2 ** 25 + buf[off + 7]! * 2 ** 17 + buf[off + 8]! * 2 ** 9 + buf[off + 9]! * 2 + (buf[off + 10]! >> 7);
}

/**
 * When each packet of a piece is due, in seconds after the piece starts: interpolated
 * between PCRs (one every ~75 ms in FFmpeg's output), across the 33-bit wrap; packets
 * before the first PCR are due at once, those after the last by the piece's end.
 */
export function pcrPacketTimes(bytes: Uint8Array, seconds: number): Float64Array {
  const count = Math.floor(bytes.length / TS_PACKET_SIZE);
  const times = new Float64Array(count);
  const pcrs: { index: number; t: number }[] = [];
  let first = -1;
  for (let i = 0; i < count; i++) {
    const pcr = readPcrBase(bytes, i * TS_PACKET_SIZE);
    if (pcr < 0) continue;
    if (first < 0) first = pcr;
    pcrs.push({ index: i, t: (((pcr - first) % 2 ** 33) + 2 ** 33) % 2 ** 33 / 90_000 });
  }
  pcrs.push({ index: count, t: Math.max(seconds, pcrs.at(-1)?.t ?? 0) });
  let prev = { index: 0, t: 0 };
  for (const next of pcrs) {
    for (let i = prev.index; i < next.index; i++) times[i] = prev.t + ((next.t - prev.t) * (i - prev.index)) / Math.max(1, next.index - prev.index);
    prev = next;
  }
  return times;
}

/**
 * Makes (or reuses from `dir`) the pieces of issue 21's sequence. Tiny on purpose (2-core
 * machines): 25 fps, a keyframe every second, ultrafast presets, ~0.3 s of FFmpeg each.
 * Lengths are multiples of PIECE_GRAIN_SECONDS (default: a 7.68 s lead-in, 3.2 s pieces).
 */
export async function makeSourcePieces(
  dir = join(tmpdir(), 'tvarr-source-pieces'),
  opts: { leadInSeconds?: number; pieceSeconds?: number } = {},
): Promise<SourcePieces> {
  mkdirSync(dir, { recursive: true });
  const out = {} as SourcePieces;
  for (const [key, spec] of Object.entries(specs(opts.leadInSeconds ?? 7.68, opts.pieceSeconds ?? 3.2)) as [keyof SourcePieces, PieceSpec][]) {
    const hash = createHash('sha256').update(JSON.stringify(ffmpegArgs(spec, ''))).digest('hex').slice(0, 12);
    const path = join(dir, `${spec.name}-${hash}.ts`);
    if (!existsSync(path)) {
      // Written beside and renamed: a concurrent run never reads half a piece.
      const partial = `${path}.${process.pid}.partial.ts`;
      const proc = Bun.spawn(['ffmpeg', ...ffmpegArgs(spec, partial)], { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' });
      const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
      if (code !== 0) throw new Error(`ffmpeg could not make source piece ${spec.name}: ${err}`);
      renameSync(partial, path);
    }
    const bytes = new Uint8Array(readFileSync(path));
    out[key] = { ...spec, path, bytes, packetTimes: pcrPacketTimes(bytes, spec.seconds) };
  }
  return out;
}

// ---- the live server ---------------------------------------------------------------

export type ScriptStep = { piece: SourcePiece; label?: string } | { outage: number; label?: string };

/** Issue 21's sequence: every change in turn, a 4 s outage between the restart and the jump ahead. */
export function issue21Script(p: SourcePieces, outageMs = 4000): ScriptStep[] {
  return [
    { piece: p.leadIn, label: 'lead-in' },
    { piece: p.adBreak, label: 'resolution change' },
    { piece: p.hevc, label: 'codec change to HEVC' },
    { piece: p.encoderRestart, label: 'back to H.264, timestamps -1 h' },
    { outage: outageMs, label: 'outage' },
    { piece: p.afterOutage, label: 'after the outage, timestamps +5.4 h' },
    { piece: p.ac3, label: 'audio to AC-3 5.1' },
    { piece: p.wrap, label: 'timestamps wrap at 2^33' },
    { piece: p.tail, label: 'tail' },
  ];
}

export interface StepRecord {
  index: number;
  label: string;
  kind: 'piece' | 'outage';
  /** Planned length, ms. */
  durationMs: number;
  /** Wall clock (Date.now) when the server began this step; undefined before. */
  startedAt?: number;
  endedAt?: number;
}

export interface ChangingSource {
  url: string;
  port: number;
  /** HTTP requests accepted so far (a reconnect counts again). */
  readonly connections: number;
  /** Responses being streamed now. */
  readonly open: number;
  /** Why listening again after an outage failed (the port was taken), retried each tick; null when it did not. */
  readonly relistenError: string | null;
  readonly steps: readonly StepRecord[];
  /** Resolves with the step's start time (Date.now) once the server begins it. */
  stepStarted(index: number): Promise<number>;
  /** Resolves when the script's first step begins: at the first connection. */
  readonly started: Promise<number>;
  /** Resolves when the last step has ended; the server then closes every response and stops listening. */
  readonly done: Promise<void>;
  stop(): void;
}

const TICK_MS = 20;

/**
 * Serves `script` live on 127.0.0.1 (port 0): one sequence shared by every connection,
 * paced at real time by each piece's PCR and started by the first connection. A client
 * that connects later joins at the current packet, as with a real live stream.
 *
 * An outage step ends every open response (its body ends after the bytes sent so far,
 * and the connection closes) and stops listening, so a connect is refused (ECONNREFUSED:
 * nothing listens on the port); afterwards the server listens again on the same port and
 * the next step plays from its start. After the last step the stream is over: the
 * server ends every response and stops listening for good (`done` resolves). It does not
 * loop: a repeat would be one more timestamp jump that no step announced. So a test reads
 * until `done`, and a source that must stay up longer needs a longer script.
 */
export function startChangingSource(script: ScriptStep[], opts: { path?: string } = {}): ChangingSource {
  if (script.length === 0) throw new Error('empty script');
  const steps: StepRecord[] = script.map((s, index) => ({
    index,
    label: s.label ?? ('piece' in s ? s.piece.name : 'outage'),
    kind: 'piece' in s ? 'piece' : 'outage',
    durationMs: 'piece' in s ? s.piece.seconds * 1000 : s.outage,
  }));
  const stepWaiters = steps.map(() => Promise.withResolvers<number>());
  const started = Promise.withResolvers<number>();
  const done = Promise.withResolvers<void>();
  const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  let connections = 0;
  let stopped = false;
  let listening = true;
  let timer: ReturnType<typeof setInterval> | null = null;
  let scriptStart = 0;
  let current = -1;
  let sentPackets = 0;
  let relistenError: string | null = null;

  const serve = (port: number) =>
    Bun.serve({
      hostname: '127.0.0.1',
      port,
      idleTimeout: 0,
      fetch() {
        connections += 1;
        let mine: ReadableStreamDefaultController<Uint8Array> | null = null;
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            mine = controller;
            streams.add(controller);
          },
          cancel() {
            if (mine) streams.delete(mine);
          },
        });
        // After the stream is registered: the first connection gets the script from its first byte.
        if (!timer && !stopped) begin();
        return new Response(body, { headers: { 'content-type': 'video/mp2t', 'cache-control': 'no-store' } });
      },
    });
  let server = serve(0);
  const port = server.port!;

  const send = (bytes: Uint8Array) => {
    if (bytes.length === 0) return;
    for (const c of streams) {
      try {
        c.enqueue(bytes);
      } catch {
        streams.delete(c);
      }
    }
  };

  // Every response ends with the bytes sent so far, and nothing listens any more: a
  // reconnect is refused. Sockets still open a moment later (keep-alive) are cut, so no
  // request can reach this server again.
  const hangUp = () => {
    closeAll();
    const old = server;
    old.stop(false);
    setTimeout(() => void old.stop(true), 100);
    listening = false;
  };

  const closeAll = () => {
    for (const c of streams) {
      try {
        c.close();
      } catch {
        // already closed by the client
      }
    }
    streams.clear();
  };

  const enter = (index: number, at: number) => {
    current = index;
    sentPackets = 0;
    const step = steps[index]!;
    step.startedAt = at;
    if (index > 0) steps[index - 1]!.endedAt = at;
    stepWaiters[index]!.resolve(at);
    if (step.kind === 'outage' && listening) hangUp();
    relisten();
  };

  // Back on the same port after an outage; should the port still be held, again each tick.
  const relisten = () => {
    if (listening || stopped || steps[current]?.kind !== 'piece') return;
    try {
      server = serve(port);
      listening = true;
    } catch (err) {
      relistenError = err instanceof Error ? err.message : String(err);
    }
  };

  // Steps start on a fixed schedule from the script's start (no drift from late ticks).
  const tick = () => {
    const now = Date.now();
    let elapsed = now - scriptStart;
    let index = 0;
    while (index < steps.length && elapsed >= steps[index]!.durationMs) {
      elapsed -= steps[index]!.durationMs;
      index++;
    }
    // Finish every step the clock has passed (the rest of a piece goes out at once).
    while (current < index) {
      const s = script[current];
      if (s && 'piece' in s) send(s.piece.bytes.subarray(sentPackets * TS_PACKET_SIZE));
      if (current + 1 >= steps.length) return finish(now);
      enter(current + 1, now);
    }
    relisten();
    const s = script[current]!;
    if (!('piece' in s)) return;
    const times = s.piece.packetTimes;
    let due = sentPackets;
    while (due < times.length && times[due]! * 1000 <= elapsed) due++;
    send(s.piece.bytes.subarray(sentPackets * TS_PACKET_SIZE, due * TS_PACKET_SIZE));
    sentPackets = due;
  };

  const begin = () => {
    scriptStart = Date.now();
    started.resolve(scriptStart);
    enter(0, scriptStart);
    timer = setInterval(tick, TICK_MS);
    tick();
  };

  const finish = (at: number) => {
    steps.at(-1)!.endedAt = at;
    stop();
    done.resolve();
  };

  function stop() {
    if (stopped) return;
    stopped = true;
    if (timer) clearInterval(timer);
    if (listening) hangUp();
    else closeAll();
  }

  return {
    url: `http://127.0.0.1:${port}${opts.path ?? '/live.ts'}`,
    port,
    get connections() {
      return connections;
    },
    get open() {
      return streams.size;
    },
    get relistenError() {
      return relistenError;
    },
    steps,
    stepStarted: (index) => stepWaiters[index]!.promise,
    started: started.promise,
    done: done.promise,
    stop,
  };
}
