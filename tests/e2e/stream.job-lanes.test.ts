// Job stream lanes end to end: a real worker with TVARR_JOB_STREAM_LANES=3 against a real
// coordinator on loopback. The job's bytes travel striped over 3 JobStream calls (each
// on its own connection) and a client still gets a valid MPEG-TS stream.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { ffprobeBytes, makeTestClip, readFor } from '../helpers/media';
import { startLoopingTsServer, type LoopingTsServer } from '../helpers/looping-ts-server';
import type { LoggedProcess } from '../helpers/processes';

describe('job stream lanes: one job over 3 calls', () => {
  const cluster = new TestCluster();
  let tsServer: LoopingTsServer;
  let worker: LoggedProcess;

  beforeAll(async () => {
    await cluster.startCoordinator();
    worker = await cluster.startWorker('lanes', { TVARR_JOB_STREAM_LANES: '3', TVARR_MAX_JOBS: '2', TVARR_MAX_CPU_JOBS: '2' });
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);
    // A network source too, so input bytes are striped down the lanes (not only output up).
    const clip = `${cluster.temp.dir}/loop.ts`;
    await makeTestClip(clip, 2);
    tsServer = startLoopingTsServer(clip);
    await cluster.createSource('http-loop', tsServer.url);
  });

  afterAll(async () => {
    tsServer?.stop();
    await cluster.stop();
  });

  for (const source of ['pattern', 'http-loop']) {
    test(`${source}: a client gets valid ffprobe'd output; the coordinator saw 3 lanes open`, async () => {
      const from = cluster.coordinator.proc.lines.length;
      const res = await fetch(`${cluster.coordinator.httpUrl}/stream/${source}/h264-240p`);
      expect(res.status).toBe(200);
      const bytes = await readFor(res.body!, 4000);
      expect(bytes.byteLength).toBeGreaterThan(50_000);
      const probe = await ffprobeBytes(bytes);
      expect(probe.formatName).toBe('mpegts');
      const video = probe.streams.find((s) => s.codec_type === 'video');
      expect(video?.codec_name).toBe('h264');
      expect(video?.width).toBe(320);
      expect(video?.height).toBe(240);

      const attached = await cluster.coordinator.proc.waitForLog((l) => l.msg === 'job stream lanes attached', 10_000, from);
      expect(attached.lanes).toBe(3);
      const jobId = attached.jobId;
      const opened = cluster.coordinator.proc.lines.slice(from).filter((l) => l.msg === 'job stream lane opened' && l.jobId === jobId);
      expect(opened.map((l) => l.lane).sort()).toEqual([0, 1, 2]);
      expect(worker.lines.some((l) => l.msg === 'job stream lanes opened' && l.lanes === 3)).toBe(true);

      const jobs = await cluster.coordinator.api<{ id: string; state: string; workerId: string }[]>('/api/jobs');
      const job = jobs.body.find((j) => j.id === jobId);
      expect(job?.workerId).toBe('test-lanes');
      // No attempt failed because of a lane (gap, refused open).
      expect(cluster.coordinator.proc.lines.some((l) => typeof l.reason === 'string' && /lane/.test(l.reason as string))).toBe(false);
    });
  }
});
