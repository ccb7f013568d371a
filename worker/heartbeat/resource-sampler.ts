// Samples this machine's resource usage for heartbeats. CPU % is the busy share of
// all cores since the previous sample (os.cpus() tick deltas), so the first sample
// after start covers the time since the sampler was created.
import * as os from 'node:os';
import { sampleNvidiaGpus, type GpuUsageSample } from './nvidia-smi';

export interface ResourceUsageSample {
  cpuPercent: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  load1: number;
  gpus: GpuUsageSample[];
}

interface CpuTimes {
  busy: number;
  total: number;
}

export function readCpuTimes(cpus: os.CpuInfo[] = os.cpus()): CpuTimes {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus) {
    const sum = times.user + times.nice + times.sys + times.irq + times.idle;
    total += sum;
    busy += sum - times.idle;
  }
  return { busy, total };
}

export function cpuPercentBetween(prev: CpuTimes, next: CpuTimes): number {
  const total = next.total - prev.total;
  if (total <= 0) return 0;
  const pct = ((next.busy - prev.busy) / total) * 100;
  return Math.round(Math.min(100, Math.max(0, pct)) * 10) / 10;
}

export class ResourceSampler {
  private prev = readCpuTimes();

  /** nvidia-smi is only asked when it was found at start-up (gpuSampling). */
  constructor(private readonly gpuSampling: boolean) {}

  async sample(): Promise<ResourceUsageSample> {
    const next = readCpuTimes();
    const cpuPercent = cpuPercentBetween(this.prev, next);
    this.prev = next;
    const total = os.totalmem();
    return {
      cpuPercent,
      memoryUsedBytes: total - os.freemem(),
      memoryTotalBytes: total,
      load1: os.loadavg()[0] ?? 0,
      gpus: this.gpuSampling ? await sampleNvidiaGpus() : [],
    };
  }
}
