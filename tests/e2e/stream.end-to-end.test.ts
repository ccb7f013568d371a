// The product's spine with real parts: a coordinator process, two worker processes,
// real FFmpeg, real gRPC over loopback and real HTTP clients.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { TEST_ENGINES, TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { ffprobeBytes, makeTestClip, readFor } from '../helpers/media';
import { startLoopingTsServer, type LoopingTsServer } from '../helpers/looping-ts-server';

interface WorkerView {
  id: string;
  state: string;
  encoders: { name: string }[];
  rejectedEncoders: { name: string; reason: string }[];
}
interface JobView {
  id: string;
  state: string;
  sourceId: string;
  profileId: string;
  workerId: string;
}

// Once per store engine: the SQLite file and PostgreSQL (issue 22).
describe.each(TEST_ENGINES)('end to end (%s): clients play a live stream transcoded by remote workers', (engine) => {
  const cluster = new TestCluster({ engine });
  let tsServer: LoopingTsServer;

  beforeAll(async () => {
    await cluster.startCoordinator();
    await Promise.all([cluster.startWorker('w1'), cluster.startWorker('w2')]);
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);
    const clip = `${cluster.temp.dir}/loop.ts`;
    await makeTestClip(clip, 2);
    tsServer = startLoopingTsServer(clip);
    await cluster.createSource('http-loop', tsServer.url);
  });

  afterAll(async () => {
    tsServer?.stop();
    await cluster.stop();
  });

  test('both workers register; the probe rejects an encoder FFmpeg lists but cannot run here', async () => {
    const { status, body } = await cluster.coordinator.api<WorkerView[]>('/api/workers');
    expect(status).toBe(200);
    expect(body.map((w) => w.id).sort()).toEqual(['test-w1', 'test-w2']);
    for (const w of body) {
      expect(w.state).toBe('online');
      expect(w.encoders.map((e) => e.name)).toContain('libx264');
      const nvenc = w.rejectedEncoders.find((e) => e.name === 'h264_nvenc');
      expect(nvenc).toBeDefined();
      expect(nvenc!.reason.length).toBeGreaterThan(0);
      expect(w.encoders.map((e) => e.name)).not.toContain('h264_nvenc');
    }
  });

  test('a client reads 3 s of the stream: MPEG-TS with the profile codec and size', async () => {
    const res = await fetch(`${cluster.coordinator.httpUrl}/stream/pattern/h264-240p`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp2t');
    const bytes = await readFor(res.body!, 3000);
    expect(bytes.byteLength).toBeGreaterThan(10_000);
    expect(bytes.byteLength % 188).toBe(0);
    expect(bytes[0]).toBe(0x47);
    const probe = await ffprobeBytes(bytes);
    expect(probe.formatName).toBe('mpegts');
    const video = probe.streams.find((s) => s.codec_type === 'video');
    expect(video?.codec_name).toBe('h264');
    expect(video?.width).toBe(320);
    expect(video?.height).toBe(240);
    expect(probe.streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('aac');
  });

  test('two clients of one variant share one running job and both get valid streams', async () => {
    const url = `${cluster.coordinator.httpUrl}/stream/pattern/h264-240p`;
    const [a, b] = await Promise.all([fetch(url), fetch(url)]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    const running = await cluster.coordinator.api<JobView[]>('/api/jobs?state=running');
    const forVariant = running.body.filter((j) => j.sourceId === 'pattern' && j.profileId === 'h264-240p');
    expect(forVariant).toHaveLength(1);
    const [bytesA, bytesB] = await Promise.all([readFor(a.body!, 2500), readFor(b.body!, 2500)]);
    for (const bytes of [bytesA, bytesB]) {
      const probe = await ffprobeBytes(bytes);
      expect(probe.streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('h264');
    }
  });

  test('a source from a local HTTP server looping an MPEG-TS file works the same way', async () => {
    const res = await fetch(`${cluster.coordinator.httpUrl}/stream/http-loop/h264-240p`);
    expect(res.status).toBe(200);
    const bytes = await readFor(res.body!, 3000);
    const probe = await ffprobeBytes(bytes);
    const video = probe.streams.find((s) => s.codec_type === 'video');
    expect(video?.codec_name).toBe('h264');
    expect(video?.width).toBe(320);
    expect(tsServer.connections).toBe(1);
  });

  test('unknown source or profile: 404 with a JSON error', async () => {
    for (const path of ['/stream/nope/h264-240p', '/stream/pattern/nope']) {
      const res = await fetch(cluster.coordinator.httpUrl + path);
      expect(res.status).toBe(404);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('not_found');
      expect(body.error.message).toContain('nope');
    }
  });

  test('invalid API bodies: 400/422 naming the field', async () => {
    const bad = await cluster.coordinator.api<{ error: { message: string; field?: string } }>('/api/profiles', {
      method: 'POST',
      body: JSON.stringify({ ...TINY_H264_PROFILE, id: 'bad', width: 'wide' }),
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error.field).toBe('width');
    expect(bad.body.error.message).toContain('width');
    const notJson = await fetch(`${cluster.coordinator.httpUrl}/api/sources`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${cluster.coordinator.adminToken}` },
      body: '{not json',
    });
    expect(notJson.status).toBe(400);
    const missing = await cluster.coordinator.api<{ error: { field?: string } }>('/api/sources', {
      method: 'POST',
      body: JSON.stringify({ id: 'x', name: 'x' }),
    });
    expect(missing.status).toBe(422);
    expect(missing.body.error.field).toBe('url');
    const listed = await cluster.coordinator.api<{ id: string }[]>('/api/profiles');
    expect(listed.body.map((p) => p.id)).not.toContain('bad');
  });

  test('no worker can encode the profile: 503 with the reason', async () => {
    // (AV1 itself is refused by the profile rules: it does not fit MPEG-TS.)
    await cluster.createProfile({ ...TINY_H264_PROFILE, id: 'hevc-gpu', videoCodec: 'hevc', encoderPreference: 'nvenc', preset: 'p1' });
    const res = await fetch(`${cluster.coordinator.httpUrl}/stream/pattern/hevc-gpu`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('no_capacity');
    expect(body.error.message).toContain('hevc');
  });
});
