import { expect, test } from 'bun:test';
import { parseNvidiaSmiUsage } from '../../worker/heartbeat/nvidia-smi';
import { parseNvidiaGpuList } from '../../worker/probe/gpu-detect';
import { cpuPercentBetween } from '../../worker/heartbeat/resource-sampler';

const MIB = 1024 * 1024;

test('parses per-GPU usage lines, treating [N/A] as 0', () => {
  const out = '0, 35, 12, 1024, 24576\n1, 0, [N/A], 0, 8192\n\n';
  expect(parseNvidiaSmiUsage(out)).toEqual([
    { index: 0, utilizationPercent: 35, encoderPercent: 12, memoryUsedBytes: 1024 * MIB, memoryTotalBytes: 24576 * MIB },
    { index: 1, utilizationPercent: 0, encoderPercent: 0, memoryUsedBytes: 0, memoryTotalBytes: 8192 * MIB },
  ]);
});

test('ignores error text from nvidia-smi', () => {
  expect(parseNvidiaSmiUsage('NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver.\n')).toEqual([]);
});

test('parses the GPU list used at registration', () => {
  expect(parseNvidiaGpuList('NVIDIA GeForce RTX 3060, 12288\nTesla T4, 15360\n')).toEqual([
    { vendor: 'nvidia', name: 'NVIDIA GeForce RTX 3060', device: '0', memoryBytes: 12288 * MIB },
    { vendor: 'nvidia', name: 'Tesla T4', device: '1', memoryBytes: 15360 * MIB },
  ]);
});

test('cpu percent is the busy share of the tick delta', () => {
  expect(cpuPercentBetween({ busy: 100, total: 1000 }, { busy: 400, total: 2000 })).toBe(30);
  expect(cpuPercentBetween({ busy: 1, total: 1 }, { busy: 1, total: 1 })).toBe(0);
});
