// Builds the FFmpeg command line for a job. Input is MPEG-TS on stdin and output is
// MPEG-TS on stdout. The coordinator never sends a command line: only typed fields,
// validated by validateSpec, reach here.
import { audioDefaultKbps, presetsFor } from '../../common/transcode-rules';
import { familyOf } from '../probe/encoder-list';
import { renditionSpec, type TranscodeSpec } from './transcode-spec';

export interface BuildArgsOptions {
  /** Render node used by vaapi encoders. */
  vaapiDevice?: string;
  /** A ladder on nvenc scales on the GPU with this filter, proven by the probe (probe/gpu-scale.ts). */
  gpuScaler?: 'scale_cuda' | 'scale_npp' | null;
}

// validateSpec already refused a preset this encoder does not take; the check here keeps
// an encoder without a -preset option from ever getting one (FFmpeg would fail on it).
function acceptsPreset(encoder: string, preset: string): boolean {
  return presetsFor(encoder).includes(preset);
}

function scaleFilter(width: number, height: number): string | undefined {
  if (!width && !height) return undefined;
  // -2 keeps the aspect ratio and an even size on the side that was left at 0.
  return `scale=${width || -2}:${height || -2}`;
}

/**
 * Keyframes exactly on the source's keyframes (hot standby): FFmpeg's `source` mode keys
 * each frame that was a keyframe when decoded, so two encoders fed the same source key the
 * same frames whenever each started. The encoder's own placement is switched off (no
 * scene cuts; the GOP length only backs up a source without keyframes), so the frames
 * between two keyframes have the same structure in both outputs.
 */
export function sourceKeyframeArgs(encoder: string, gopFrames: number): string[] {
  const args = ['-force_key_frames', 'source', '-g', String(gopFrames > 0 ? 10 * gopFrames : 250)];
  // Scene cuts off, and forced keyframes as IDR frames (some encoders otherwise make them
  // plain I frames, which no decoder can start on). Option names differ per encoder.
  if (encoder === 'libx264') args.push('-sc_threshold', '0');
  else if (encoder === 'libx265') args.push('-forced-idr', '1', '-x265-params', 'scenecut=0');
  else if (encoder.endsWith('_nvenc')) args.push('-forced-idr', '1', '-no-scenecut', '1');
  else if (encoder.endsWith('_qsv')) args.push('-forced_idr', '1');
  return args;
}

function videoArgs(spec: TranscodeSpec, o: BuildArgsOptions): { global: string[]; video: string[] } {
  if (spec.encoder === 'copy') return { global: [], video: ['-c:v', 'copy'] };
  const family = familyOf(spec.encoder);
  const filters: string[] = [];
  const scale = scaleFilter(spec.width, spec.height);
  if (scale) filters.push(scale);
  const global: string[] = [];
  if (family === 'vaapi') {
    global.push('-vaapi_device', o.vaapiDevice ?? '/dev/dri/renderD128');
    filters.push('format=nv12', 'hwupload');
  } else if (family === 'software') {
    // Sources may be 10-bit or 4:2:2; players expect 8-bit 4:2:0.
    filters.push('format=yuv420p');
  }
  const video = ['-c:v', spec.encoder];
  if (filters.length) video.push('-vf', filters.join(','));
  if (spec.videoBitrateKbps > 0) {
    const k = spec.videoBitrateKbps;
    video.push('-b:v', `${k}k`, '-maxrate', `${k}k`, '-bufsize', `${k * 2}k`);
  }
  if (spec.keyframesFollowSource) {
    // A switch to this output may happen at any frame (coordinator/streams/splice-point.ts,
    // frame mode), so no splice keyframe is needed, nor wanted: it would break the alignment.
    video.push(...sourceKeyframeArgs(spec.encoder, spec.gopFrames));
  } else {
    if (spec.gopFrames > 0) video.push('-g', String(spec.gopFrames));
    // A failover attempt fed from the source's current GOP puts a keyframe right after the
    // last frame the clients got; the coordinator drops what comes before it.
    const splice = spec.spliceKeyframePts ?? 0;
    if (Number.isSafeInteger(splice) && splice > 0 && splice < 2 ** 33) video.push('-force_key_frames', (splice / 90_000).toFixed(6));
  }
  if (spec.preset && acceptsPreset(spec.encoder, spec.preset)) video.push('-preset', spec.preset);
  return { global, video };
}

function audioArgs(spec: TranscodeSpec): string[] {
  switch (spec.audioCodec) {
    case 'none':
      return ['-an'];
    case 'copy':
      return ['-c:a', 'copy'];
    case 'aac':
    case 'mp2':
    case 'ac3':
      // Stereo at 48 kHz whatever the source carries: a source that switches from AAC stereo
      // to AC-3 5.1 mid-stream (an ad break, another programme) must not change the
      // variant's audio format under its players (README "Sources that change").
      return ['-c:a', spec.audioCodec, '-b:a', `${spec.audioBitrateKbps > 0 ? spec.audioBitrateKbps : audioDefaultKbps(spec.audioCodec)}k`, '-ac', '2', '-ar', '48000'];
    default: {
      const never: never = spec.audioCodec;
      throw new Error(`unknown audio codec ${String(never)}`);
    }
  }
}

const INPUT_ARGS = [
  // Keep the source's timestamps: output from two workers fed the same bytes then
  // shares one timeline, which failover splices depend on.
  '-copyts',
  // Live input: probe at most half a second of it (FFmpeg's default of 5 s was most
  // of the time to first byte), and flush each muxed packet instead of 32 KiB blocks.
  '-probesize', '1000000', '-analyzeduration', '500000',
  '-f', 'mpegts', '-i', 'pipe:0',
];

const OUTPUT_ARGS = [
  '-flush_packets', '1',
  // No mux delay: with -copyts the output's timestamps are then exactly the source's,
  // which is what the coordinator compares at a failover splice.
  '-muxdelay', '0', '-muxpreload', '0',
  '-f', 'mpegts', 'pipe:1',
];

// Errors only on stderr, plus machine-readable progress blocks on the same pipe.
const LOG_ARGS = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-nostats', '-progress', 'pipe:2'];

/** Arguments after the ffmpeg binary. */
export function buildFfmpegArgs(spec: TranscodeSpec, o: BuildArgsOptions = {}): string[] {
  if (spec.renditions?.length) return buildLadderArgs(spec, o);
  const { global, video } = videoArgs(spec, o);
  return [...LOG_ARGS, ...global, ...INPUT_ARGS, '-map', '0:v:0', '-map', '0:a:0?', ...video, ...audioArgs(spec), ...OUTPUT_ARGS];
}

/**
 * A ladder job (proto TranscodeSpec.renditions): the input is decoded once, `split` into
 * one branch per rendition, each scaled and encoded by its own encoder; audio is encoded
 * once. One MPEG-TS program per rendition (program_number i + 1: its video and the shared
 * audio), so each program is a complete stream with its own PCR; the coordinator cuts them
 * apart. Each rendition's options are the one-output job's (videoArgs), per output stream
 * (`-c:v:i`, `-b:v:i`, ...), and its filters a branch of the one filter graph.
 */
export function buildLadderArgs(spec: TranscodeSpec, o: BuildArgsOptions = {}): string[] {
  const renditions = spec.renditions ?? [];
  const n = renditions.length;
  const branches = renditions.map((_, i) => `[s${i}]`).join('');
  // NVIDIA with a proven GPU scaler: frames go up once, are split and scaled on the GPU,
  // and each nvenc encoder reads GPU frames (only for renditions with both sides given:
  // the GPU scalers take no "keep the aspect ratio" size).
  const onGpu = !!o.gpuScaler && renditions.every((r) => familyOf(r.encoder) === 'nvenc' && r.width > 0 && r.height > 0);
  const graph: string[] = [onGpu ? `[0:v:0]format=nv12,hwupload,split=${n}${branches}` : `[0:v:0]split=${n}${branches}`];
  const perStream: string[] = [];
  let global: string[] = onGpu ? ['-init_hw_device', 'cuda=gpu', '-filter_hw_device', 'gpu'] : [];
  renditions.forEach((r, i) => {
    const one = videoArgs(renditionSpec(spec, r), o);
    if (!onGpu) global = one.global;
    const vf = one.video.indexOf('-vf');
    const filters = onGpu ? `${o.gpuScaler}=${r.width}:${r.height}` : vf >= 0 ? one.video[vf + 1]! : 'null';
    graph.push(`[s${i}]${filters}[v${i}]`);
    const options = one.video.filter((_, k) => k !== vf && k !== vf + 1);
    // "-c:v x" -> "-c:v:i x": every option of this rendition applies to its output stream only.
    for (let k = 0; k < options.length; k += 2) perStream.push(`${options[k]!.replace(/:v$/, '')}:v:${i}`, options[k + 1]!);
  });
  const maps = renditions.flatMap((_, i) => ['-map', `[v${i}]`]);
  // Output streams: the renditions' videos 0..n-1, then the audio (n) when the source has
  // some; a program naming an absent audio stream only logs a warning.
  const audio = spec.audioCodec === 'none' ? [] : [`st=${n}`];
  const programs = renditions.flatMap((_, i) => ['-program', [`program_num=${i + 1}`, `st=${i}`, ...audio].join(':')]);
  return [
    ...LOG_ARGS, ...global, ...INPUT_ARGS,
    '-filter_complex', graph.join(';'),
    ...maps, '-map', '0:a:0?',
    ...perStream,
    ...audioArgs(spec),
    ...programs,
    ...OUTPUT_ARGS,
  ];
}
