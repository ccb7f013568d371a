// Profiles are checked by the same rules workers apply (common/transcode-rules.ts): the
// README's minimal copy profile is stored with copy defaults and plays through a worker,
// and what no worker would run is refused with a 422 naming the field.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { FAST_LIVENESS, TestCluster, TINY_PATTERN_URL } from '../helpers/cluster';
import { ffprobeBytes } from '../helpers/media';
import { cutAtKeyframe, StreamRecorder } from '../helpers/stream-recorder';

type ErrorBody = { error: { code: string; message: string; field?: string } };
type Profile = Record<string, unknown>;

describe('profile rules', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = new TestCluster({ env: FAST_LIVENESS });
    await cluster.startCoordinator();
    await cluster.startWorker('w1');
    await cluster.createSource('pattern', TINY_PATTERN_URL);
  }, 120_000);

  afterAll(async () => {
    await cluster.stop();
  });

  test("the README's minimal copy profile is stored without GOP/bitrate/size and plays through a worker", async () => {
    const created = await cluster.coordinator.api<Profile>('/api/profiles', {
      method: 'POST',
      body: JSON.stringify({ id: 'copy', name: 'copy', videoCodec: 'copy', audioCodec: 'copy' }),
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ videoCodec: 'copy', audioCodec: 'copy', width: 0, height: 0, videoBitrateKbps: 0, gopFrames: 0, audioBitrateKbps: 0, preset: null });

    const client = await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/pattern/copy`);
    try {
      await client.waitForBytes(150_000);
      const probe = await ffprobeBytes(cutAtKeyframe(client.all(), 0));
      // The pattern source is MPEG-2 video with MP2 audio: copy keeps both as they are.
      expect(probe.formatName).toBe('mpegts');
      expect(probe.streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('mpeg2video');
      expect(probe.streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('mp2');
    } finally {
      await client.close();
    }
    const { body: jobs } = await cluster.coordinator.api<{ profileId: string; encoder: string; failureReason: string | null }[]>('/api/jobs?workerId=test-w1');
    const copyJobs = jobs.filter((j) => j.profileId === 'copy');
    expect(copyJobs.length).toBeGreaterThan(0);
    expect(copyJobs.every((j) => j.encoder === 'copy' && !(j.failureReason ?? '').includes('INVALID_SPEC'))).toBe(true);
  }, 120_000);

  test('what no worker would run is refused with a 422 naming the field', async () => {
    const post = (body: Profile) => cluster.coordinator.api<ErrorBody>('/api/profiles', { method: 'POST', body: JSON.stringify({ name: 'x', ...body }) });
    const cases: [Profile, string][] = [
      [{ id: 'copy-gop', videoCodec: 'copy', gopFrames: 50 }, 'gopFrames'],
      [{ id: 'copy-size', videoCodec: 'copy', width: 640, height: 360 }, 'width'],
      [{ id: 'copy-abr', videoCodec: 'copy', audioCodec: 'copy', audioBitrateKbps: 128 }, 'audioBitrateKbps'],
      [{ id: 'vp9', videoCodec: 'vp9' }, 'videoCodec'],
      [{ id: 'odd', videoCodec: 'h264', width: 641 }, 'width'],
      [{ id: 'nvenc-on-cpu', videoCodec: 'h264', encoderPreference: 'cpu', preset: 'p4' }, 'preset'],
      [{ id: 'mp2-rate', videoCodec: 'h264', audioCodec: 'mp2', audioBitrateKbps: 100 }, 'audioBitrateKbps'],
    ];
    for (const [body, field] of cases) {
      const res = await post(body);
      expect({ id: body.id, status: res.status, field: res.body.error?.field }).toEqual({ id: body.id, status: 422, field });
      expect(res.body.error.message).toContain(field);
    }
    const { body: listed } = await cluster.coordinator.api<{ id: string }[]>('/api/profiles');
    expect(listed.map((p) => p.id).filter((id) => cases.some(([c]) => c.id === id))).toEqual([]);

    // A patch is checked against the stored profile; fields left out follow a codec change.
    expect((await post({ id: 'flip', videoCodec: 'copy' })).status).toBe(201);
    const badPatch = await cluster.coordinator.api<ErrorBody>('/api/profiles/flip', { method: 'PATCH', body: JSON.stringify({ width: 640 }) });
    expect([badPatch.status, badPatch.body.error.field]).toEqual([422, 'width']);
    const toH264 = await cluster.coordinator.api<Profile>('/api/profiles/flip', { method: 'PATCH', body: JSON.stringify({ videoCodec: 'h264', width: 320, height: 240 }) });
    expect(toH264.status).toBe(200);
    expect(toH264.body).toMatchObject({ videoCodec: 'h264', width: 320, gopFrames: 50, audioCodec: 'copy' });
    const back = await cluster.coordinator.api<Profile>('/api/profiles/flip', { method: 'PATCH', body: JSON.stringify({ videoCodec: 'copy' }) });
    expect(back.body).toMatchObject({ videoCodec: 'copy', width: 0, height: 0, gopFrames: 0 });
  }, 60_000);
});
