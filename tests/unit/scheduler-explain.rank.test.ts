// The pure ranking and exclusion rules behind GET /api/workers/candidates.
import { describe, expect, test } from 'bun:test';
import { compareOffers, explainCandidates, summarizeExclusions, type WorkerFacts } from '../../coordinator/scheduler/explain-candidates';

const NOW = 1_700_000_000_000;

function facts(id: string, over: Partial<WorkerFacts> = {}): WorkerFacts {
  return {
    workerId: id,
    name: id,
    state: 'online',
    quarantinedUntil: null,
    quarantineReason: null,
    speedFps: 100,
    maxJobs: 4,
    maxGpuJobs: 2,
    maxCpuJobs: 2,
    jobs: 0,
    gpuJobs: 0,
    cpuJobs: 0,
    encoders: [
      { encoder: 'libx265', codec: 'hevc', kind: 'cpu', family: 'software' },
      { encoder: 'hevc_nvenc', codec: 'hevc', kind: 'gpu', family: 'nvenc' },
    ],
    ...over,
  };
}

describe('exclusion reasons, first rule that fails', () => {
  const cases: [string, Partial<WorkerFacts>, string | null, string][] = [
    ['offline', { state: 'offline' }, null, 'offline'],
    ['draining', { state: 'draining' }, null, 'draining: takes no new jobs'],
    ['quarantined', { quarantinedUntil: NOW + 1, quarantineReason: 'crashed' }, null, `quarantined until ${new Date(NOW + 1).toISOString()} (crashed)`],
    ['no encoder', { encoders: [{ encoder: 'libx264', codec: 'h264', kind: 'cpu', family: 'software' }] }, null, 'no encoder for hevc'],
    ['preference', {}, 'vaapi', 'preference mismatch: wants vaapi, has hevc_nvenc, libx265'],
    ['full', { jobs: 4, gpuJobs: 2, cpuJobs: 2 }, null, 'full: jobs 4/4'],
    ['gpu slots', { jobs: 2, gpuJobs: 2 }, 'gpu', 'GPU slots full: 2/2'],
    ['cpu slots', { jobs: 2, cpuJobs: 2 }, 'libx265', 'CPU slots full: 2/2'],
    ['both kinds', { maxJobs: 9, jobs: 4, gpuJobs: 2, cpuJobs: 2 }, null, 'GPU slots full: 2/2; CPU slots full: 2/2'],
  ];
  for (const [name, over, preference, reason] of cases) {
    test(name, () => {
      const [row] = explainCandidates([facts('w', over)], { codec: 'hevc', preference, now: NOW });
      expect(row!.rank).toBeNull();
      expect(row!.excluded?.reason).toBe(reason);
    });
  }

  test('an expired quarantine does not exclude', () => {
    const [row] = explainCandidates([facts('w', { quarantinedUntil: NOW })], { codec: 'hevc', preference: null, now: NOW });
    expect(row!.rank).toBe(1);
  });
});

describe('ranking', () => {
  test('GPU first, then load ratio, then speed, then id; excluded last by id', () => {
    const out = explainCandidates(
      [
        facts('w-z', { state: 'offline' }),
        facts('w-cpu', { encoders: [{ encoder: 'libx265', codec: 'hevc', kind: 'cpu', family: 'software' }], speedFps: 999 }),
        facts('w-busy', { jobs: 2, gpuJobs: 1 }),
        facts('w-slow', { speedFps: 50 }),
        facts('w-b', {}),
        facts('w-a', {}),
        facts('w-gpu-full', { jobs: 2, gpuJobs: 2 }),
      ],
      { codec: 'hevc', preference: null, now: NOW },
    );
    expect(out.map((o) => `${o.workerId}:${o.rank ?? '-'}:${o.encoder ?? '-'}`)).toEqual([
      'w-a:1:hevc_nvenc',
      'w-b:2:hevc_nvenc',
      'w-slow:3:hevc_nvenc',
      'w-busy:4:hevc_nvenc',
      'w-cpu:5:libx265',
      'w-gpu-full:6:libx265',
      'w-z:-:-',
    ]);
  });

  test('compareOffers is a total order (antisymmetric, equal only to itself)', () => {
    const a = { workerId: 'a', encoder: 'x', kind: 'gpu' as const, loadRatio: 0.5, speedFps: 10 };
    const b = { ...a, workerId: 'b' };
    expect(compareOffers(a, b)).toBeLessThan(0);
    expect(compareOffers(b, a)).toBeGreaterThan(0);
    expect(compareOffers(a, { ...a })).toBe(0);
  });

  test('the 503 summary groups reasons and caps the examples', () => {
    const many = Array.from({ length: 5 }, (_, i) => facts(`w-${i}`, { jobs: 4 }));
    const text = summarizeExclusions(explainCandidates([...many, facts('w-off', { state: 'offline' })], { codec: 'hevc', preference: null, now: NOW }));
    expect(text).toBe('w-0 (full: jobs 4/4), w-1 (full: jobs 4/4), w-2 (full: jobs 4/4) and 2 more; w-off (offline)');
    expect(summarizeExclusions([])).toBe('no workers registered');
  });
});
