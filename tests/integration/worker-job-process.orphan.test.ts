// FFmpeg must not outlive the worker: when the process that owns a JobProcess is
// SIGKILLed (no cleanup code runs), FFmpeg sees EOF on stdin / EPIPE on stdout and exits.
import { afterAll, expect, test } from 'bun:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'worker-orphan-'));
const root = path.resolve(import.meta.dir, '../..');
let ffmpegPid: number | undefined;

afterAll(() => {
  if (ffmpegPid && isAlive(ffmpegPid)) process.kill(ffmpegPid, 'SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Alive = exists and is not a zombie (an orphan may be reparented to a pid 1 that never reaps). */
function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function waitUntil(cond: () => boolean, deadlineMs: number): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await Bun.sleep(25);
  }
  return cond();
}

test('SIGKILL of the owning process leaves no FFmpeg behind', async () => {
  const harness = path.join(dir, 'owner.ts');
  // The owner feeds FFmpeg a live-like input (lavfi-encoded TS) and keeps stdin open, so FFmpeg is mid-job.
  fs.writeFileSync(harness, `
    import { JobProcess } from ${JSON.stringify(path.join(root, 'worker/runner/job-process.ts'))};
    import { buildFfmpegArgs } from ${JSON.stringify(path.join(root, 'worker/runner/build-args.ts'))};
    const src = Bun.spawn(['ffmpeg', '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25', '-t', '1', '-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'mpegts', '-'], { stdout: 'pipe', stderr: 'ignore' });
    const input = new Uint8Array(await new Response(src.stdout).arrayBuffer());
    const job = new JobProcess({ ffmpegPath: 'ffmpeg', args: buildFfmpegArgs({ encoder: 'libx264', width: 0, height: 0, videoBitrateKbps: 0, audioCodec: 'none', audioBitrateKbps: 0, gopFrames: 0, preset: 'ultrafast' }) });
    void (async () => { for await (const _ of job.output()); })();
    await job.write(input);
    console.log('ffmpeg-pid=' + job.pid);
    setInterval(() => {}, 1000);
  `);
  const owner = Bun.spawn([process.execPath, harness], { stdout: 'pipe', stderr: 'inherit' });
  try {
    const reader = owner.stdout.getReader();
    let text = '';
    while (!/ffmpeg-pid=\d+\n/.test(text)) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`owner exited before starting ffmpeg: ${text}`);
      text += new TextDecoder().decode(value);
    }
    ffmpegPid = Number(/ffmpeg-pid=(\d+)/.exec(text)?.[1]);
    expect(isAlive(ffmpegPid)).toBe(true);

    owner.kill('SIGKILL');
    await owner.exited;
    expect(await waitUntil(() => !isAlive(ffmpegPid as number), 10_000)).toBe(true);
  } finally {
    if (!owner.killed) owner.kill('SIGKILL');
  }
}, 60_000);
