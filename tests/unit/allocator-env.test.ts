// The allocator setting (common/allocator-env.ts): launchers add it unless the operator
// set it, a process started without it says so, and Bun's allocator really reads it.
import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { ALLOCATOR_ENV, allocatorHint, withAllocatorDefaults } from '../../common/allocator-env';
import { BUN } from '../helpers/processes';

describe('allocator setting', () => {
  test('added when unset; an operator\'s value is kept', () => {
    expect(ALLOCATOR_ENV.MIMALLOC_PURGE_DELAY).toBe('-1');
    expect(withAllocatorDefaults({ PATH: '/bin' })).toEqual({ PATH: '/bin', MIMALLOC_PURGE_DELAY: '-1' });
    expect(withAllocatorDefaults({ MIMALLOC_PURGE_DELAY: '1000' }).MIMALLOC_PURGE_DELAY).toBe('1000');
  });

  test('a process started without it gets a hint naming the variable; with it, none', () => {
    expect(allocatorHint({})).toContain('MIMALLOC_PURGE_DELAY=-1 is not set');
    expect(allocatorHint({ MIMALLOC_PURGE_DELAY: '-1' })).toBeNull();
    expect(allocatorHint({ MIMALLOC_PURGE_DELAY: '250' })).toBeNull();
  });

  test('the package scripts that start a coordinator or worker set the same value (unless already set)', () => {
    const scripts = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const name of ['coordinator', 'worker', 'embedded']) {
      expect(scripts[name]).toStartWith(`MIMALLOC_PURGE_DELAY=\${MIMALLOC_PURGE_DELAY:-${ALLOCATOR_ENV.MIMALLOC_PURGE_DELAY}} bun `);
    }
  });

  test('Bun\'s allocator (mimalloc) takes the value at start-up', () => {
    // MIMALLOC_VERBOSE makes mimalloc print its options as it initialises: proof that the
    // runtime reads the variable (if a Bun release stopped doing so, this fails).
    const run = (env: Record<string, string>) =>
      Bun.spawnSync([BUN, '-e', '0'], { env: { PATH: process.env.PATH ?? '', MIMALLOC_VERBOSE: '1', ...env }, stderr: 'pipe' }).stderr.toString();
    expect(run(withAllocatorDefaults({}))).toMatch(/option 'purge_delay': -1\b/);
    expect(run({})).not.toMatch(/option 'purge_delay': -1\b/);
  });
});
