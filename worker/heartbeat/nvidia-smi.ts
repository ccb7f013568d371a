// Per-GPU utilisation from nvidia-smi. Parsing is separate from running so it can be
// unit-tested without a GPU.
import { runCommand } from '../probe/run-command';

export interface GpuUsageSample {
  index: number;
  utilizationPercent: number;
  encoderPercent: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
}

export const NVIDIA_SMI_USAGE_ARGS = [
  '--query-gpu=index,utilization.gpu,utilization.encoder,memory.used,memory.total',
  '--format=csv,noheader,nounits',
];

const MIB = 1024 * 1024;

// Fields read "[N/A]" or "[Not Supported]" on some cards; those become 0.
function field(v: string | undefined): number {
  const n = Number((v ?? '').trim());
  return Number.isFinite(n) && (v ?? '').trim() !== '' ? n : 0;
}

/** Parses `nvidia-smi --query-gpu=index,utilization.gpu,utilization.encoder,memory.used,memory.total --format=csv,noheader,nounits`. */
export function parseNvidiaSmiUsage(output: string): GpuUsageSample[] {
  const out: GpuUsageSample[] = [];
  for (const line of output.split('\n')) {
    const cols = line.split(',');
    if (cols.length < 5 || !/^\s*\d+\s*$/.test(cols[0] ?? '')) continue;
    out.push({
      index: field(cols[0]),
      utilizationPercent: field(cols[1]),
      encoderPercent: field(cols[2]),
      memoryUsedBytes: Math.round(field(cols[3]) * MIB),
      memoryTotalBytes: Math.round(field(cols[4]) * MIB),
    });
  }
  return out;
}

/** Samples NVIDIA GPUs; [] when nvidia-smi is missing or fails. */
export async function sampleNvidiaGpus(timeoutMs = 2000): Promise<GpuUsageSample[]> {
  const r = await runCommand(['nvidia-smi', ...NVIDIA_SMI_USAGE_ARGS], timeoutMs);
  return r.code === 0 ? parseNvidiaSmiUsage(r.stdout) : [];
}
