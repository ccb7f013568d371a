// A real FFmpeg job: MPEG-TS in on stdin, H.264 at a new size out on stdout.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildFfmpegArgs } from '../../worker/runner/build-args';
import { JobProcess } from '../../worker/runner/job-process';
import { TS_PACKET_SIZE, TsPacketAligner } from '../../worker/runner/ts-packet-aligner';

let dir: string;
let input: Uint8Array;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'worker-job-'));
  const src = path.join(dir, 'in.ts');
  const gen = Bun.spawn(['ffmpeg', '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast',
    '-c:a', 'aac', '-f', 'mpegts', '-y', src], { stdout: 'ignore', stderr: 'inherit' });
  expect(await gen.exited).toBe(0);
  input = new Uint8Array(await Bun.file(src).arrayBuffer());
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function ffprobe(file: string): Promise<string> {
  const p = Bun.spawn(['ffprobe', '-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', file], { stdout: 'pipe', stderr: 'pipe' });
  const [out] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  const s = (JSON.parse(out) as { streams: Array<{ codec_name: string; width: number; height: number }> }).streams[0];
  return `${s?.codec_name},${s?.width},${s?.height}`;
}

test('transcodes MPEG-TS from stdin to H.264 at another size, with progress', async () => {
  const args = buildFfmpegArgs({ encoder: 'libx264', width: 160, height: 120, videoBitrateKbps: 200, audioCodec: 'aac', audioBitrateKbps: 64, gopFrames: 25, preset: 'ultrafast' });
  let progressEvents = 0;
  const job = new JobProcess({ ffmpegPath: 'ffmpeg', args, onProgress: () => progressEvents++ });
  const aligner = new TsPacketAligner();
  const chunks: Uint8Array[] = [];
  const reading = (async () => {
    for await (const c of job.output()) chunks.push(aligner.push(c).slice());
  })();
  for (let i = 0; i < input.length; i += 16 * 1024) await job.write(input.subarray(i, i + 16 * 1024));
  await job.endInput();
  await reading;
  const exit = await job.exited;
  expect(exit).toEqual({ code: 0, signal: null, message: '', cancelled: false });
  expect(job.bytesIn).toBe(input.length);
  expect(progressEvents).toBeGreaterThan(0);
  expect(job.lastProgress?.done).toBe(true);
  const out = Buffer.concat(chunks);
  expect(aligner.pending).toBe(0);
  expect(out.length % TS_PACKET_SIZE).toBe(0);
  expect(out[0]).toBe(0x47);
  const file = path.join(dir, 'out.ts');
  fs.writeFileSync(file, out);
  expect(await ffprobe(file)).toBe('h264,160,120');
});

test('garbage input fails with FFmpeg\'s message; cancel() stops a job waiting for input', async () => {
  const bad = new JobProcess({ ffmpegPath: 'ffmpeg', args: buildFfmpegArgs({ encoder: 'libx264', width: 0, height: 0, videoBitrateKbps: 0, audioCodec: 'none', audioBitrateKbps: 0, gopFrames: 0, preset: 'ultrafast' }) });
  const drained = (async () => { for await (const _ of bad.output()); })();
  await bad.write(new TextEncoder().encode('this is not mpeg-ts '.repeat(100)));
  await bad.endInput();
  await drained;
  const badExit = await bad.exited;
  expect(badExit.code).not.toBe(0);
  expect(badExit.message.length).toBeGreaterThan(0);

  const idle = new JobProcess({ ffmpegPath: 'ffmpeg', args: buildFfmpegArgs({ encoder: 'libx264', width: 0, height: 0, videoBitrateKbps: 0, audioCodec: 'none', audioBitrateKbps: 0, gopFrames: 0, preset: 'ultrafast' }), killGraceMs: 500 });
  await idle.write(input.subarray(0, 188 * 20));
  const exit = await idle.cancel();
  expect(exit.cancelled).toBe(true);
  expect(idle.hasExited).toBe(true);
});
