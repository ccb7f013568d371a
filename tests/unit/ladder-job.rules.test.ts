// The pure parts of a ladder job (issue 24): the worker's command line and admission, the
// coordinator's placement explanation, and cutting the job's multi-program output into one
// single-program stream per rendition (real FFmpeg output, checked with ffprobe).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { buildFfmpegArgs } from '../../worker/runner/build-args';
import { validateSpec, type TranscodeSpec } from '../../worker/runner/transcode-spec';
import { decideAdmission, jobSlots } from '../../worker/client/job-admission';
import type { EncoderInfo } from '../../worker/probe/capabilities';
import { explainCandidates, type WorkerFacts } from '../../coordinator/scheduler/explain-candidates';
import { ProgramSplitter } from '../../coordinator/streams/ladder/program-split';
import { makeTempDir, decodeErrors, ffprobePipe } from '../helpers/media';
import { parsePat, parsePmt } from '../../common/mpegts/psi';
import { readPid } from '../../common/mpegts/packet-header';
import { gpuScaleTestArgs, probeGpuScaler } from '../../worker/probe/gpu-scale';

const R = [
  { encoder: 'libx264', width: 320, height: 180, videoBitrateKbps: 300, preset: 'ultrafast' },
  { encoder: 'libx264', width: 256, height: 144, videoBitrateKbps: 200, preset: 'veryfast' },
  { encoder: 'libx264', width: 192, height: 108, videoBitrateKbps: 100, preset: 'ultrafast' },
];
const LADDER: TranscodeSpec = {
  encoder: 'libx264', width: 320, height: 180, videoBitrateKbps: 300, audioCodec: 'aac', audioBitrateKbps: 64, gopFrames: 25, preset: 'ultrafast',
  keyframesFollowSource: true, renditions: R,
};

describe('worker: a ladder spec', () => {
  test('one input, split into one scaled branch per rendition, each option on its own output stream, audio once, one program per rendition', () => {
    const args = buildFfmpegArgs(LADDER);
    expect(args.filter((a) => a === '-i')).toHaveLength(1);
    const graph = args[args.indexOf('-filter_complex') + 1]!;
    expect(graph).toBe('[0:v:0]split=3[s0][s1][s2];[s0]scale=320:180,format=yuv420p[v0];[s1]scale=256:144,format=yuv420p[v1];[s2]scale=192:108,format=yuv420p[v2]');
    for (const [i, r] of R.entries()) {
      expect(args[args.indexOf(`-c:v:${i}`) + 1]).toBe(r.encoder);
      expect(args[args.indexOf(`-b:v:${i}`) + 1]).toBe(`${r.videoBitrateKbps}k`);
      expect(args[args.indexOf(`-preset:v:${i}`) + 1]).toBe(r.preset);
      expect(args[args.indexOf(`-force_key_frames:v:${i}`) + 1]).toBe('source');
    }
    expect(args.filter((a) => a === '-c:a')).toHaveLength(1);
    const programs = args.flatMap((a, i) => (a === '-program' ? [args[i + 1]] : []));
    expect(programs).toEqual(['program_num=1:st=0:st=3', 'program_num=2:st=1:st=3', 'program_num=3:st=2:st=3']);
    expect(buildFfmpegArgs({ ...LADDER, audioCodec: 'none' }).flatMap((a, i, all) => (a === '-program' ? [all[i + 1]] : []))).toEqual(['program_num=1:st=0', 'program_num=2:st=1', 'program_num=3:st=2']);
  });

  test('validation names the rendition and the field; 2-8 renditions of one codec, never copy', () => {
    expect(validateSpec(LADDER)).toBeUndefined();
    expect(validateSpec({ ...LADDER, renditions: [R[0]!] })).toMatch(/^renditions: a ladder job has 2-8 renditions, got 1/);
    expect(validateSpec({ ...LADDER, renditions: Array(9).fill(R[0]) })).toMatch(/got 9/);
    expect(validateSpec({ ...LADDER, renditions: [R[0]!, { ...R[1]!, encoder: 'copy' }] })).toMatch(/^renditions\[1\]\.encoder: .*never "copy"/);
    expect(validateSpec({ ...LADDER, renditions: [R[0]!, { ...R[1]!, preset: 'p7' }] })).toMatch(/^renditions\[1\]\.preset: /);
    expect(validateSpec({ ...LADDER, renditions: [R[0]!, { ...R[1]!, encoder: 'libx265' }] })).toMatch(/^renditions\[1\]\.encoder: makes hevc, renditions\[0\] makes h264/);
  });

  test('admission: one slot per rendition, ladder jobs only up to max_renditions, every encoder must be here', () => {
    const encoders: EncoderInfo[] = [{ name: 'libx264', codec: 'h264', family: 'software', kind: 'cpu' }];
    const limits = { maxJobs: 4, maxGpuJobs: 0, maxCpuJobs: 4 };
    const decide = (o: Partial<Parameters<typeof decideAdmission>[0]>) => {
      const d = decideAdmission({ draining: false, spec: LADDER, encoders, limits, usage: { total: 0, gpu: 0, cpu: 0 }, maxRenditions: 8, ...o });
      return d.accept ? 'accepted' : `${d.reason}: ${d.message}`;
    };
    expect(jobSlots(LADDER)).toBe(3);
    expect(decide({})).toBe('accepted');
    expect(decide({ usage: { total: 1, gpu: 0, cpu: 1 } })).toBe('accepted');
    expect(decide({ usage: { total: 2, gpu: 0, cpu: 2 } })).toBe('at_capacity: running 2 of max 4 jobs, this one takes 3');
    expect(decide({ maxRenditions: 2 })).toMatch(/^invalid_spec: renditions: 3 renditions, this worker encodes at most 2/);
    expect(decide({ maxRenditions: 0 })).toMatch(/^invalid_spec: /);
    expect(decide({ spec: { ...LADDER, renditions: [R[0]!, { ...R[1]!, encoder: 'h264_nvenc' }] } })).toBe('encoder_unavailable: encoder h264_nvenc is not available on this worker');
  });
});

describe('worker: a ladder on NVIDIA', () => {
  const NV = { ...LADDER, renditions: R.map((r) => ({ ...r, encoder: 'h264_nvenc', preset: 'p1' })) };
  // No GPU on this machine: the probe's verdict is passed as the option it would set.
  test('with a proven GPU scaler: frames uploaded once, split and scaled on the GPU into each nvenc', () => {
    const args = buildFfmpegArgs(NV, { gpuScaler: 'scale_cuda' });
    expect(args.slice(args.indexOf('-init_hw_device'), args.indexOf('-init_hw_device') + 4)).toEqual(['-init_hw_device', 'cuda=gpu', '-filter_hw_device', 'gpu']);
    expect(args[args.indexOf('-filter_complex') + 1]).toBe('[0:v:0]format=nv12,hwupload,split=3[s0][s1][s2];[s0]scale_cuda=320:180[v0];[s1]scale_cuda=256:144[v1];[s2]scale_cuda=192:108[v2]');
    expect(args[args.indexOf('-c:v:2') + 1]).toBe('h264_nvenc');
  });
  test('without one (or a rendition that keeps the aspect ratio): scaled on the CPU', () => {
    expect(buildFfmpegArgs(NV)[buildFfmpegArgs(NV).indexOf('-filter_complex') + 1]).toMatch(/^\[0:v:0\]split=3.*\[s0\]scale=320:180\[v0\]/);
    const aspect = { ...NV, renditions: [NV.renditions[0]!, { ...NV.renditions[1]!, width: 0 }] };
    const args = buildFfmpegArgs(aspect, { gpuScaler: 'scale_cuda' });
    expect(args).not.toContain('-init_hw_device');
    expect(args[args.indexOf('-filter_complex') + 1]).toContain('scale=-2:144');
  });
  test('the probe runs the ladder graph itself and finds no GPU scaler here (no CUDA on this machine)', async () => {
    const probe = gpuScaleTestArgs('ffmpeg', 'h264_nvenc', 'scale_npp');
    expect(probe[probe.indexOf('-filter_complex') + 1]).toBe('[0:v]format=nv12,hwupload,split=2[a][b];[a]scale_npp=192:108[o0];[b]scale_npp=128:72[o1]');
    expect(await probeGpuScaler('ffmpeg', undefined, 10_000)).toBeNull();
    expect(await probeGpuScaler('ffmpeg', 'h264_nvenc', 10_000)).toBeNull();
  });
});

describe('coordinator: where a ladder job goes, explained', () => {
  const base = (id: string, over: Partial<WorkerFacts>): WorkerFacts => ({
    workerId: id, name: id, state: 'online', quarantinedUntil: null, quarantineReason: null, speedFps: 10,
    maxJobs: 4, maxGpuJobs: 0, maxCpuJobs: 4, jobs: 0, gpuJobs: 0, cpuJobs: 0, maxRenditions: 8,
    encoders: [{ encoder: 'libx264', codec: 'h264', kind: 'cpu', family: 'software' }], ...over,
  });
  test('three slots free and ladder jobs of three: ranked; otherwise the reason says which', () => {
    const rows = explainCandidates(
      [base('a', {}), base('b', { jobs: 2, cpuJobs: 2 }), base('c', { maxRenditions: 2 }), base('d', { maxRenditions: 0 }), base('e', { maxCpuJobs: 2 })],
      { codec: 'h264', preference: null, now: 0, slots: 3 },
    );
    const by = new Map(rows.map((r) => [r.workerId, r]));
    expect(by.get('a')!.rank).toBe(1);
    expect(by.get('b')!.excluded).toEqual({ code: 'full', reason: 'full: jobs 2/4, the ladder job needs 3 free' });
    expect(by.get('c')!.excluded?.code).toBe('no_ladder_jobs');
    expect(by.get('c')!.excluded?.reason).toMatch(/at most 2 renditions in one job; this ladder job has 3/);
    expect(by.get('d')!.excluded?.reason).toMatch(/^runs no ladder jobs/);
    expect(by.get('e')!.excluded).toEqual({ code: 'cpu_slots_full', reason: 'CPU slots full: 0/2, the ladder job needs 3 free' });
    // The same workers for a one-slot job: all of them take it.
    expect(explainCandidates([base('b', { jobs: 2, cpuJobs: 2 }), base('d', { maxRenditions: 0 })], { codec: 'h264', preference: null, now: 0 }).every((r) => r.rank !== null)).toBe(true);
  });
});

describe('coordinator: cutting a ladder job output into renditions', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let output: Uint8Array;
  beforeAll(async () => {
    tmp = makeTempDir('ladder-split');
    const src = `${tmp.dir}/src.ts`;
    const mk = Bun.spawn(['ffmpeg', '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '3', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-c:a', 'aac', '-f', 'mpegts', src]);
    expect(await mk.exited).toBe(0);
    const args = buildFfmpegArgs(LADDER).map((a) => (a === 'pipe:0' ? src : a === 'pipe:2' ? '/dev/null' : a));
    const run = Bun.spawn(['ffmpeg', ...args], { stdout: 'pipe', stderr: 'pipe' });
    output = new Uint8Array(await new Response(run.stdout).arrayBuffer());
    expect(await run.exited).toBe(0);
  });
  afterAll(() => tmp.cleanup());

  function split(chunkBytes: number, splitter = new ProgramSplitter(3)): Uint8Array[] {
    for (let i = 0; i < 3; i++) splitter.startAtKeyframe(i);
    const parts: Uint8Array[][] = [[], [], []];
    for (let at = 0; at < output.length; at += chunkBytes) splitter.push(output.subarray(at, at + chunkBytes)).forEach((p, i) => parts[i]!.push(p));
    return parts.map((p) => Buffer.concat(p));
  }

  test("each rendition is a single-program stream with a one-output job's PIDs, at its size, decoding cleanly, keyframes on the same PTS", async () => {
    // Chunks that cut packets anywhere: the splitter carries the partial packet over.
    const outs = split(188 * 5 + 77);
    const keyPts: string[] = [];
    for (const [i, bytes] of outs.entries()) {
      expect(bytes.length % 188).toBe(0);
      const pat = parsePat(bytes, 0);
      expect(pat?.programs).toEqual([{ programNumber: 1, pmtPid: 0x1000 }]);
      let pmtAt = 188;
      while (readPid(bytes, pmtAt) !== 0x1000) pmtAt += 188;
      const pmt = parsePmt(bytes, pmtAt)!;
      expect(pmt.programNumber).toBe(1);
      expect(pmt.pcrPid).toBe(0x100);
      expect(pmt.streams.map((s) => s.pid)).toEqual([0x100, 0x101]);
      const pids = new Set<number>();
      for (let at = 0; at < bytes.length; at += 188) pids.add(readPid(bytes, at));
      expect([...pids].sort()).toEqual([0, 0x100, 0x101, 0x1000]);
      const size = await ffprobePipe(['-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0'], bytes);
      expect(size.trim().split('\n')[0]).toBe(`${R[i]!.width},${R[i]!.height}`);
      expect(await decodeErrors(bytes)).toBe('');
      keyPts.push((await ffprobePipe(['-select_streams', 'v:0', '-show_entries', 'packet=pts,flags', '-of', 'csv=p=0'], bytes)).split('\n').filter((l) => l.includes('K')).join(' '));
    }
    expect(new Set(keyPts).size).toBe(1);
  });

  test('a rendition joining mid-job starts with PAT, PMT and a keyframe', async () => {
    const splitter = new ProgramSplitter(3);
    const half = Math.floor(output.length / 2 / 188) * 188;
    splitter.push(output.subarray(0, half));
    splitter.startAtKeyframe(2);
    const late = splitter.push(output.subarray(half))[2]!;
    expect(readPid(late, 0)).toBe(0);
    expect(readPid(late, 188)).toBe(0x1000);
    expect(readPid(late, 376)).toBe(0x100);
    const first = (await ffprobePipe(['-select_streams', 'v:0', '-show_entries', 'packet=flags', '-read_intervals', '%+#1', '-of', 'csv=p=0'], late)).trim();
    expect(first.startsWith('K')).toBe(true);
    expect(await decodeErrors(late)).toBe('');
    // A rendition nobody reads any more is not copied; one never asked for is not either.
    splitter.drop(2);
    expect(splitter.push(output.subarray(0, half)).map((p) => p.length)).toEqual([0, 0, 0]);
  });
});
