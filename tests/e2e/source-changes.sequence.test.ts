// Issue 21: one live MPEG-TS source over HTTP does, one step after another, what IPTV
// providers' streams do (tests/helpers/changing-source.ts): another resolution, HEVC,
// timestamps an hour back, a 4 s outage, timestamps 5.4 h ahead, AC-3 5.1 instead of AAC,
// a PTS/PCR wrap at 2^33. Three viewers watch the whole script: the tiny H.264 profile as
// MPEG-TS and as HLS, and a copy profile as MPEG-TS. Every phase of every output must
// decode cleanly, the transcode keep the profile's format, the copy's PMT describe what
// it carries, every timeline break be hidden (the coordinator restamps onto one
// timeline), nobody be disconnected, and no viewer wait over 2 s except for the outage.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { FAST_LIVENESS, TestCluster, TINY_H264_PROFILE } from '../helpers/cluster';
import { issue21Script, makeSourcePieces, startChangingSource, type ChangingSource } from '../helpers/changing-source';
import { concat, decodeErrors } from '../helpers/media';
import {
  arrivalGaps,
  arrivalsPerStep,
  checkDtsSteps,
  continuityErrors,
  decodedFrames,
  describePart,
  discontinuityRuns,
  HlsRecorder,
  mediaSequenceProblems,
  pmtMismatches,
  runDtsSteps,
  splitAtProgramChanges,
  videoArrivalTimes,
  videoDecodeTimes,
  type DecodedFrames,
  type GapRules,
  type PartReport,
  type TsPart,
} from '../helpers/source-change-checks';
import { StreamRecorder } from '../helpers/stream-recorder';

const SOURCE = 'changing';
const TRANSCODE = TINY_H264_PROFILE;
const COPY = { id: 'copy', name: 'copy', videoCodec: 'copy', audioCodec: 'copy' };
const OUTAGE_MS = 4000;
// Largest wait for the next frame outside the outage, and how soon after the source's
// return media must be flowing again (issue 21).
const GAP_LIMIT_MS = 2000;
const RESUME_WITHIN_MS = 2000;
const MAX_DTS_STEP_S = 3;
// The programs the copy must carry, in order (PMT versions 0, 1, 2, 3 in the source).
const COPY_PROGRAMS = ['h264+aac', 'hevc+aac', 'h264+aac', 'h264+ac3'];
const SOURCE_PROGRAM_CHANGES = COPY_PROGRAMS.length - 1;

interface TsClientResult {
  name: string;
  bytes: Uint8Array;
  parts: TsPart[];
  reports: PartReport[];
  arrivals: number[];
  /** How the recorder ended before the script did ('end', 'error: ...'), or null: still open. */
  endedEarly: string | null;
}

const cluster = new TestCluster({ env: FAST_LIVENESS });
let source: ChangingSource | undefined;
const recorders: StreamRecorder[] = [];
let hls: HlsRecorder | undefined;

// Filled by beforeAll, read by the tests.
let ts: TsClientResult;
let copy: TsClientResult;
let hlsTarget = 0;
let endAt = 0;
let gapRules: GapRules;

/** What a viewer had got by `until` (the end of the script), and whether it was still connected then. */
async function finishTsClient(name: string, rec: StreamRecorder, endedEarly: string | null, until: number): Promise<TsClientResult> {
  await rec.close();
  const chunks = rec.chunks.filter((c) => c.at <= until);
  const all = concat(chunks.map((c) => c.bytes));
  const bytes = all.subarray(0, all.length - (all.length % 188));
  const parts = splitAtProgramChanges(bytes);
  const reports = await Promise.all(parts.map(describePart));
  return { name, bytes, parts, reports, arrivals: videoArrivalTimes(chunks), endedEarly };
}

function watchEnd(rec: StreamRecorder): () => string | null {
  let ended: string | null = null;
  void rec.finished.then((how) => (ended = how));
  return () => ended;
}

/** A part's program as carried: "video+audio" from the elementary streams' own headers. */
function carriedProgram(part: TsPart): string {
  const video = part.pmt?.videoPid ?? -1;
  const codecs = [...part.carried].map(([pid, c]) => ({ video: pid === video, codec: c.filter((x) => x !== 'unknown').join('|') }));
  return [...codecs.filter((c) => c.video), ...codecs.filter((c) => !c.video)].map((c) => c.codec).join('+');
}

function collapse(list: string[]): string[] {
  return list.filter((x, i) => x !== '' && x !== list[i - 1]);
}

const firstLines = (text: string) => (text.includes('\n') ? `${text.split('\n').length} lines, first: ${text.split('\n')[0]}` : text);

/** What each viewer got per phase, and what the coordinator said: the first place to look when a test below fails. */
function logSummary(lastPollMs: number): void {
  const steps = source!.steps;
  const perStep = (times: number[]) => arrivalsPerStep(steps, times);
  const tsView = (c: TsClientResult) => ({
    bytes: c.bytes.length,
    endedEarly: c.endedEarly,
    videoFramesPerStep: perStep(c.arrivals),
    parts: c.reports.map((r) => ({ ...r, decodeErrors: firstLines(r.decodeErrors) })),
  });
  const said = cluster.coordinator.proc.lines
    .filter((l) => l.level === 'warn' || l.level === 'error' || /source|variant|hls/.test(l.msg ?? ''))
    .map((l) => `${l.level} ${l.msg} ${JSON.stringify({ ...l, msg: undefined, level: undefined, ts: undefined, component: undefined })}`);
  const summary = {
    steps: steps.map((s) => ({ label: s.label, atMs: s.startedAt! - steps[0]!.startedAt! })),
    sourceConnections: source!.connections,
    ts: tsView(ts),
    copy: tsView(copy),
    hls: { segments: hls!.segments.length, segmentsPerStep: perStep(hls!.segments.map((s) => s.at)), lastPollMs, errors: hls!.errors.slice(-5) },
    coordinator: said.slice(-60),
  };
  console.log(JSON.stringify(summary, null, 1));
}

describe('a source that changes codec, resolution, timeline and audio, with an outage', () => {
  beforeAll(async () => {
    const pieces = await makeSourcePieces();
    source = startChangingSource(issue21Script(pieces, OUTAGE_MS));
    await cluster.startCoordinator({
      TVARR_SOURCE_OUTAGE_LIMIT_MS: '20000',
      TVARR_STALL_TIMEOUT_MS: '4000',
      TVARR_IDLE_GRACE_MS: '3000',
    });
    await cluster.startWorker('w', { TVARR_MAX_JOBS: '3', TVARR_MAX_CPU_JOBS: '3' });
    await cluster.createSource(SOURCE, source.url);
    await cluster.createProfile(TRANSCODE);
    await cluster.createProfile(COPY);

    // The first viewer's request connects the source, which starts the script.
    const base = `${cluster.coordinator.httpUrl}/stream/${SOURCE}`;
    const [tsRec, copyRec] = await Promise.all([StreamRecorder.open(`${base}/${TRANSCODE.id}`), StreamRecorder.open(`${base}/${COPY.id}`)]);
    recorders.push(tsRec, copyRec);
    const tsEnded = watchEnd(tsRec);
    const copyEnded = watchEnd(copyRec);
    hls = new HlsRecorder(`${base}/${TRANSCODE.id}.m3u8`);
    await Promise.all([tsRec.waitForBytes(40_000, 0, 20_000), copyRec.waitForBytes(40_000, 0, 20_000), hls.waitForSegments(1, 20_000)]);
    // The first change must find every viewer playing; otherwise the lead-in is too short for this machine.
    if (source.steps[1]!.startedAt !== undefined) throw new Error('harness: the viewers were not all playing before the first source change; lengthen the lead-in');

    await source.done;
    endAt = Date.now();
    const endedEarly = { ts: tsEnded(), copy: copyEnded() };
    const lastPollAt = hls.polls.at(-1)?.at ?? 0;
    await hls.stop();
    // A segment still in flight at the end may land after it: only what came by the end counts.
    const late = hls.segments.findIndex((s) => s.at > endAt);
    if (late >= 0) hls.segments.splice(late);
    [ts, copy] = await Promise.all([finishTsClient('transcode ts', tsRec, endedEarly.ts, endAt), finishTsClient('copy ts', copyRec, endedEarly.copy, endAt)]);
    // TEST_DUMP_DIR=<dir> keeps what the viewers got, for a look with ffprobe or a player.
    const dump = process.env.TEST_DUMP_DIR;
    if (dump) {
      await Bun.write(`${dump}/transcode.ts`, ts.bytes);
      await Bun.write(`${dump}/copy.ts`, copy.bytes);
      await Bun.write(`${dump}/transcode-hls.ts`, concat(hls.segments.map((s) => s.bytes)));
    }
    hlsTarget = hls.polls.find((p) => p.targetDuration !== undefined)?.targetDuration ?? 2;
    const outage = source.steps.find((s) => s.kind === 'outage')!;
    gapRules = { limitMs: GAP_LIMIT_MS, resumeWithinMs: RESUME_WITHIN_MS, outages: [{ start: outage.startedAt!, end: outage.endedAt! }] };

    logSummary(lastPollAt - endAt);
  }, 120_000);

  afterAll(async () => {
    await hls?.stop();
    await Promise.all(recorders.map((r) => r.close()));
    source?.stop();
    await cluster.stop();
  });

  test('every phase of every output decodes with 0 FFmpeg errors', async () => {
    const errors: string[] = [];
    for (const client of [ts, copy]) {
      for (const r of client.reports) if (r.decodeErrors) errors.push(`${client.name} part ${r.index} (PMT v${r.pmtVersion}): ${r.decodeErrors.split('\n').slice(0, 3).join(' | ')}`);
    }
    const runs = discontinuityRuns(hls!.segments);
    const decoded = await Promise.all(runs.map((run) => decodeErrors(concat(run.map((s) => s.bytes)))));
    decoded.forEach((e, i) => e && errors.push(`hls run ${i} (segments ${runs[i]![0]!.sequence}-${runs[i]!.at(-1)!.sequence}): ${e.split('\n').slice(0, 3).join(' | ')}`));
    // Continuity counters too: a player counts a jump as lost data.
    for (const client of [ts, copy]) {
      const cc = continuityErrors(client.bytes);
      if (cc > 0) errors.push(`${client.name}: ${cc} continuity counter errors`);
    }
    expect(errors).toEqual([]);
  });

  test("the transcode is the profile's codec and size in every frame, with the same AAC audio throughout", async () => {
    const problems: string[] = [];
    const size = `${TRANSCODE.width}x${TRANSCODE.height}`;
    const checkFrames = (name: string, f: DecodedFrames) => {
      const sizes = Object.keys(f.videoSizes);
      if (sizes.length !== 1 || sizes[0] !== size) problems.push(`${name}: frame sizes ${JSON.stringify(f.videoSizes)}`);
      const channels = Object.keys(f.audioChannels);
      if (channels.length !== 1) problems.push(`${name}: audio channel counts ${JSON.stringify(f.audioChannels)}`);
    };
    checkFrames('transcode ts', await decodedFrames(ts.bytes));
    checkFrames('transcode hls', await decodedFrames(concat(hls!.segments.map((s) => s.bytes))));
    for (const r of ts.reports) {
      const codecs = r.probed.map((s) => `${s.type}:${s.codec}`).sort();
      if (codecs.join() !== 'audio:aac,video:h264') problems.push(`transcode ts part ${r.index}: ffprobe finds ${codecs.join()}`);
      const carried = Object.values(r.carried).flat().filter((c) => c !== 'unknown').sort();
      if (carried.join() !== 'aac,h264') problems.push(`transcode ts part ${r.index}: carries ${carried.join()}`);
    }
    for (const part of [...ts.parts, ...splitAtProgramChanges(concat(hls!.segments.map((s) => s.bytes)))]) problems.push(...pmtMismatches(part));
    expect(problems).toEqual([]);
  });

  test("the copy's PMT describes what it carries, with a new version at each program change", () => {
    const problems = copy.parts.flatMap(pmtMismatches);
    for (let i = 1; i < copy.parts.length; i++) {
      const [a, b] = [copy.parts[i - 1]!, copy.parts[i]!];
      if (carriedProgram(a) !== carriedProgram(b) && a.pmt?.version === b.pmt?.version) {
        problems.push(`parts ${a.index} and ${b.index}: ${carriedProgram(a)} then ${carriedProgram(b)} under the same PMT version ${a.pmt?.version}`);
      }
    }
    expect(problems).toEqual([]);
    // Every phase reached the copy's viewer, each program under its own PMT.
    expect(collapse(copy.parts.map(carriedProgram))).toEqual(COPY_PROGRAMS);
  });

  test('every timeline break is hidden: video decode times step forward, under 3 s, on all three viewers', () => {
    const problems: string[] = [];
    for (const client of [ts, copy]) {
      const report = checkDtsSteps(videoDecodeTimes(client.bytes), MAX_DTS_STEP_S);
      for (const p of report.problems) problems.push(`${client.name} byte ${p.at}: ${p.from.toFixed(3)} -> ${p.to.toFixed(3)} s (${p.step.toFixed(3)} s${p.flagged ? ', flagged' : ''})`);
      if (report.frames < 100) problems.push(`${client.name}: only ${report.frames} video frames`);
    }
    const runs = discontinuityRuns(hls!.segments);
    runs.forEach((run, i) => {
      for (const p of runDtsSteps(run, MAX_DTS_STEP_S).problems) problems.push(`hls run ${i}: ${p.from.toFixed(3)} -> ${p.to.toFixed(3)} s (${p.step.toFixed(3)} s)`);
    });
    // HLS may mark a discontinuity only where the source's program changed.
    const discontinuities = hls!.segments.filter((s) => s.discontinuity).length;
    if (discontinuities > SOURCE_PROGRAM_CHANGES) problems.push(`hls: ${discontinuities} discontinuities, more than the ${SOURCE_PROGRAM_CHANGES} program changes`);
    problems.push(...mediaSequenceProblems(hls!.polls, hls!.segments).map((p) => `hls: ${p}`));
    expect(problems).toEqual([]);
  });

  test('no viewer is disconnected: both streams open at the end of the script, the playlist answers 200 and grows', () => {
    expect({ ts: ts.endedEarly, copy: copy.endedEarly }).toEqual({ ts: null, copy: null });
    const failedPolls = hls!.polls.filter((p) => p.status !== 200).map((p) => `${p.status} at +${p.at - source!.steps[0]!.startedAt!} ms`);
    expect(failedPolls).toEqual([]);
    // Segments kept coming until the end: some arrived during the last step.
    const lastStep = source!.steps.at(-1)!;
    expect(hls!.segments.filter((s) => s.at >= lastStep.startedAt!).length).toBeGreaterThan(0);
  });

  test('no viewer waits over 2 s for media, except the outage (media back within 2 s of the source)', () => {
    const start = source!.steps[0]!.startedAt!;
    const show = (g: { from: number; to: number; ms: number }) => `${g.ms} ms from +${g.from - start} to +${g.to - start} ms`;
    const violations: Record<string, string[]> = {
      'transcode ts': arrivalGaps(ts.arrivals, endAt, gapRules).violations.map(show),
      'copy ts': arrivalGaps(copy.arrivals, endAt, gapRules).violations.map(show),
      // A segment is listed a target duration after its first frame and seen up to one
      // poll (half a target duration) later: HLS gets that much more on either bound.
      'transcode hls': arrivalGaps(
        hls!.segments.map((s) => s.at),
        endAt,
        { ...gapRules, limitMs: GAP_LIMIT_MS + hlsTarget * 1500, resumeWithinMs: RESUME_WITHIN_MS + hlsTarget * 1500 },
      ).violations.map(show),
    };
    expect(violations).toEqual({ 'transcode ts': [], 'copy ts': [], 'transcode hls': [] });
  });
});
