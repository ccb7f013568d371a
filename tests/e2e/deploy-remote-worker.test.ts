// Workers anywhere: a worker on "another host" (a network namespace with its own
// address, 100 ms RTT and 0.1% loss each way between it and the coordinator) registers,
// takes a job and streams output; a client in the default namespace plays it.
// Skipped, with the reason, only where this machine cannot create namespaces.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { ffprobeBytes } from '../helpers/media';
import { canCreateNamespaces, createRemoteHost, type RemoteHost } from '../helpers/netns';
import { BUN, LoggedProcess } from '../helpers/processes';
import { StreamRecorder } from '../helpers/stream-recorder';

const ROOT = new URL('../..', import.meta.url).pathname;
const cannot = canCreateNamespaces();
if (cannot) console.warn(`deploy-remote-worker: skipped: cannot create network namespaces here (${cannot})`);

describe.skipIf(cannot !== null)('deploy: a worker on another host, 100 ms away', () => {
  const cluster = new TestCluster();
  let host: RemoteHost | undefined;
  let worker: LoggedProcess | undefined;

  beforeAll(async () => {
    host = await createRemoteHost({ delayMs: 50, lossPercent: 0.1 });
    console.log(`remote host ${host.remoteAddress} in namespace ${host.ns} via ${host.link}`);
    await cluster.startCoordinator({ TVARR_GRPC_HOST: host.hostAddress });
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);
  });

  afterAll(async () => {
    // Each step runs even if an earlier one failed, so no namespace or link is left behind.
    await worker?.stop().catch(() => {});
    await cluster.stop().catch(() => {});
    host?.destroy();
  });

  test('the worker in the namespace registers through the delayed link', async () => {
    const grpcPort = cluster.coordinator.grpcAddress.split(':').pop();
    const proc = Bun.spawn(host!.exec([BUN, 'worker/main.ts']), {
      cwd: ROOT,
      env: {
        ...process.env,
        TVARR_COORDINATOR_URL: `${host!.hostAddress}:${grpcPort}`,
        TVARR_WORKER_ID: 'remote-worker',
        TVARR_WORKER_NAME: 'remote',
        TVARR_MAX_JOBS: '1',
        TVARR_MAX_CPU_JOBS: '1',
        TVARR_LOG_LEVEL: 'debug',
      },
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: 'pipe',
    });
    worker = new LoggedProcess('remote-worker', proc);
    const registered = await cluster.coordinator.proc.waitForLog((l) => l.msg === 'worker registered' && l.workerId === 'remote-worker', 90_000);
    expect(registered.workerId).toBe('remote-worker');
    const workers = await cluster.coordinator.api<{ id: string; state: string; address: string }[]>('/api/workers');
    const seen = workers.body.find((w) => w.id === 'remote-worker');
    expect(seen?.state).toBe('online');
    // The coordinator saw it arrive from the other host's address.
    expect(seen?.address).toContain(host!.remoteAddress);
  });

  test('it takes a job and a client in the default namespace plays the output', async () => {
    const client = await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/pattern/h264-240p`);
    await client.waitForBytes(150_000, 0, 90_000);
    await client.close();
    const probe = await ffprobeBytes(client.all());
    expect(probe.formatName).toBe('mpegts');
    const video = probe.streams.find((s) => s.codec_type === 'video');
    expect(video?.codec_name).toBe('h264');
    expect(video?.width).toBe(320);
    expect(probe.streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('aac');
    const jobs = await cluster.coordinator.api<{ workerId: string }[]>('/api/jobs');
    expect(jobs.body.some((j) => j.workerId === 'remote-worker')).toBe(true);
  });
});
