// The "## Sources that change (issue 21)" section of docs/BENCHMARKS.md, from one run of
// bench/source-changes.ts. It carries its own machine and date: run.ts rewrites the
// file's header on every run, also when only another section was measured.
import { fmt, median } from './common';
import type { ChangeResult, Profile, SourceChangesResult } from './source-changes';

const max = (xs: number[]) => (xs.some((x) => !Number.isFinite(x)) ? NaN : Math.max(...xs));
/** p50 of the finite values; "n/a" when none. */
const p50 = (xs: number[]) => median(xs.filter(Number.isFinite));
const missing = (xs: number[]) => xs.filter((x) => !Number.isFinite(x)).length;

function cells(c: ChangeResult, p: Profile, r: SourceChangesResult): string[] {
  const base = p50(r.ffmpegStartMs[p][c.input]);
  const lost = missing(c.ms[p]);
  return [fmt(p50(c.ms[p]), 0), `${fmt(max(c.ms[p]), 0)}${lost ? ` (${lost} run${lost > 1 ? 's' : ''} without new media)` : ''}`, fmt(p50(c.ms[p]) / base, 2)];
}

export function sourceChangesSection(r: SourceChangesResult): string {
  const m = r.machine;
  const ff = r.ffmpegStartMs;
  const rows = r.changes.map((c) => {
    const reaction = c.restarts ? 'new attempt (new FFmpeg)' : 'followed by the running FFmpeg';
    return `| ${c.label} | ${reaction} | ${c.ms.transcode.length} | ${cells(c, 'transcode', r).join(' | ')} | ${cells(c, 'copy', r).join(' | ')} | ${fmt(p50(c.detectedMs), 0)} | ${c.restarts ? fmt(p50(c.restartedMs), 0) : ''} |`;
  });
  const lostKey = (p: Profile) => missing(r.outageFromKeyframeMs[p]);
  const keyCells = (p: Profile) => {
    const xs = r.outageFromKeyframeMs[p];
    return [fmt(p50(xs), 0), `${fmt(max(xs), 0)}${lostKey(p) ? ` (${lostKey(p)} without)` : ''}`, fmt(p50(xs) / p50(r.ffmpegStartMs[p].h264), 2)];
  };
  const keyRow = `| outage end, to the first frame from a keyframe on (a player's first clean picture) | new attempt (new FFmpeg) | ${r.outageFromKeyframeMs.transcode.length} | ${keyCells('transcode').join(' | ')} | ${keyCells('copy').join(' | ')} | | |`;
  const steadyRow = `| no change: a lead-in frame, source to client (p50 of each run's p50) | | ${r.steadyMs.transcode.length} | ${fmt(p50(r.steadyMs.transcode), 0)} | ${fmt(max(r.steadyMs.transcode), 0)} | | ${fmt(p50(r.steadyMs.copy), 0)} | ${fmt(max(r.steadyMs.copy), 0)} | | | |`;
  const ffRow = (input: 'h264' | 'hevc') =>
    `| FFmpeg alone on the ${input === 'h264' ? 'H.264' : 'HEVC'} piece (worker's command, live source, to first output byte) | | ${ff.transcode[input].length} | ${fmt(p50(ff.transcode[input]), 0)} | ${fmt(max(ff.transcode[input]), 0)} | | ${fmt(p50(ff.copy[input]), 0)} | ${fmt(max(ff.copy[input]), 0)} | | | |`;
  const byKind = (k: ChangeResult['kind']) => r.changes.find((c) => c.kind === k)!;
  const follow = (['resolution', 'timestamps'] as const).map((k) => p50(byKind(k).ms.transcode));
  const restart = (['codec', 'codec-timestamps', 'outage-end'] as const).map((k) => byKind(k));
  const outage = byKind('outage-end');
  const quiet = r.disturbance.length ? `**not quiet**: ${r.disturbance.join('; ')}` : 'quiet: no other `bun test` runs at the start or the end';
  return [
    '## Sources that change (issue 21)',
    '',
    `Run ${r.date} by \`bun run bench --only=source-changes\` (bench/source-changes.ts), ${r.quick ? '**quick** (fewer runs)' : 'full run'}; ${quiet}. Machine: ${m.cpuModel}, nproc ${m.nproc}, ${m.memGiB.toFixed(1)} GiB RAM, Linux ${m.kernel}; Bun ${m.bun}; ${m.ffmpeg}; everything on this one machine over loopback.`,
    '',
    `Set-up: one coordinator and one worker (production defaults for the source: reconnect backoff up to 500 ms, TVARR_SOURCE_RETRY_MAX_MS); two profiles, the tiny H.264 transcode (320x240, 400 kbit/s, GOP 25, ultrafast, AAC) and a copy; one MPEG-TS client of each. Each run is a new source (tests/helpers/changing-source.ts, paced by its PCR, 25 fps, a keyframe every second) playing once: a ${r.leadInSeconds} s lead-in, then ${r.pieceSeconds} s pieces: 256x144, HEVC, H.264 again with timestamps an hour back, the same program with timestamps 5.4 h ahead, ${r.outageMs / 1000} s in which nothing listens on the port, and the last piece again (its timestamps 3.2 s back). ${r.runs} runs.`,
    '',
    'The measure: from the moment the source server starts sending the changed content (for the outage: starts listening again) to the arrival, at the TS client of the profile, of the first video frame made from the new content (the chunk holding its first TS packet). Which frames are new: the coordinator restamps the source onto one timeline and workers keep timestamps, so the bench restamps the same source bytes with the same TimelineRestamper and matches each client frame to the source frame with the nearest PTS (within half a frame); after the outage, any PTS past the last frame before it. ' +
      `Share of the clients' frames before the outage that matched a source frame (the measure's own check), lowest run: transcode ${fmt(r.matched.transcode * 100, 0)}%, copy ${fmt(r.matched.copy * 100, 0)}%. "ratio" = p50 / p50 of FFmpeg alone on the new content's codec (HEVC for the change to HEVC, H.264 otherwise): the worker's own command (worker/runner/build-args.ts) fed over a pipe from the same kind of live source, from the source's first byte to FFmpeg's first output byte, run after the cluster is stopped. "seen" = ms to the coordinator's \`source event\` log line (timeline breaks are logged at most once per 10 s per source, so the second break of a run is often not logged: n/a); "restarted" = ms to its \`variant restarted\` line (the new attempt dispatched) for the transcode.`,
    '',
    '| source change | coordinator reaction | runs | transcode p50 ms | transcode max ms | ratio | copy p50 ms | copy max ms | ratio | seen p50 ms | restarted p50 ms |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    keyRow,
    steadyRow,
    ffRow('h264'),
    ffRow('hevc'),
    '',
    `Reading: a change the running FFmpeg follows (another size of the same codec, a timestamp jump hidden by restamping) reaches the transcode client in ${fmt(follow[0]!, 0)} / ${fmt(follow[1]!, 0)} ms (p50): the time the frames take through the pipeline (source mux lead, FFmpeg's decode and encode, the relay). A change that needs a new FFmpeg costs about one FFmpeg start-up: ${restart.map((c) => `${c.kind} ${fmt(p50(c.ms.transcode), 0)} ms (${fmt(p50(c.ms.transcode) / p50(ff.transcode[c.input]), 2)} x)`).join(', ')} for the transcode, against ${fmt(p50(ff.transcode.h264), 0)} ms (H.264) and ${fmt(p50(ff.transcode.hevc), 0)} ms (HEVC) for FFmpeg alone; the new attempt starts at the new content's first keyframe, which comes with the change (the pieces begin with one), so no GOP is waited for. The outage end adds the reconnect: the upstream retries a refused connection with a backoff of up to 500 ms, so it connects up to that long after the source is back (seen p50 ${fmt(p50(outage.detectedMs), 0)} ms), then the restart waits for the live source's next keyframe (up to 1 s here), then FFmpeg starts.`,
  ].join('\n');
}
