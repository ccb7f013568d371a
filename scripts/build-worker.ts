// Builds ffmpegd as single-file executables with `bun build --compile`: the Bun runtime,
// every dependency and the .proto contract (proto/load.ts imports it `with { type:
// 'file' }`) in one file that needs nothing beside it but FFmpeg on the PATH.
//
//   bun scripts/build-worker.ts                       dist/ffmpegd-linux-x64 and -linux-arm64
//   bun scripts/build-worker.ts --target=linux-x64 --outdir=/tmp/x
//
// Cross targets fetch their runtime from the npm registry on first use. The host's
// own target is smoke-tested (`--help`). Do not `strip` the result: it breaks it.
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';

export const WORKER_TARGETS = ['linux-x64', 'linux-arm64'] as const;
const ROOT = resolve(import.meta.dir, '..');

export interface BuiltBinary {
  target: string;
  path: string;
}

/** Compiles `entry` into `outfile` for one target; throws with the compiler's output on failure. */
export function compile(entry: string, outfile: string, target: string): void {
  const r = Bun.spawnSync([process.execPath, 'build', '--compile', `--target=bun-${target}`, '--minify-syntax', entry, '--outfile', outfile], {
    cwd: ROOT,
    stdout: 'pipe',
    stderr: 'pipe',
  });
  if (r.exitCode !== 0) throw new Error(`bun build --compile (${target}) failed:\n${r.stdout.toString()}${r.stderr.toString()}`);
}

export function hostTarget(): string {
  return `${process.platform}-${process.arch}`;
}

export function buildWorker(outdir: string, targets: readonly string[] = WORKER_TARGETS): BuiltBinary[] {
  mkdirSync(outdir, { recursive: true });
  return targets.map((target) => {
    const path = join(outdir, `ffmpegd-${target}`);
    compile(join(ROOT, 'worker', 'main.ts'), path, target);
    if (target === hostTarget()) {
      const help = Bun.spawnSync([path, '--help'], { cwd: outdir });
      if (help.exitCode !== 0 || !help.stdout.toString().includes('ffmpegd')) throw new Error(`${path} --help failed: ${help.stderr.toString()}`);
    }
    return { target, path };
  });
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { target: { type: 'string', multiple: true }, outdir: { type: 'string', default: join(ROOT, 'dist') } } });
  for (const b of buildWorker(resolve(values.outdir!), values.target ?? WORKER_TARGETS)) {
    console.log(`built ${b.path} (${b.target}, ${Math.round(Bun.file(b.path).size / 1048576)} MiB)`);
  }
}
