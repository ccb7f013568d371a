// Child processes that die with this process, whatever its death (SIGKILL, crash, out of
// memory) and whatever pipes exist.
//
// Why: a child FFmpeg's only other link to us is its output pipe. Bun ignores SIGPIPE and
// its children inherit that (SigIgn bit 13 in /proc/<ffmpeg>/status), so FFmpeg learns of our
// death only when its next write fails with EPIPE: ~40 ms later for the test pattern, after
// the next segment for HLS (seconds), never for an input that is probing, stalled or waiting.
//
// How: util-linux `setpriv --pdeathsig KILL` sets PR_SET_PDEATHSIG, then execs the command,
// so the kernel SIGKILLs the child when the thread that spawned it exits. Bun.spawn runs on
// the JS thread, which lives as long as the process (Worker threads exiting do not fire it);
// do not spawn through this from a Worker. The signal is lost if we die before setpriv's
// prctl runs, so a POSIX sh between setpriv and the command checks that its parent is still
// us ($PPID) before it execs the command, which keeps the same pid.
// Without setpriv (not Linux, no util-linux) the command runs unguarded.
import { existsSync } from 'node:fs';

const RACE_CHECK = 'if [ "$PPID" != "$1" ]; then exit 70; fi; shift; exec "$@"';

export interface ParentDeathGuard {
  available: boolean;
  /** why it is not available */
  reason?: string;
  prefix: string[];
}

let cached: ParentDeathGuard | undefined;

/** The wrapper for a child of `parentPid`; exported for the race-check test. */
export function guardPrefix(setpriv: string, sh: string, parentPid: number): string[] {
  return [setpriv, '--pdeathsig', 'KILL', '--', sh, '-c', RACE_CHECK, 'sh', String(parentPid)];
}

function detect(): ParentDeathGuard {
  if (process.platform !== 'linux') return { available: false, reason: `PR_SET_PDEATHSIG is Linux-only (this is ${process.platform})`, prefix: [] };
  const setpriv = Bun.which('setpriv') ?? (existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : null);
  const sh = existsSync('/bin/sh') ? '/bin/sh' : Bun.which('sh');
  if (!setpriv) return { available: false, reason: 'setpriv (util-linux) is not installed', prefix: [] };
  if (!sh) return { available: false, reason: 'no /bin/sh', prefix: [] };
  const prefix = guardPrefix(setpriv, sh, process.pid);
  // util-linux before 2.33 has no --pdeathsig; prove the whole chain once.
  const probe = Bun.spawnSync([...prefix, 'true'], { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' });
  if (probe.exitCode !== 0) {
    return { available: false, reason: `setpriv --pdeathsig failed: ${probe.stderr.toString().trim().slice(0, 200) || `exit ${probe.exitCode}`}`, prefix: [] };
  }
  return { available: true, prefix };
}

export function parentDeathGuard(): ParentDeathGuard {
  cached ??= detect();
  return cached;
}

/**
 * argv wrapped so the command is SIGKILLed when this process dies. Resolves the executable
 * first, so a missing one still fails as Bun.spawn would (instead of a shell's exit 127).
 */
export function dieWithParentArgv(argv: readonly string[], opts: { PATH?: string; cwd?: string } = {}): string[] {
  const [cmd, ...rest] = argv;
  if (!cmd) throw new Error('dieWithParentArgv: empty argv');
  const resolved = Bun.which(cmd, { PATH: opts.PATH ?? process.env.PATH ?? '', cwd: opts.cwd });
  if (!resolved) throw new Error(`Executable not found in $PATH: "${cmd}"`);
  const guard = parentDeathGuard();
  return guard.available ? [...guard.prefix, resolved, ...rest] : [resolved, ...rest];
}
