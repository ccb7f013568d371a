// The compiled worker: built once into an empty temp folder, run from there with
// nothing beside it (no node_modules, no .proto), it registers with a coordinator and
// completes a transcode that a client can play.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readdirSync } from 'node:fs';
import { buildWorker, hostTarget } from '../../scripts/build-worker';
import { TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { ffprobeBytes, makeTempDir } from '../helpers/media';
import { StreamRecorder } from '../helpers/stream-recorder';
import { LoggedProcess } from '../helpers/processes';

describe('deploy: the single-file worker binary', () => {
  const cluster = new TestCluster();
  const binDir = makeTempDir('ffmpegd-bin');
  let binary: string;
  let worker: LoggedProcess | undefined;

  beforeAll(async () => {
    // One build per file: it is the slow part on 2 cores.
    binary = buildWorker(binDir.dir, [hostTarget()])[0]!.path;
    await cluster.startCoordinator();
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);
  });

  afterAll(async () => {
    await worker?.stop();
    await cluster.stop();
    binDir.cleanup();
  });

  test('the folder holds only the binary', () => {
    expect(readdirSync(binDir.dir)).toEqual([`ffmpegd-${hostTarget()}`]);
  });

  test('--help and detect work from the binary alone', () => {
    const help = Bun.spawnSync([binary, '--help'], { cwd: binDir.dir, env: { PATH: process.env.PATH ?? '' } });
    expect(help.exitCode).toBe(0);
    expect(help.stdout.toString()).toContain('TVARR_COORDINATOR_URL');
    const detect = Bun.spawnSync([binary, 'detect'], { cwd: binDir.dir, env: { PATH: process.env.PATH ?? '' } });
    expect(detect.exitCode).toBe(0);
    const caps = JSON.parse(detect.stdout.toString()) as { encoders: { name: string }[] };
    expect(caps.encoders.map((e) => e.name)).toContain('libx264');
  });

  test('it registers, takes a job, and a client plays the output', async () => {
    const proc = Bun.spawn([binary], {
      cwd: binDir.dir,
      // A clean environment: only what a remote host would set.
      env: {
        PATH: process.env.PATH ?? '',
        TVARR_COORDINATOR_URL: cluster.coordinator.grpcAddress,
        TVARR_WORKER_ID: 'compiled-worker',
        TVARR_WORKER_NAME: 'compiled',
        TVARR_MAX_JOBS: '1',
        TVARR_MAX_CPU_JOBS: '1',
        ...(process.env.TVARR_TEST_RUN ? { TVARR_TEST_RUN: process.env.TVARR_TEST_RUN } : {}),
      },
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: 'pipe',
    });
    worker = new LoggedProcess('compiled-worker', proc);
    await cluster.coordinator.proc.waitForLog((l) => l.msg === 'worker registered' && l.workerId === 'compiled-worker', 60_000);

    // A player: keep reading until 100 KB of output have arrived (an event, not a timer).
    const client = await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/pattern/h264-240p`);
    await client.waitForBytes(100_000, 0, 90_000);
    await client.close();
    const bytes = client.all();
    const probe = await ffprobeBytes(bytes);
    expect(probe.formatName).toBe('mpegts');
    const video = probe.streams.find((s) => s.codec_type === 'video');
    expect(video?.codec_name).toBe('h264');
    expect(video?.width).toBe(320);

    const jobs = await cluster.coordinator.api<{ workerId: string; state: string }[]>('/api/jobs');
    expect(jobs.body.some((j) => j.workerId === 'compiled-worker')).toBe(true);
  });
});
