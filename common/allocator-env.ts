// The allocator setting every coordinator and worker process should start with.
//
// Bun allocates Buffers with mimalloc, which by default hands freed pages back to the OS
// 100 ms after they were freed (MIMALLOC_PURGE_DELAY=100). A relay frees and allocates
// ~64 KiB buffers all the time (every gRPC message, every source chunk), so nearly every
// new buffer landed on pages the kernel had to fault in again: 600-900 page faults per
// relayed MB; perf put 21% of the coordinator's CPU in page faults and 5% in madvise
// (issue 15, docs/BENCHMARKS.md "Relay cost"). With -1 freed pages are kept for reuse:
// ~20-120 faults per MB and about a third of the CPU per relayed Mbit/s. The price:
// the process's RSS stays at its high-water mark instead of shrinking after a burst
// (365 MB against 220 MB for a coordinator relaying ~600 Mbit/s; flat after that).
//
// mimalloc reads the variable once, when the process starts, so it cannot be set from
// inside: whoever starts a process sets it (scripts/start.mjs, scripts/embedded.ts for
// its worker, the package scripts, the Docker images, the test cluster). A value the
// operator set wins; a number of milliseconds returns memory sooner at some CPU. The
// JSON file holds the value (scripts/start.mjs is plain Node and reads it too; the
// package scripts repeat it, checked by tests/unit/allocator-env.test.ts).
import defaults from './allocator-env.json';

export const ALLOCATOR_ENV: Readonly<Record<string, string>> = Object.freeze({ ...defaults });

/** `env` plus the allocator defaults it does not set itself. */
export function withAllocatorDefaults<T extends Record<string, string | undefined>>(env: T): T & Record<string, string> {
  const out: Record<string, string | undefined> = { ...env };
  for (const [name, value] of Object.entries(ALLOCATOR_ENV)) if (out[name] === undefined) out[name] = value;
  return out as T & Record<string, string>;
}

/**
 * A line for the startup log when this process started without the setting (so it runs
 * with mimalloc's 100 ms purge), or null when it is set.
 */
export function allocatorHint(env: Record<string, string | undefined> = process.env): string | null {
  const missing = Object.keys(ALLOCATOR_ENV).filter((name) => env[name] === undefined);
  if (missing.length === 0) return null;
  return `${missing.map((n) => `${n}=${ALLOCATOR_ENV[n]}`).join(' ')} is not set: relaying costs about twice the CPU ` +
    '(freed buffers go back to the OS and fault in again); npm start, the Docker images and the test cluster set it';
}
