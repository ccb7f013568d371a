// The allocator settings every coordinator and worker process should start with.
//
// Bun allocates Buffers with mimalloc, which by default hands freed pages back to the OS
// 100 ms after they were freed (MIMALLOC_PURGE_DELAY=100) and also purges "holes" in its
// arenas on its own clock (MIMALLOC_PURGE_HOLES=1). A relay frees and allocates ~64 KiB
// buffers all the time (every gRPC message, every source chunk), so nearly every new
// buffer landed on pages the kernel had to fault in again: 600-900 page faults per
// relayed MB; perf put 21% of the coordinator's CPU in page faults and 5% in madvise
// (issue 15, docs/BENCHMARKS.md "Relay cost"). Keeping freed pages for 10 s, without the
// hole purge, leaves ~50-100 faults per MB and about 0.4 x the CPU per relayed Mbit/s.
// Both are needed: either alone kept most faults (measured). Memory that has not been
// reused for 10 s still goes back to the OS (-1, never, was no cheaper in steady state
// and kept a soak's RSS creeping at its high-water mark).
//
// mimalloc reads these once, when the process starts, so they cannot be set from
// inside: whoever starts a process sets them (scripts/start.mjs, scripts/embedded.ts for
// its worker, the package scripts, the Docker images, the test cluster). A value the
// operator set wins. The JSON file holds the values (scripts/start.mjs is plain Node and
// reads it too; the package scripts and Dockerfile repeat them, checked by
// tests/unit/allocator-env.test.ts).
import defaults from './allocator-env.json';

export const ALLOCATOR_ENV: Readonly<Record<string, string>> = Object.freeze({ ...defaults });

/** `env` plus the allocator defaults it does not set itself. */
export function withAllocatorDefaults<T extends Record<string, string | undefined>>(env: T): T & Record<string, string> {
  const out: Record<string, string | undefined> = { ...env };
  for (const [name, value] of Object.entries(ALLOCATOR_ENV)) if (out[name] === undefined) out[name] = value;
  return out as T & Record<string, string>;
}

/**
 * A line for the startup log when this process started without the settings (so it runs
 * with mimalloc's purges), or null when they are set.
 */
export function allocatorHint(env: Record<string, string | undefined> = process.env): string | null {
  const missing = Object.keys(ALLOCATOR_ENV).filter((name) => env[name] === undefined);
  if (missing.length === 0) return null;
  return `${missing.map((n) => `${n}=${ALLOCATOR_ENV[n]}`).join(' ')} not set: relaying costs about twice the CPU ` +
    '(freed buffers go back to the OS and fault in again); npm start, the package scripts, the Docker images and the test cluster set them';
}
