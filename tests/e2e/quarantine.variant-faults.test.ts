// A refused or impossible spec is the variant's fault, not the workers': the variant fails
// with the reason (in /api/variants), no worker is quarantined, and another variant still
// plays on the same workers.
import { Database } from 'bun:sqlite';
import { afterEach, describe, expect, test } from 'bun:test';
import { chmodSync, writeFileSync } from 'node:fs';
import { FAST_LIVENESS, TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { ffprobeBytes } from '../helpers/media';
import { cutAtKeyframe, StreamRecorder } from '../helpers/stream-recorder';

type Variants = { live: { variant: string; job: { workerId: string } | null }[]; recentlyEnded: { variant: string; reason: string }[] };
type WorkerView = { id: string; quarantinedUntil: number | null; quarantineReason: string | null };

describe('variant faults leave worker health alone', () => {
  let cluster: TestCluster;
  let client: StreamRecorder | undefined;

  afterEach(async () => {
    await client?.close();
    client = undefined;
    await cluster.stop();
  });

  async function expectNoQuarantine(): Promise<void> {
    const { body } = await cluster.coordinator.api<WorkerView[]>('/api/workers');
    expect(body.map((w) => [w.id, w.quarantinedUntil, w.quarantineReason])).toEqual(body.map((w) => [w.id, null, null]));
  }

  async function expectH264Plays(): Promise<void> {
    client = await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/pattern/h264-240p`);
    await client.waitForBytes(100_000);
    const probe = await ffprobeBytes(cutAtKeyframe(client.all(), 0));
    expect(probe.streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('h264');
  }

  test('a profile row every worker would refuse (written straight to SQLite) fails its variant with the reason', async () => {
    // Three refusals per worker used to quarantine every worker for 5 minutes.
    cluster = new TestCluster({ env: { ...FAST_LIVENESS, TVARR_QUARANTINE_FAILURES: '2' } });
    await cluster.startCoordinator();
    await cluster.startWorker('wa');
    await cluster.startWorker('wb');
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);
    // The API refuses this profile now; a row from before (or from another tool) is the
    // original bug: a copy profile carrying an H.264 GOP and audio bitrate.
    const sqlite = new Database(cluster.dbPath);
    sqlite.run(
      `INSERT INTO profiles (id, name, video_codec, audio_codec, audio_bitrate_kbps, gop_frames, created_at)
       VALUES ('copy-old', 'copy (old row)', 'copy', 'copy', 128, 50, ?)`,
      [Date.now()],
    );
    sqlite.close();

    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${cluster.coordinator.httpUrl}/stream/pattern/copy-old`);
      expect(res.status).toBe(422);
      await res.body?.cancel();
    }
    const { body: variants } = await cluster.coordinator.api<Variants>('/api/variants');
    const ended = variants.recentlyEnded.find((v) => v.variant === 'pattern/copy-old');
    expect(ended?.reason).toContain("profile 'copy-old' cannot be run: gopFrames: gopFrames does not apply to videoCodec copy");
    await expectNoQuarantine();
    await expectH264Plays();
    await expectNoQuarantine();
  }, 120_000);

  test('FFmpeg failing on every worker for one profile fails that variant; the workers keep serving the others', async () => {
    cluster = new TestCluster({ env: { ...FAST_LIVENESS, TVARR_MAX_ATTEMPTS: '4', TVARR_QUARANTINE_FAILURES: '2' } });
    // A real FFmpeg that cannot run one particular spec (GOP 17) on any worker: a spec
    // the rules accept but no worker's FFmpeg runs.
    const picky = `${cluster.temp.dir}/ffmpeg-without-gop-17`;
    writeFileSync(picky, '#!/bin/sh\ncase " $* " in *" -g 17 "*) echo "simulated: this FFmpeg cannot encode GOP 17" >&2; exit 1;; esac\nexec ffmpeg "$@"\n');
    chmodSync(picky, 0o755);
    await cluster.startCoordinator();
    await cluster.startWorker('wa', { TVARR_FFMPEG_PATH: picky });
    await cluster.startWorker('wb', { TVARR_FFMPEG_PATH: picky });
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);
    await cluster.createProfile({ ...TINY_H264_PROFILE, id: 'gop17', gopFrames: 17 });

    const gaveUp = cluster.coordinator.proc.waitForMsg('variant failed', 60_000);
    const doomed = await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/pattern/gop17`);
    const line = await gaveUp;
    expect(String(line.reason)).toContain('simulated: this FFmpeg cannot encode GOP 17');
    expect(await doomed.finished).toBe('end');
    const { body: variants } = await cluster.coordinator.api<Variants>('/api/variants');
    expect(variants.recentlyEnded.find((v) => v.variant === 'pattern/gop17')?.reason).toContain('gave up after 4 failed attempts');
    const { body: failed } = await cluster.coordinator.api<{ workerId: string; profileId: string }[]>('/api/jobs?state=failed');
    // Both workers tried it: under the old rule that was a quarantine for each.
    expect(new Set(failed.filter((j) => j.profileId === 'gop17').map((j) => j.workerId))).toEqual(new Set(['test-wa', 'test-wb']));
    await expectNoQuarantine();
    await expectH264Plays();
    await expectNoQuarantine();
  }, 120_000);
});
