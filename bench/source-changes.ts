// Sources that change (issue 21): how long after a live source starts sending changed
// content (or comes back after an outage) a TS client of a variant gets media of the new
// content, against a fresh FFmpeg's start-up on the same source measured in the same run.
//
// The measure, per change: from the moment the source server begins sending the changed
// content (ChangingSource's step start, the same process and clock as the clients; for an
// outage, the moment it listens again) to the arrival at the client of the first video
// frame (its first TS packet) that was made from the new content: of a transcode profile
// (tiny H.264) and of a copy profile.
//
// Which client frames are new content: the coordinator restamps the source onto one
// timeline (common/mpegts/timeline-restamp.ts) and workers keep timestamps (-copyts, no
// mux delay), so a client frame's PTS is the restamped PTS of the source frame it came
// from. Everything before the outage reaches the coordinator from byte 0 of the script (its
// first connection starts the script), so the bench restamps the same bytes with its own
// TimelineRestamper and knows each source frame's output PTS and step. A client frame is
// matched to the nearest source frame within half a frame (the x264 encoder rounds PTS to
// its 1/25 s time base after a break); after the outage the reconnect joins the live source
// at an unknown packet, but the restamper places it after the last frame before the outage,
// so any later PTS is new content. Since that join is mid-GOP, the outage is also measured
// to the first frame made from a source keyframe on (the first clean picture).
//
// One cluster (coordinator and one worker); each run is a new source (a new upstream, a
// fresh restamper, new variants) playing the script below once.
// `bun bench/source-changes.ts [--quick]` prints the section.
import { PacketKind, PID_NULL, ProgramTracker, TimelineRestamper, TS_PACKET_SIZE } from '../common/mpegts';
import { pesPts } from '../coordinator/streams/splice-point';
import { makeSourcePieces, startChangingSource, type ChangingSource, type ScriptStep, type SourcePiece, type SourcePieces } from '../tests/helpers/changing-source';
import { TINY_H264_PROFILE, type TestCluster } from '../tests/helpers/cluster';
import { concat } from '../tests/helpers/media';
import type { LogLine } from '../tests/helpers/processes';
import { StreamRecorder } from '../tests/helpers/stream-recorder';
import { buildFfmpegArgs } from '../worker/runner/build-args';
import type { TranscodeSpec } from '../worker/runner/transcode-spec';
import { benchCluster, loadAverage, machineInfo, median, otherTestRuns } from './common';

const TRANSCODE = TINY_H264_PROFILE;
const COPY = { id: 'sc-copy', name: 'source changes copy', videoCodec: 'copy', audioCodec: 'copy' };
const PROFILES = [TRANSCODE.id, COPY.id] as const;
// The worker's spec for each profile (coordinator/jobs/transcode-spec.ts), for FFmpeg alone.
const SPECS: Record<Profile, TranscodeSpec> = {
  transcode: { encoder: 'libx264', width: 320, height: 240, videoBitrateKbps: 400, audioCodec: 'aac', audioBitrateKbps: 64, gopFrames: 25, preset: 'ultrafast' },
  copy: { encoder: 'copy', width: 0, height: 0, videoBitrateKbps: 0, audioCodec: 'copy', audioBitrateKbps: 0, gopFrames: 0, preset: '' },
};
const OUTAGE_MS = 2000;
/** Half a frame at 25 fps, 90 kHz. */
const HALF_FRAME = 1800;
/** How long after the script's end a client may still get the new content. */
const DRAIN_MS = 15_000;

export type Profile = 'transcode' | 'copy';
export type ChangeKind = 'resolution' | 'codec' | 'codec-timestamps' | 'timestamps' | 'outage-end';
type InputCodec = 'h264' | 'hevc';

/** One change of the script: the step that carries the new content, what the coordinator does about it. */
interface ChangeSpec {
  kind: ChangeKind;
  label: string;
  step: number;
  /** Source-event kinds that show the coordinator noticed (its 'source event' log). */
  events: string[];
  /** Whether the variants get a new attempt (a new FFmpeg), or follow in the running one. */
  restarts: boolean;
  /** Codec of the new content: FFmpeg start-up on that input is the baseline. */
  input: InputCodec;
}

// Steps: 0 lead-in, 1 ad break, 2 HEVC, 3 encoder restart, 4 jump ahead, 5 outage, 6 after it.
const CHANGES: ChangeSpec[] = [
  { kind: 'resolution', label: 'resolution 320x240 -> 256x144 (H.264, same PMT)', step: 1, events: ['program-changed'], restarts: false, input: 'h264' },
  { kind: 'codec', label: 'codec H.264 -> HEVC (new PMT)', step: 2, events: ['program-changed'], restarts: true, input: 'hevc' },
  { kind: 'codec-timestamps', label: 'codec HEVC -> H.264 and timestamps -1 h', step: 3, events: ['program-changed', 'timeline-break'], restarts: true, input: 'h264' },
  { kind: 'timestamps', label: 'timestamps +5.4 h (same program)', step: 4, events: ['timeline-break'], restarts: false, input: 'h264' },
  { kind: 'outage-end', label: `outage end (${OUTAGE_MS / 1000} s without a listener)`, step: 6, events: ['reconnected'], restarts: true, input: 'h264' },
];
const OUTAGE_STEP = 5;

function script(p: SourcePieces): ScriptStep[] {
  return [
    { piece: p.leadIn, label: 'lead-in' },
    { piece: p.adBreak, label: 'resolution change' },
    { piece: p.hevc, label: 'codec change to HEVC' },
    { piece: p.encoderRestart, label: 'H.264 again, timestamps -1 h' },
    // Same PMT, same codec and size: a timeline break and nothing else.
    { piece: p.afterOutage, label: 'timestamps +5.4 h' },
    { outage: OUTAGE_MS, label: 'outage' },
    // The same piece again: the reconnect lands 3.2 s back, hidden like any break.
    { piece: p.afterOutage, label: 'after the outage' },
  ];
}

export interface ChangeResult {
  kind: ChangeKind;
  label: string;
  restarts: boolean;
  input: InputCodec;
  /** ms from the change at the source to the first new frame at the client, per run (NaN: none came). */
  ms: Record<Profile, number[]>;
  /** ms from the change to the coordinator's 'source event' log line (NaN where not logged: timeline breaks are logged once per 10 s). */
  detectedMs: number[];
  /** ms from the change to the transcode variant's 'variant restarted' log line (restarting changes only). */
  restartedMs: number[];
  /**
   * When the source sends the new piece's first audio PES, ms after its first video frame
   * (each piece is its own FFmpeg mux, which bundles AAC into ~0.35 s PES); NaN after the
   * outage (the reconnect joins mid-piece).
   */
  sourceAudioLagMs: number;
}

export interface SourceChangesResult {
  date: string;
  machine: ReturnType<typeof machineInfo>;
  quick: boolean;
  runs: number;
  outageMs: number;
  leadInSeconds: number;
  pieceSeconds: number;
  changes: ChangeResult[];
  /**
   * Outage end to the first frame made from the first keyframe after it (a player's first
   * clean picture), per run; the other changes start on a keyframe, so there it is `ms`.
   */
  outageFromKeyframeMs: Record<Profile, number[]>;
  /** Longest wait between two frames at the client from the first new frame after the outage to the first clean one, per run. */
  outageStallMs: Record<Profile, number[]>;
  /** A lead-in frame's trip from the source's first packet of it to the client, p50 per run. */
  steadyMs: Record<Profile, number[]>;
  /** The same for the lead-in's keyframes only (each piece starts with one). */
  steadyKeyMs: Record<Profile, number[]>;
  /** FFmpeg alone (the worker's command) on the same live source, ms from its first byte sent to FFmpeg's first output byte. */
  ffmpegStartMs: Record<Profile, Record<InputCodec, number[]>>;
  /** Smallest share, over runs, of a client's frames before the outage that matched a source frame (the measure's own check). */
  matched: Record<Profile, number>;
  /** Other `bun test` runs seen at the start and end, with the load average. */
  disturbance: string[];
}

// ---------------------------------------------------------------- source frames

interface SourceFrame {
  pts: number;
  step: number;
  /** When the source sends the frame's first packet, ms after its step starts (the piece's PCR pacing). */
  sentMs: number;
  key: boolean;
}

/** Video frames of the script's steps before the outage as the coordinator restamps them, sorted by PTS. */
function restampedSourceFrames(steps: ScriptStep[]): SourceFrame[] {
  const pieces: { piece: SourcePiece; bytes: Uint8Array; step: number }[] = [];
  steps.forEach((s, step) => 'piece' in s && pieces.push({ piece: s.piece, bytes: s.piece.bytes, step }));
  const bytes = concat(pieces.map((p) => p.bytes)); // a copy: restamping writes in place
  new TimelineRestamper().restamp(bytes);
  const ends: { start: number; end: number; step: number; times: Float64Array }[] = [];
  let end = 0;
  for (const p of pieces) ends.push({ start: end, end: (end += p.bytes.length), step: p.step, times: p.piece.packetTimes });
  const tracker = new ProgramTracker();
  const frames: SourceFrame[] = [];
  let piece = 0;
  for (let off = 0; off + TS_PACKET_SIZE <= bytes.length; off += TS_PACKET_SIZE) {
    while (off >= ends[piece]!.end) piece++;
    const kind = tracker.inspect(bytes, off);
    const pid = ((bytes[off + 1]! & 0x1f) << 8) | bytes[off + 2]!;
    if (pid !== tracker.videoPid) continue;
    const pts = pesPts(bytes, off);
    const at = ends[piece]!;
    if (pts >= 0) frames.push({ pts, step: at.step, sentMs: at.times[(off - at.start) / TS_PACKET_SIZE]! * 1000, key: kind === PacketKind.Keyframe });
  }
  return frames.sort((a, b) => a.pts - b.pts);
}

/** Past every frame before the outage: made from what the source sent after it. */
const afterOutage = (pts: number, frames: SourceFrame[]) => pts > frames.at(-1)!.pts + HALF_FRAME;

/** The source frame a client frame before the outage came from: the nearest one within half a frame. */
function sourceFrameOf(pts: number, frames: SourceFrame[]): SourceFrame | null {
  let lo = 0;
  let hi = frames.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (frames[mid]!.pts < pts) lo = mid + 1;
    else hi = mid;
  }
  let best: SourceFrame | null = null;
  for (const f of [frames[lo - 1], frames[lo]]) if (f && (!best || Math.abs(f.pts - pts) < Math.abs(best.pts - pts))) best = f;
  return best && Math.abs(best.pts - pts) <= HALF_FRAME ? best : null;
}

/** ms after a piece starts that the source sends its first audio PES (any PES not on the video PID). */
function firstAudioSentMs(piece: SourcePiece): number {
  const tracker = new ProgramTracker();
  const b = piece.bytes;
  for (let off = 0; off + TS_PACKET_SIZE <= b.length; off += TS_PACKET_SIZE) {
    tracker.inspect(b, off);
    const pid = ((b[off + 1]! & 0x1f) << 8) | b[off + 2]!;
    if (tracker.videoPid >= 0 && pid !== tracker.videoPid && pesPts(b, off) >= 0) return piece.packetTimes[off / TS_PACKET_SIZE]! * 1000;
  }
  return NaN;
}

/** The script step a client frame came from, or null when it matches no source frame. */
function stepOf(pts: number, frames: SourceFrame[]): number | null {
  return afterOutage(pts, frames) ? OUTAGE_STEP + 1 : (sourceFrameOf(pts, frames)?.step ?? null);
}

// ---------------------------------------------------------------- client frames

/** Video frames (PES starts) of a client's stream with their arrival time, scanned as chunks come. */
interface ClientFrame {
  pts: number;
  /** Date.now when the chunk holding the frame's first packet arrived. */
  at: number;
  /** A keyframe (random_access_indicator on its first packet): a player can start here. */
  key: boolean;
}

class ArrivingFrames {
  readonly frames: ClientFrame[] = [];
  private readonly tracker = new ProgramTracker();
  private scanned = 0;
  private rest: Uint8Array = new Uint8Array(0);
  private ended = false;

  constructor(readonly recorder: StreamRecorder) {
    void recorder.finished.then(() => (this.ended = true));
  }

  private scan(): void {
    const chunks = this.recorder.chunks;
    for (; this.scanned < chunks.length; this.scanned++) {
      const { at, bytes } = chunks[this.scanned]!;
      const buf = this.rest.length ? concat([this.rest, bytes]) : bytes;
      let off = 0;
      while (off + TS_PACKET_SIZE <= buf.length) {
        if (buf[off] !== 0x47) {
          off++; // resync
          continue;
        }
        const kind = this.tracker.inspect(buf, off);
        const pid = ((buf[off + 1]! & 0x1f) << 8) | buf[off + 2]!;
        if (pid !== PID_NULL && pid === this.tracker.videoPid) {
          const pts = pesPts(buf, off);
          if (pts >= 0) this.frames.push({ pts, at, key: kind === PacketKind.Keyframe });
        }
        off += TS_PACKET_SIZE;
      }
      this.rest = buf.slice(off);
    }
  }

  /** The first frame (in arrival order) that `match` accepts, waiting on new bytes until `deadline` (Date.now). */
  async first(match: (f: ClientFrame) => boolean, deadline: number): Promise<ClientFrame | null> {
    let from = 0;
    for (;;) {
      this.scan();
      for (; from < this.frames.length; from++) if (match(this.frames[from]!)) return this.frames[from]!;
      const left = deadline - Date.now();
      if (left <= 0 || this.ended) return null;
      await this.recorder.waitForBytes(1, this.recorder.total, left).catch(() => {});
    }
  }

  /** The frames that arrived before `until` (Date.now). */
  before(until: number): ClientFrame[] {
    this.scan();
    return this.frames.filter((f) => f.at < until);
  }
}

// ---------------------------------------------------------------- one run

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`source-changes bench: timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

interface RunResult {
  ms: Record<Profile, Record<ChangeKind, number>>;
  fromKeyframeMs: Record<Profile, number>;
  stallMs: Record<Profile, number>;
  steadyMs: Record<Profile, number>;
  steadyKeyMs: Record<Profile, number>;
  detectedMs: Record<ChangeKind, number>;
  restartedMs: Record<ChangeKind, number>;
  matched: Record<Profile, number>;
}

const logTime = (l: LogLine) => Date.parse(String(l.ts));

async function runOnce(cluster: TestCluster, id: string, steps: ScriptStep[], frames: SourceFrame[]): Promise<RunResult> {
  const source: ChangingSource = startChangingSource(steps);
  const recorders: StreamRecorder[] = [];
  const logFrom = cluster.coordinator.proc.lines.length;
  try {
    await cluster.createSource(id, source.url);
    const base = `${cluster.coordinator.httpUrl}/stream/${id}`;
    // The first request connects the source, which starts the script.
    recorders.push(...(await Promise.all(PROFILES.map((p) => StreamRecorder.open(`${base}/${p}`)))));
    const clients = { transcode: new ArrivingFrames(recorders[0]!), copy: new ArrivingFrames(recorders[1]!) };
    const startedAt = await source.started;
    for (const c of Object.values(clients)) await c.first(() => true, startedAt + 20_000);
    // Both clients must be playing before the first change, or the lead-in is too short for this machine.
    if (source.steps[1]!.startedAt !== undefined) throw new Error('harness: a client got no video before the first change; lengthen the lead-in');
    await source.done;
    const deadline = Date.now() + DRAIN_MS;
    const at = (step: number) => source.steps[step]!.startedAt!;
    const ms = { transcode: {}, copy: {} } as RunResult['ms'];
    for (const [name, client] of Object.entries(clients) as [Profile, ArrivingFrames][]) {
      for (const c of CHANGES) {
        const frame = await client.first((f) => (stepOf(f.pts, frames) ?? -1) >= c.step, deadline);
        ms[name][c.kind] = frame ? frame.at - at(c.step) : NaN;
      }
    }
    // After the outage the upstream joins the live source mid-GOP, and the running FFmpeg
    // gets those frames before the restart (which waits for the next keyframe) replaces it.
    // The first frame a player shows without the old content is made from that keyframe or
    // later: its PTS is the copy's first keyframe after the outage (one timeline for both).
    const key = await clients.copy.first((f) => f.key && afterOutage(f.pts, frames), deadline);
    const outageEnd = at(OUTAGE_STEP + 1);
    const fromKeyframeMs = {} as RunResult['fromKeyframeMs'];
    const stallMs = {} as RunResult['stallMs'];
    for (const [name, client] of Object.entries(clients) as [Profile, ArrivingFrames][]) {
      const frame = key ? await client.first((f) => f.pts >= key.pts - HALF_FRAME && afterOutage(f.pts, frames), deadline) : null;
      fromKeyframeMs[name] = frame ? frame.at - outageEnd : NaN;
      // The stall in between: the restart drops the old FFmpeg's frames before the new one has any.
      const between = frame ? client.before(frame.at + 1).filter((f) => afterOutage(f.pts, frames)) : [];
      stallMs[name] = between.length > 1 ? Math.max(...between.slice(1).map((f, i) => f.at - between[i]!.at)) : NaN;
    }
    const matched = {} as RunResult['matched'];
    const steadyMs = {} as RunResult['steadyMs'];
    const steadyKeyMs = {} as RunResult['steadyKeyMs'];
    for (const [name, client] of Object.entries(clients) as [Profile, ArrivingFrames][]) {
      const before = client.before(at(OUTAGE_STEP));
      matched[name] = before.filter((f) => sourceFrameOf(f.pts, frames)).length / before.length;
      // Steady state: lead-in frames sent over a second after the client's first frame (past the join burst).
      const joined = before[0]!.at;
      const lags = before.flatMap((f) => {
        const s = sourceFrameOf(f.pts, frames);
        const sent = s && s.step === 0 ? at(0) + s.sentMs : NaN;
        return sent >= joined + 1000 ? [{ ms: f.at - sent, key: s!.key }] : [];
      });
      steadyMs[name] = median(lags.map((l) => l.ms));
      // A keyframe is several times a P-frame: its last packet, which FFmpeg waits for, leaves the source later.
      steadyKeyMs[name] = median(lags.filter((l) => l.key).map((l) => l.ms));
    }
    // What the coordinator said, and when (its log's ts, the same machine clock).
    const lines = cluster.coordinator.proc.lines.slice(logFrom);
    const detectedMs = {} as RunResult['detectedMs'];
    const restartedMs = {} as RunResult['restartedMs'];
    for (const c of CHANGES) {
      const t0 = at(c.step);
      const seen = lines.find((l) => l.msg === 'source event' && l.sourceId === id && c.events.includes(String(l.kind)) && logTime(l) >= t0);
      detectedMs[c.kind] = seen ? logTime(seen) - t0 : NaN;
      const next = CHANGES.find((n) => n.step > c.step);
      const restarted = lines.find((l) => l.msg === 'variant restarted' && l.variant === `${id}/${TRANSCODE.id}` && logTime(l) >= t0);
      // Only a restart before the next change answers this one.
      restartedMs[c.kind] = c.restarts && restarted && (!next || logTime(restarted) < at(next.step)) ? logTime(restarted) - t0 : NaN;
    }
    return { ms, fromKeyframeMs, stallMs, steadyMs, steadyKeyMs, detectedMs, restartedMs, matched };
  } finally {
    await Promise.all(recorders.map((r) => r.close()));
    source.stop();
    // The variants end after the idle grace: the next run must not share the cores with them.
    await until(`the jobs of ${id} to end`, async () => {
      const { body } = await cluster.coordinator.api<{ sourceId: string }[]>('/api/jobs?state=running');
      return !body.some((j) => j.sourceId === id);
    });
  }
}

// ---------------------------------------------------------------- FFmpeg alone

/**
 * The worker's FFmpeg command reading a live source of one piece over HTTP (piped to its
 * stdin, as the worker's FFmpeg is fed): ms from the source's first byte to FFmpeg's first output byte.
 */
async function ffmpegStartup(spec: TranscodeSpec, piece: SourcePiece): Promise<number> {
  const source = startChangingSource([{ piece }]);
  const proc = Bun.spawn(['ffmpeg', ...buildFfmpegArgs(spec)], { stdin: 'pipe', stdout: 'pipe', stderr: 'ignore' });
  try {
    const res = await fetch(source.url);
    const startedAt = await source.started;
    void (async () => {
      try {
        for await (const chunk of res.body!) {
          proc.stdin.write(chunk);
          await proc.stdin.flush();
        }
        await proc.stdin.end();
      } catch {
        // FFmpeg killed after its first byte
      }
    })();
    const first = await proc.stdout.getReader().read();
    if (first.done) throw new Error(`ffmpeg (${spec.encoder}) ended without output`);
    return Date.now() - startedAt;
  } finally {
    proc.kill('SIGKILL');
    await proc.exited;
    source.stop();
  }
}

// ---------------------------------------------------------------- the benchmark

function noteMachine(stage: string, into: string[]): void {
  const tests = otherTestRuns();
  if (tests > 0) into.push(`${stage}: ${tests} other \`bun test\` process(es), load ${loadAverage().toFixed(2)}`);
}

export async function benchSourceChanges(o: { quick: boolean; log: (s: string) => void; runs?: number }): Promise<SourceChangesResult> {
  const runs = o.runs ?? (o.quick ? 2 : 5);
  const disturbance: string[] = [];
  noteMachine('start', disturbance);
  const pieces = await makeSourcePieces();
  const steps = script(pieces);
  const frames = restampedSourceFrames(steps.slice(0, OUTAGE_STEP));
  const changes: ChangeResult[] = CHANGES.map((c) => {
    const step = steps[c.step]!;
    const sourceAudioLagMs = c.step < OUTAGE_STEP && 'piece' in step ? firstAudioSentMs(step.piece) : NaN;
    return { kind: c.kind, label: c.label, restarts: c.restarts, input: c.input, ms: { transcode: [], copy: [] }, detectedMs: [], restartedMs: [], sourceAudioLagMs };
  });
  const matched: Record<Profile, number> = { transcode: 1, copy: 1 };
  const outageFromKeyframeMs: Record<Profile, number[]> = { transcode: [], copy: [] };
  const outageStallMs: Record<Profile, number[]> = { transcode: [], copy: [] };
  const steadyMs: Record<Profile, number[]> = { transcode: [], copy: [] };
  const steadyKeyMs: Record<Profile, number[]> = { transcode: [], copy: [] };
  const cluster = benchCluster();
  try {
    await cluster.startCoordinator();
    await cluster.startWorker('sc', { TVARR_MAX_JOBS: '4', TVARR_MAX_CPU_JOBS: '3', TVARR_PROBE_TIMEOUT_MS: '30000' }, { registerTimeoutMs: 300_000 });
    await cluster.createProfile(TRANSCODE);
    await cluster.createProfile(COPY);
    for (let i = 1; i <= runs; i++) {
      const r = await runOnce(cluster, `sc-${i}`, steps, frames);
      for (const c of changes) {
        for (const p of ['transcode', 'copy'] as Profile[]) c.ms[p].push(r.ms[p][c.kind]);
        c.detectedMs.push(r.detectedMs[c.kind]);
        c.restartedMs.push(r.restartedMs[c.kind]);
      }
      for (const p of ['transcode', 'copy'] as Profile[]) {
        matched[p] = Math.min(matched[p], r.matched[p]);
        outageFromKeyframeMs[p].push(r.fromKeyframeMs[p]);
        outageStallMs[p].push(r.stallMs[p]);
        steadyMs[p].push(r.steadyMs[p]);
        steadyKeyMs[p].push(r.steadyKeyMs[p]);
      }
      const show = (p: Profile) => `${CHANGES.map((c) => `${c.kind} ${r.ms[p][c.kind].toFixed(0)}`).join(', ')}, outage-end keyframe ${r.fromKeyframeMs[p].toFixed(0)} (stall ${r.stallMs[p].toFixed(0)}), steady ${r.steadyMs[p].toFixed(0)} (keyframes ${r.steadyKeyMs[p].toFixed(0)})`;
      o.log(`  source changes run ${i}/${runs}: transcode ${show('transcode')}; copy ${show('copy')} ms (frames matched ${(r.matched.transcode * 100).toFixed(0)}% / ${(r.matched.copy * 100).toFixed(0)}%)`);
    }
  } catch (err) {
    o.log(`source-changes bench failed; coordinator log tail:\n${cluster.coordinator?.proc.rawTail.slice(-25).join('\n')}`);
    throw err;
  } finally {
    await cluster.stop();
  }
  // A client frame that matches no source frame means the measure itself is off.
  for (const p of ['transcode', 'copy'] as Profile[]) {
    if (!(matched[p] >= 0.9)) throw new Error(`source-changes bench: only ${(matched[p] * 100).toFixed(0)}% of the ${p} client's frames match a source frame`);
  }
  const ffmpegStartMs: SourceChangesResult['ffmpegStartMs'] = { transcode: { h264: [], hevc: [] }, copy: { h264: [], hevc: [] } };
  for (let i = 0; i < Math.max(3, runs); i++) {
    for (const p of ['transcode', 'copy'] as Profile[]) {
      ffmpegStartMs[p].h264.push(await ffmpegStartup(SPECS[p], pieces.leadIn));
      ffmpegStartMs[p].hevc.push(await ffmpegStartup(SPECS[p], pieces.hevc));
    }
  }
  o.log(`  FFmpeg alone: ${JSON.stringify(ffmpegStartMs)}`);
  noteMachine('end', disturbance);
  return {
    date: new Date().toISOString(),
    machine: machineInfo(),
    quick: o.quick,
    runs,
    outageMs: OUTAGE_MS,
    leadInSeconds: pieces.leadIn.seconds,
    pieceSeconds: pieces.adBreak.seconds,
    changes,
    outageFromKeyframeMs,
    outageStallMs,
    steadyMs,
    steadyKeyMs,
    ffmpegStartMs,
    matched,
    disturbance,
  };
}

if (import.meta.main) {
  const { sourceChangesSection } = await import('./source-changes-report');
  const quick = process.argv.includes('--quick');
  const r = await benchSourceChanges({ quick, log: (s) => console.error(s) });
  console.log(sourceChangesSection(r));
  process.exit(0);
}
