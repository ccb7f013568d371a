// common/spawn-guard.ts: a guarded child is SIGKILLed by the kernel when the Bun process
// that spawned it dies, whatever it is doing and whoever holds its pipes; not earlier (Bun's
// own threads coming and going do not fire it); and never started if its parent is already
// gone (the fork/prctl race).
import { afterAll, expect, test } from 'bun:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dieWithParentArgv, guardPrefix, parentDeathGuard } from '../../common/spawn-guard';
import { makeTempDir } from '../helpers/media';

const temp = makeTempDir('spawn-guard');
const root = path.resolve(import.meta.dir, '../..');
const leftovers: number[] = [];

afterAll(() => {
  for (const pid of leftovers) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  temp.cleanup();
});

function isAlive(pid: number): boolean {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

test('setpriv --pdeathsig is available here (util-linux)', () => {
  expect(parentDeathGuard()).toMatchObject({ available: true });
});

test('SIGKILL of the owner ends its guarded children within 2 s, even one whose pipe a surviving sibling holds; Worker threads exiting do not', async () => {
  const fifo = path.join(temp.dir, 'out.fifo');
  expect(Bun.spawnSync(['mkfifo', fifo]).exitCode).toBe(0);
  const owner = path.join(temp.dir, 'owner.ts');
  fs.writeFileSync(
    owner,
    `
    import * as fs from 'node:fs';
    import { dieWithParentArgv } from ${JSON.stringify(path.join(root, 'common/spawn-guard.ts'))};
    // Guarded, no pipes, never writes: nothing but the kernel can tell it the owner died.
    const quiet = Bun.spawn(dieWithParentArgv(['sleep', '600']), { stdio: ['ignore', 'ignore', 'ignore'] });
    // Guarded FFmpeg writing into a FIFO whose only reader is a sibling that never reads and
    // outlives the owner: the FFmpeg blocks in write and never sees EPIPE.
    const fd = fs.openSync(${JSON.stringify(fifo)}, 'r+');
    const holder = Bun.spawn(['sleep', '600'], { stdio: [fd, 'ignore', 'ignore'] });
    const ffmpeg = Bun.spawn(dieWithParentArgv(['ffmpeg', '-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-c:v', 'mpeg2video', '-f', 'mpegts', 'pipe:1']), { stdio: ['ignore', fd, 'ignore'] });
    fs.closeSync(fd);
    const control = Bun.spawn(['sleep', '600'], { stdio: ['ignore', 'ignore', 'ignore'] });
    // Threads start and exit in the owner: PR_SET_PDEATHSIG follows the spawning thread, so
    // this proves the spawn ran on the thread that lives as long as the process.
    const src = URL.createObjectURL(new Blob(['postMessage(1)'], { type: 'application/javascript' }));
    for (let i = 0; i < 8; i++) {
      const w = new Worker(src);
      await new Promise((r) => (w.onmessage = r));
      w.terminate();
    }
    console.log(JSON.stringify({ quiet: quiet.pid, ffmpeg: ffmpeg.pid, holder: holder.pid, control: control.pid }));
    setInterval(() => {}, 1000);
  `,
  );
  const proc = Bun.spawn([process.execPath, owner], { stdout: 'pipe', stderr: 'inherit' });
  try {
    const reader = proc.stdout.getReader();
    let text = '';
    while (!text.includes('\n')) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`owner exited early: ${text}`);
      text += new TextDecoder().decode(value);
    }
    const pids = JSON.parse(text) as { quiet: number; ffmpeg: number; holder: number; control: number };
    leftovers.push(pids.quiet, pids.ffmpeg, pids.holder, pids.control);
    // The FIFO holds 64 KiB: wait until FFmpeg is blocked writing into it.
    const blockedBy = Date.now() + 30_000;
    const wchan = () => fs.readFileSync(`/proc/${pids.ffmpeg}/wchan`, 'utf8');
    while (!/pipe_write$/.test(wchan()) && Date.now() < blockedBy) await Bun.sleep(50);
    expect(wchan()).toMatch(/pipe_write$/); // pipe_write or anon_pipe_write, by kernel version
    for (const pid of Object.values(pids)) expect(isAlive(pid)).toBe(true);

    proc.kill('SIGKILL');
    await proc.exited;
    const deadline = Date.now() + 2000;
    while ((isAlive(pids.quiet) || isAlive(pids.ffmpeg)) && Date.now() < deadline) await Bun.sleep(20);
    expect({ quiet: isAlive(pids.quiet), ffmpeg: isAlive(pids.ffmpeg) }).toEqual({ quiet: false, ffmpeg: false });
    // Unguarded children live on: the signal is the guard's doing, not the owner's death alone.
    expect({ holder: isAlive(pids.holder), control: isAlive(pids.control) }).toEqual({ holder: true, control: true });
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
}, 60_000);

test('a child whose parent is already gone when the guard is set never runs its command', () => {
  const g = parentDeathGuard();
  const [setpriv, , , , sh] = g.prefix;
  const ran = path.join(temp.dir, 'ran');
  // $PPID is this test process, not the pid the guard expects: as if the parent died before prctl.
  const stale = Bun.spawnSync([...guardPrefix(setpriv!, sh!, process.pid + 1_000_000), 'touch', ran]);
  expect(stale.exitCode).toBe(70);
  expect(fs.existsSync(ran)).toBe(false);
  const live = Bun.spawnSync([...guardPrefix(setpriv!, sh!, process.pid), 'touch', ran]);
  expect(live.exitCode).toBe(0);
  expect(fs.existsSync(ran)).toBe(true);
});

test('a missing executable fails at spawn as before, not as a shell exit 127', () => {
  expect(() => dieWithParentArgv(['/nonexistent/ffmpeg', '-version'])).toThrow('Executable not found in $PATH: "/nonexistent/ffmpeg"');
});
