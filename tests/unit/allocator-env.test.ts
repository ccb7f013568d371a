// The allocator settings (common/allocator-env.ts): launchers add them unless the operator
// set them, a process started without them says so, every place that repeats them agrees,
// and Bun's allocator really reads them.
import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { ALLOCATOR_ENV, allocatorHint, withAllocatorDefaults } from '../../common/allocator-env';
import { BUN } from '../helpers/processes';

const ROOT = new URL('../..', import.meta.url).pathname;
const entries = Object.entries(ALLOCATOR_ENV);

describe('allocator settings', () => {
  test('added when unset; an operator\'s value is kept', () => {
    expect(ALLOCATOR_ENV).toEqual({ MIMALLOC_PURGE_DELAY: '10000', MIMALLOC_PURGE_HOLES: '0' });
    expect(withAllocatorDefaults({ PATH: '/bin' })).toEqual({ PATH: '/bin', ...ALLOCATOR_ENV });
    const mine = withAllocatorDefaults({ MIMALLOC_PURGE_DELAY: '1000' });
    expect(mine.MIMALLOC_PURGE_DELAY).toBe('1000');
    expect(mine.MIMALLOC_PURGE_HOLES).toBe('0');
  });

  test('a process started without them gets a hint naming what is missing; with them, none', () => {
    expect(allocatorHint({})).toContain('MIMALLOC_PURGE_DELAY=10000 MIMALLOC_PURGE_HOLES=0 not set');
    expect(allocatorHint({ MIMALLOC_PURGE_DELAY: '10000' })).toContain('MIMALLOC_PURGE_HOLES=0 not set');
    expect(allocatorHint({ ...ALLOCATOR_ENV })).toBeNull();
    expect(allocatorHint({ MIMALLOC_PURGE_DELAY: '250', MIMALLOC_PURGE_HOLES: '1' })).toBeNull();
  });

  test('the package scripts and both Docker images set the same values', () => {
    const scripts = (JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts;
    const prefix = entries.map(([name, value]) => `${name}=\${${name}:-${value}}`).join(' ') + ' bun ';
    for (const name of ['coordinator', 'worker', 'embedded']) expect(scripts[name]).toStartWith(prefix);
    const dockerfile = readFileSync(`${ROOT}/Dockerfile`, 'utf8');
    for (const [name, value] of entries) expect(dockerfile.match(new RegExp(`^\\s+${name}=${value}\\b`, 'gm'))?.length).toBe(2);
  });

  test('Bun\'s allocator (mimalloc) takes the values at start-up', () => {
    // MIMALLOC_VERBOSE makes mimalloc print its options as it initialises: proof that the
    // runtime reads the variables (if a Bun release stopped doing so, this fails).
    const run = (env: Record<string, string>) =>
      Bun.spawnSync([BUN, '-e', '0'], { env: { PATH: process.env.PATH ?? '', MIMALLOC_VERBOSE: '1', ...env }, stderr: 'pipe' }).stderr.toString();
    const withSettings = run(withAllocatorDefaults({}));
    expect(withSettings).toMatch(/option 'purge_delay': 10000\b/);
    expect(withSettings).toMatch(/option 'purge_holes': 0\b/);
    const without = run({});
    expect(without).not.toMatch(/option 'purge_delay': 10000\b/);
    expect(without).not.toMatch(/option 'purge_holes': 0\b/);
  });
});
