// What this worker can do, as plain domain data (the gRPC edge converts it to
// protobuf). probeCapabilities runs once at start-up, before registering.
import type { WorkerConfig } from '../config';
import { parseEncoderList } from './encoder-list';
import { detectGpus, listRenderNodes } from './gpu-detect';
import { runCommand } from './run-command';
import { measureEncodeSpeed, readFfmpegVersion } from './speed-test';
import { testEncodeAll } from './test-encode';
import { probeGpuScaler, type GpuScaler } from './gpu-scale';

export type VideoCodec = 'h264' | 'hevc' | 'av1' | 'vp9' | 'mpeg2video';
export type EncoderKind = 'cpu' | 'gpu';
export type EncoderFamily =
  | 'software' | 'nvenc' | 'vaapi' | 'qsv' | 'amf' | 'v4l2m2m' | 'videotoolbox' | 'omx' | 'mediacodec' | 'vulkan' | 'mf';

export interface EncoderInfo {
  name: string;
  codec: VideoCodec;
  family: EncoderFamily;
  kind: EncoderKind;
}

export interface RejectedEncoderInfo {
  name: string;
  codec: VideoCodec;
  family: EncoderFamily;
  reason: string;
}

export interface GpuInfo {
  vendor: 'nvidia' | 'intel' | 'amd' | 'unknown';
  name: string;
  /** "/dev/dri/renderD128" or the nvidia-smi index. */
  device: string;
  memoryBytes: number;
}

export interface Capabilities {
  ffmpegVersion: string;
  encoders: EncoderInfo[];
  rejectedEncoders: RejectedEncoderInfo[];
  gpus: GpuInfo[];
  /** Reference encode speed (libx264 ultrafast, 640x360), frames per second. */
  speedFps: number;
  /** A ladder job on nvenc scales on the GPU with this filter (gpu-scale.ts); absent: on the CPU. */
  gpuScaler?: GpuScaler | null;
}

type ProbeConfig = Pick<WorkerConfig, 'ffmpegPath' | 'probeTimeoutMs'>;

export async function probeCapabilities(config: ProbeConfig): Promise<Capabilities> {
  const { ffmpegPath, probeTimeoutMs } = config;
  const list = await runCommand([ffmpegPath, '-hide_banner', '-encoders'], probeTimeoutMs);
  if (list.code !== 0) {
    const why = list.spawnError ?? list.stderr.trim().split('\n').pop() ?? `exit ${list.code}`;
    throw new Error(`cannot list FFmpeg encoders with ${ffmpegPath}: ${why}`);
  }
  const candidates = parseEncoderList(list.stdout);
  const [ffmpegVersion, gpus] = await Promise.all([
    readFfmpegVersion(ffmpegPath, probeTimeoutMs),
    detectGpus(probeTimeoutMs),
  ]);
  // Test encodes are short but CPU-bound; two at a time keeps start-up quick on
  // small machines without starving a box that is already running jobs.
  const results = await testEncodeAll(candidates, {
    ffmpegPath,
    timeoutMs: probeTimeoutMs,
    concurrency: 2,
    vaapiDevice: listRenderNodes().map((n) => `/dev/dri/${n}`)[0],
  });
  // Run the speed test after the test encodes so they do not skew it.
  const speedFps = await measureEncodeSpeed(ffmpegPath, probeTimeoutMs * 2);
  const nvenc = results.find((r) => r.ok && r.candidate.family === 'nvenc')?.candidate.name;
  const gpuScaler = await probeGpuScaler(ffmpegPath, nvenc, probeTimeoutMs);
  return {
    gpuScaler,
    ffmpegVersion,
    encoders: results.filter((r) => r.ok).map((r) => ({ ...r.candidate })),
    rejectedEncoders: results
      .filter((r) => !r.ok)
      .map((r) => ({ name: r.candidate.name, codec: r.candidate.codec, family: r.candidate.family, reason: r.reason ?? 'unknown' })),
    gpus,
    speedFps,
  };
}
