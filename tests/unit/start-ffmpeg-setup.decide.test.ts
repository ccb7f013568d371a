// `npm start` without FFmpeg: the decision (apt-get present or absent x root or not), the
// apt-get presence check (on PATH, not by exit status: `apt-get -version` exits 100), and the
// real scripts/start.mjs run against fake apt-get/ffmpeg/bun on a PATH of their own, so the
// machine's packages are never touched.
import { afterAll, describe, expect, test } from 'bun:test';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { APT_INSTALL, APT_UPDATE, decideFfmpegSetup, findOnPath, SUDO_COMMAND } from '../../scripts/ffmpeg-setup.mjs';
import { makeTempDir } from '../helpers/media';

const temp = makeTempDir('start-ffmpeg');
afterAll(() => temp.cleanup());
const ROOT = new URL('../..', import.meta.url).pathname;

function script(path: string, body: string): void {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

describe('decideFfmpegSetup', () => {
  test('FFmpeg present: proceed, whoever runs it', () => {
    for (const isRoot of [true, false]) {
      for (const hasAptGet of [true, false]) expect(decideFfmpegSetup({ hasFfmpeg: true, isRoot, hasAptGet })).toEqual({ action: 'proceed' });
    }
  });

  test('root with apt-get: apt-get update, then apt-get install -y ffmpeg', () => {
    expect(decideFfmpegSetup({ hasFfmpeg: false, isRoot: true, hasAptGet: true })).toEqual({
      action: 'install',
      commands: [['apt-get', 'update'], ['apt-get', 'install', '-y', 'ffmpeg']],
    });
  });

  test('non-root with apt-get: the exact sudo command', () => {
    const d = decideFfmpegSetup({ hasFfmpeg: false, isRoot: false, hasAptGet: true });
    expect(d.action).toBe('instruct');
    if (d.action === 'instruct') expect(d.message).toContain('sudo apt-get update && sudo apt-get install -y ffmpeg');
  });

  test('no apt-get, root or not: told to install FFmpeg with the system package manager, never an apt-get command', () => {
    for (const isRoot of [true, false]) {
      const d = decideFfmpegSetup({ hasFfmpeg: false, isRoot, hasAptGet: false });
      expect(d.action).toBe('instruct');
      if (d.action === 'instruct') {
        expect(d.message).toContain('no apt-get');
        expect(d.message).not.toContain('apt-get install');
      }
    }
  });
});

describe('findOnPath (the apt-get presence check)', () => {
  const bin = join(temp.dir, 'find-bin');
  mkdirSync(bin);
  script(join(bin, 'apt-get'), 'exit 100'); // what the real apt-get does for -version
  writeFileSync(join(bin, 'not-executable'), 'x');

  test('an apt-get that exits 100 is still found', () => {
    expect(Bun.spawnSync([join(bin, 'apt-get'), '-version']).exitCode).toBe(100);
    expect(findOnPath('apt-get', `/nonexistent:${bin}`)).toBe(join(bin, 'apt-get'));
  });

  test('absent, not executable, a directory, or relative PATH entries: not found', () => {
    expect(findOnPath('apt-get', '/nonexistent')).toBeNull();
    expect(findOnPath('apt-get', '')).toBeNull();
    expect(findOnPath('not-executable', bin)).toBeNull();
    expect(findOnPath('find-bin', temp.dir)).toBeNull();
    expect(findOnPath('apt-get', 'relative/dir')).toBeNull();
  });
});

describe('scripts/start.mjs on a machine without FFmpeg (fake apt-get, ffmpeg and bun)', () => {
  const node = Bun.which('node');
  if (!node) throw new Error('node is needed to run scripts/start.mjs');

  /** A copy of the project's start scripts beside a fake Bun, and a PATH holding only fakes. */
  function fakeMachine(name: string, withAptGet: boolean) {
    const dir = join(temp.dir, name);
    const bin = join(dir, 'bin');
    const log = join(dir, 'apt.log');
    mkdirSync(join(dir, 'scripts'), { recursive: true });
    mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
    mkdirSync(bin);
    mkdirSync(join(dir, 'common'));
    for (const f of ['start.mjs', 'ffmpeg-setup.mjs']) copyFileSync(join(ROOT, 'scripts', f), join(dir, 'scripts', f));
    copyFileSync(join(ROOT, 'common', 'allocator-env.json'), join(dir, 'common', 'allocator-env.json'));
    // The fake Bun shows the allocator setting it was started with (common/allocator-env.ts).
    script(join(dir, 'node_modules', '.bin', 'bun'), 'echo "embedded started: $* (MIMALLOC_PURGE_DELAY=$MIMALLOC_PURGE_DELAY MIMALLOC_PURGE_HOLES=$MIMALLOC_PURGE_HOLES)"');
    if (withAptGet) {
      // Records each call; `install -y ffmpeg` makes ffmpeg and ffprobe appear, as the real one would.
      script(
        join(bin, 'apt-get'),
        [
          `echo "DEBIAN_FRONTEND=$DEBIAN_FRONTEND $*" >> ${log}`,
          'if [ "$1" = "-version" ]; then exit 100; fi',
          'if [ "$1" = "update" ]; then echo "Reading package lists... Done"; exit 0; fi',
          `if [ "$1 $2 $3" = "install -y ffmpeg" ]; then for t in ffmpeg ffprobe; do printf '#!/bin/sh\\nexit 0\\n' > ${bin}/$t; /bin/chmod 755 ${bin}/$t; done; echo "Setting up ffmpeg"; exit 0; fi`,
          'exit 100',
        ].join('\n'),
      );
    }
    /* World-readable so an unprivileged user can run it too. */
    for (const p of [temp.dir, dir, join(dir, 'scripts'), join(dir, 'common'), join(dir, 'node_modules'), join(dir, 'node_modules', '.bin'), bin]) chmodSync(p, 0o755);
    for (const f of ['start.mjs', 'ffmpeg-setup.mjs']) chmodSync(join(dir, 'scripts', f), 0o644);
    chmodSync(join(dir, 'common', 'allocator-env.json'), 0o644);
    return { dir, bin, log };
  }

  function runStart(m: { dir: string; bin: string }, asUser?: number, env: Record<string, string> = {}) {
    const argv = [node!, join(m.dir, 'scripts', 'start.mjs')];
    const r = Bun.spawnSync(asUser === undefined ? argv : [setpriv!, `--reuid=${asUser}`, `--regid=${asUser}`, '--clear-groups', ...argv], {
      env: { PATH: m.bin, HOME: m.dir, ...env },
      cwd: m.dir,
      stdout: 'pipe',
      stderr: 'pipe',
    });
    return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
  }

  const isRoot = process.getuid?.() === 0;
  const setpriv = Bun.which('setpriv'); // util-linux: drops to another user for the non-root case

  test.skipIf(!isRoot)('as root with apt-get: runs apt-get update then install -y ffmpeg (noninteractive, output shown), then starts', () => {
    const m = fakeMachine('root-apt', true);
    const r = runStart(m);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(m.log, 'utf8').trim().split('\n')).toEqual([
      `DEBIAN_FRONTEND=noninteractive ${APT_UPDATE.slice(1).join(' ')}`,
      `DEBIAN_FRONTEND=noninteractive ${APT_INSTALL.slice(1).join(' ')}`,
    ]);
    expect(r.out).toContain('Reading package lists... Done'); // apt-get's own output reaches the terminal
    expect(r.out).toContain('Setting up ffmpeg');
    expect(r.out).toContain('FFmpeg installed.');
    expect(r.out).toContain('embedded started:');
  });

  test.skipIf(!isRoot || !setpriv)('as a non-root user with apt-get: prints the exact command, exits 1, installs nothing', () => {
    const m = fakeMachine('user-apt', true);
    const r = runStart(m, 65534);
    expect(r.code).toBe(1);
    expect(r.err).toContain(SUDO_COMMAND);
    expect(r.out).not.toContain('embedded started');
    expect(existsSync(m.log)).toBe(false);
    expect(existsSync(join(m.bin, 'ffmpeg'))).toBe(false);
  });

  test('without apt-get: says to install FFmpeg with the system package manager and exits 1', () => {
    const m = fakeMachine('no-apt', false);
    const r = runStart(m);
    expect(r.code).toBe(1);
    expect(r.err).toContain('no apt-get');
    expect(r.out).not.toContain('embedded started');
  });

  test('FFmpeg already present: starts at once, apt-get never runs', () => {
    const m = fakeMachine('has-ffmpeg', true);
    for (const t of ['ffmpeg', 'ffprobe']) script(join(m.bin, t), 'exit 0');
    const r = runStart(m);
    expect(r.code).toBe(0);
    expect(r.out).toContain('embedded started:');
    expect(existsSync(m.log)).toBe(false);
  });

  test('starts the coordinator with the allocator settings (common/allocator-env.json); an operator\'s own value wins', () => {
    const m = fakeMachine('allocator', true);
    for (const t of ['ffmpeg', 'ffprobe']) script(join(m.bin, t), 'exit 0');
    expect(runStart(m).out).toContain('(MIMALLOC_PURGE_DELAY=10000 MIMALLOC_PURGE_HOLES=0)');
    expect(runStart(m, undefined, { MIMALLOC_PURGE_DELAY: '500' }).out).toContain('(MIMALLOC_PURGE_DELAY=500 MIMALLOC_PURGE_HOLES=0)');
  });
});
