// Cheap, synchronous hardware facts used only to pick default job limits at config
// time. The full (async) GPU detection with names and memory is in gpu-detect.ts;
// this one only counts devices so config parsing can stay synchronous.
import * as fs from 'node:fs';
import * as os from 'node:os';

export interface HardwareHints {
  hostname: string;
  cpuCount: number;
  nvidiaGpuCount: number;
  /** Intel/AMD (non-NVIDIA) DRM render nodes. */
  otherGpuCount: number;
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

export function readRenderNodeVendor(node: string): string | undefined {
  try {
    return fs.readFileSync(`/sys/class/drm/${node}/device/vendor`, 'utf8').trim().toLowerCase();
  } catch {
    return undefined;
  }
}

export function detectHardwareHints(): HardwareHints {
  const nvidiaGpuCount = listDir('/dev').filter((n) => /^nvidia\d+$/.test(n)).length;
  // NVIDIA cards with nvidia-drm also expose a render node; count them once.
  const otherGpuCount = listDir('/dev/dri')
    .filter((n) => /^renderD\d+$/.test(n))
    .filter((n) => readRenderNodeVendor(n) !== '0x10de').length;
  return {
    hostname: os.hostname(),
    cpuCount: Math.max(1, os.availableParallelism?.() ?? os.cpus().length),
    nvidiaGpuCount,
    otherGpuCount,
  };
}
