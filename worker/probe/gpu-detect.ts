// Finds GPUs: NVIDIA cards through nvidia-smi, other vendors through DRM render nodes.
import * as fs from 'node:fs';
import type { GpuInfo } from './capabilities';
import { readRenderNodeVendor } from './hardware-hints';
import { runCommand } from './run-command';

const PCI_VENDORS: Record<string, GpuInfo['vendor']> = { '0x8086': 'intel', '0x1002': 'amd', '0x10de': 'nvidia' };

/** Parses `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`. */
export function parseNvidiaGpuList(output: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of output.split('\n')) {
    const cols = line.split(',').map((c) => c.trim());
    if (cols.length < 2 || !cols[0]) continue;
    const mib = Number(cols[1]);
    gpus.push({
      vendor: 'nvidia',
      name: cols[0],
      device: String(gpus.length),
      memoryBytes: Number.isFinite(mib) ? Math.round(mib * 1024 * 1024) : 0,
    });
  }
  return gpus;
}

export function listRenderNodes(): string[] {
  try {
    return fs.readdirSync('/dev/dri').filter((n) => /^renderD\d+$/.test(n)).sort();
  } catch {
    return [];
  }
}

export async function detectGpus(timeoutMs: number): Promise<GpuInfo[]> {
  const smi = await runCommand(['nvidia-smi', '--query-gpu=name,memory.total', '--format=csv,noheader,nounits'], timeoutMs);
  const nvidia = smi.code === 0 ? parseNvidiaGpuList(smi.stdout) : [];
  const drm: GpuInfo[] = [];
  for (const node of listRenderNodes()) {
    const vendor = PCI_VENDORS[readRenderNodeVendor(node) ?? ''] ?? 'unknown';
    // nvidia-smi already reported these with names and memory.
    if (vendor === 'nvidia' && nvidia.length > 0) continue;
    drm.push({ vendor, name: `${vendor} render node ${node}`, device: `/dev/dri/${node}`, memoryBytes: 0 });
  }
  return [...nvidia, ...drm];
}
