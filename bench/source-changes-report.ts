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
  const steady = (label: string, xs: Record<Profile, number[]>) =>
    `| no change: ${label}, from the source's first packet of it to the client (p50 of each run's p50) | | ${xs.transcode.length} | ${fmt(p50(xs.transcode), 0)} | ${fmt(max(xs.transcode), 0)} | | ${fmt(p50(xs.copy), 0)} | ${fmt(max(xs.copy), 0)} | | | |`;
  const ffRow = (input: 'h264' | 'hevc') =>
    `| FFmpeg alone on the ${input === 'h264' ? 'H.264' : 'HEVC'} piece (worker's command, live source, to first output byte) | | ${ff.transcode[input].length} | ${fmt(p50(ff.transcode[input]), 0)} | ${fmt(max(ff.transcode[input]), 0)} | | ${fmt(p50(ff.copy[input]), 0)} | ${fmt(max(ff.copy[input]), 0)} | | | |`;
  const byKind = (k: ChangeResult['kind']) => r.changes.find((c) => c.kind === k)!;
  const t = (k: ChangeResult['kind']) => p50(byKind(k).ms.transcode);
  const ratio = (k: ChangeResult['kind']) => fmt(t(k) / p50(ff.transcode[byKind(k).input]), 2);
  const outage = byKind('outage-end');
  const restartDispatch = [...byKind('codec').restartedMs, ...byKind('codec-timestamps').restartedMs].filter(Number.isFinite);
  const keyMs = p50(r.outageFromKeyframeMs.transcode);
  const follow = r.changes.filter((c) => !c.restarts);
  const quiet = r.disturbance.length ? `**not quiet**: ${r.disturbance.join('; ')}` : 'quiet: no other `bun test` runs at the start or the end';
  return [
    '## Sources that change (issue 21)',
    '',
    `Run ${r.date} by \`bun run bench --only=source-changes\` (bench/source-changes.ts), ${r.quick ? '**quick** (fewer runs)' : 'full run'}; ${quiet}. Machine: ${m.cpuModel}, nproc ${m.nproc}, ${m.memGiB.toFixed(1)} GiB RAM, Linux ${m.kernel}; Bun ${m.bun}; ${m.ffmpeg}; everything on this one machine over loopback.`,
    '',
    `Set-up: one coordinator and one worker (production defaults for the source: reconnect backoff up to 500 ms, TVARR_SOURCE_RETRY_MAX_MS); two profiles, the tiny H.264 transcode (320x240, 400 kbit/s, GOP 25, ultrafast, AAC) and a copy; one MPEG-TS client of each. Each run is a new source (tests/helpers/changing-source.ts, paced by its PCR, 25 fps, a keyframe every second) playing once: a ${r.leadInSeconds} s lead-in, then ${r.pieceSeconds} s pieces: 256x144, HEVC, H.264 again with timestamps an hour back, the same program with timestamps 5.4 h ahead, ${r.outageMs / 1000} s in which nothing listens on the port, and the last piece again (its timestamps 3.2 s back). ${r.runs} runs.`,
    '',
    'The measure: from the moment the source server starts sending the changed content (for the outage: starts listening again) to the arrival, at the TS client of the profile, of the first video frame made from the new content (the chunk holding its first TS packet). Which frames are new: the coordinator restamps the source onto one timeline and workers keep timestamps, so the bench restamps the same source bytes with the same TimelineRestamper and matches each client frame to the source frame with the nearest PTS (within half a frame); after the outage, any PTS past the last frame before it. Every piece starts with a keyframe, so before the outage the first new frame is also the first a player shows cleanly; after it the reconnect joins mid-GOP, so the outage has a second row, to the first frame made from the first keyframe after it (its PTS taken from the copy stream, whose keyframes are those of the source). ' +
      `Share of the clients' frames before the outage that matched a source frame (the measure's own check), lowest run: transcode ${fmt(r.matched.transcode * 100, 0)}%, copy ${fmt(r.matched.copy * 100, 0)}%. "ratio" = p50 / p50 of FFmpeg alone on the new content's codec (HEVC for the change to HEVC, H.264 otherwise): the worker's own command (worker/runner/build-args.ts) fed over a pipe from the same kind of live source, from the source's first byte to FFmpeg's first output byte, run after the cluster is stopped. "seen" = ms to the coordinator's \`source event\` log line (timeline breaks are logged at most once per 10 s per source, so the second break of a run is often not logged: n/a); "restarted" = ms to its \`variant restarted\` line (the new attempt dispatched) for the transcode.`,
    '',
    '| source change | coordinator reaction | runs | transcode p50 ms | transcode max ms | ratio | copy p50 ms | copy max ms | ratio | seen p50 ms | restarted p50 ms |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    keyRow,
    steady('any lead-in frame', r.steadyMs),
    steady('a lead-in keyframe', r.steadyKeyMs),
    ffRow('h264'),
    ffRow('hevc'),
    '',
    `Reading: a change the running FFmpeg follows (another size of the same codec; a timestamp jump, hidden by restamping) reaches the transcode client in ${fmt(t('resolution'), 0)} and ${fmt(t('timestamps'), 0)} ms (p50), the copy client in ${fmt(p50(byKind('resolution').ms.copy), 0)} and ${fmt(p50(byKind('timestamps').ms.copy), 0)} ms, where a lead-in keyframe with no change takes ${fmt(p50(r.steadyKeyMs.transcode), 0)} and ${fmt(p50(r.steadyKeyMs.copy), 0)} ms (any frame ${fmt(p50(r.steadyMs.transcode), 0)} and ${fmt(p50(r.steadyMs.copy), 0)}). What holds the new content is its audio: each piece is its own FFmpeg mux, which bundles AAC into PES of ~0.35 s, so the source sends a piece's first audio PES ${follow.map((c) => fmt(c.sourceAudioLagMs, 0)).join(' and ')} ms after its first video frame, and the worker's FFmpeg writes its output in timestamp order across both streams, so it holds the new video until the new audio is there (which is why the copy, which does nothing to the frames, takes as long as the transcode). A source whose audio runs on across the change should see about the keyframe figure. ` +
      `A change that needs a new FFmpeg (another codec under a new PMT) costs one FFmpeg start-up and little more: ${fmt(t('codec'), 0)} ms to HEVC (${ratio('codec')} x FFmpeg alone on HEVC), ${fmt(t('codec-timestamps'), 0)} ms back to H.264 with the jump (${ratio('codec-timestamps')} x). The coordinator dispatches the new attempt ${fmt(median(restartDispatch), 0)} ms (p50) after the change: the restart is keyed on the new content's first keyframe, which comes with the change here (each piece starts with one). FFmpeg's start-up is mostly its probe of 0.5 s of live input (-analyzeduration 500000), so the copy costs as much as the transcode (${fmt(p50(ff.copy.h264), 0)} against ${fmt(p50(ff.transcode.h264), 0)} ms alone). ` +
      `The outage end is the slow case. New frames reach the clients ${fmt(t('outage-end'), 0)} ms (transcode) and ${fmt(p50(outage.ms.copy), 0)} ms (copy) after the source is back, but they come from the old FFmpeg, fed the reconnected source mid-GOP: the transcode decodes them against the old content's reference frames, the copy passes on P-frames without their keyframe. The restart waits for the next source keyframe ("seen" is the \`reconnected\` event, emitted when that keyframe arrives: ${fmt(p50(outage.detectedMs), 0)} ms after the source is back; the reconnect comes within the 500 ms retry backoff, after the piece's first keyframe went by, so the next one is a GOP, 1 s, later), then a new FFmpeg starts and the old one's output is dropped: the first clean picture comes ${fmt(keyMs, 0)} ms after the source is back (${fmt(keyMs / p50(ff.transcode.h264), 2)} x FFmpeg alone), and between the old FFmpeg's last frame and the new one's first the client waits (longest wait between two frames after the outage, p50: ${fmt(p50(r.outageStallMs.transcode), 0)} ms transcode, ${fmt(p50(r.outageStallMs.copy), 0)} ms copy). That is up to one GOP of the source plus one FFmpeg start-up.`,
  ].join('\n');
}
