// Whether a ladder job's scaling can stay on an NVIDIA GPU (proto TranscodeSpec.renditions:
// "on NVIDIA the scaling may stay on the GPU"). Proven like an encoder is: a test run of
// the very filter graph a ladder job would use (frames uploaded once, split on the GPU,
// each branch scaled by scale_cuda, or scale_npp, into its own nvenc encoder). Only a
// scaler that produced frames here is used; otherwise a ladder on nvenc scales on the CPU
// (worker/runner/build-args.ts), which always works.
//
// Decoding stays on the CPU on purpose: FFmpeg's hardware decode falls back to software
// frames for a codec or profile the GPU cannot decode, and a graph of scale_cuda filters
// cannot take those, so one exotic source would fail every attempt.
import { runCommand } from './run-command';

export type GpuScaler = 'scale_cuda' | 'scale_npp';
const SCALERS: readonly GpuScaler[] = ['scale_cuda', 'scale_npp'];

/** The test run's arguments: two renditions of a tiny clip through `scaler` into `encoder`. */
export function gpuScaleTestArgs(ffmpegPath: string, encoder: string, scaler: GpuScaler): string[] {
  return [
    ffmpegPath, '-hide_banner', '-nostdin', '-loglevel', 'error',
    '-init_hw_device', 'cuda=gpu', '-filter_hw_device', 'gpu',
    '-f', 'lavfi', '-i', 'testsrc2=size=256x144:rate=25', '-frames:v', '5',
    '-filter_complex', `[0:v]format=nv12,hwupload,split=2[a][b];[a]${scaler}=192:108[o0];[b]${scaler}=128:72[o1]`,
    '-map', '[o0]', '-c:v:0', encoder, '-map', '[o1]', '-c:v:1', encoder,
    '-f', 'null', '-',
  ];
}

/** The first scaler whose test run succeeds with `nvencEncoder`, or null (none, or no nvenc encoder). */
export async function probeGpuScaler(ffmpegPath: string, nvencEncoder: string | undefined, timeoutMs: number): Promise<GpuScaler | null> {
  if (!nvencEncoder) return null;
  for (const scaler of SCALERS) {
    const r = await runCommand(gpuScaleTestArgs(ffmpegPath, nvencEncoder, scaler), timeoutMs);
    if (r.code === 0 && !r.timedOut && !r.spawnError) return scaler;
  }
  return null;
}
