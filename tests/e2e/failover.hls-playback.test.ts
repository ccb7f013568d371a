// A worker dies (SIGKILL) while an HLS player watches: the playlist keeps answering, new
// segments keep coming with no reload, each decodes on its own, and wherever the media
// timeline breaks the playlist says so with EXT-X-DISCONTINUITY.
import { afterAll, expect, test } from 'bun:test';
import { FAST_LIVENESS, TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { firstVideoTime, HlsPoller } from '../helpers/hls-client';
import { decodeErrors } from '../helpers/media';

const cluster = new TestCluster({ env: FAST_LIVENESS });
let player: HlsPoller | undefined;

afterAll(async () => {
  await player?.stop();
  await cluster.stop();
});

test('SIGKILL of the serving worker during HLS playback: the playlist continues, segments decode, breaks are flagged', async () => {
  await cluster.startCoordinator();
  await Promise.all([cluster.startWorker('a'), cluster.startWorker('b')]);
  await cluster.createSource('pattern', TINY_PATTERN_URL);
  await cluster.createProfile(TINY_H264_PROFILE);
  player = new HlsPoller(`${cluster.coordinator.httpUrl}/stream/pattern/${TINY_H264_PROFILE.id}.m3u8?session=player`);
  await player.waitForSegments(2, 60_000);

  const { body } = await cluster.coordinator.api<{ live: { job: { workerId: string } | null }[] }>('/api/variants');
  const serving = body.live[0]!.job!.workerId.replace(/^test-/, '');
  const resumed = cluster.coordinator.proc.waitForMsg('variant resumed on a new worker', 60_000);
  const before = player.segments.length;
  const lastBefore = player.segments.at(-1)!.sequence;
  cluster.workers.get(serving)!.kill('SIGKILL');
  await resumed;
  // Three segments produced wholly after the new worker took over.
  await player.waitForSegments(4, 90_000, before);

  // The same playlist URL answered throughout: no reload, no error, the sequence only grew.
  expect(player.playlistStatuses.every((s) => s === 200)).toBe(true);
  expect(player.errors).toEqual([]);
  const after = player.segments.slice(before);
  expect(after[0]!.sequence).toBe(lastBefore + 1);
  for (let i = 1; i < after.length; i++) expect(after[i]!.sequence).toBe(after[i - 1]!.sequence + 1);

  await player.stop();
  // Every segment decodes cleanly on its own.
  for (const segment of after.slice(0, 4)) expect(await decodeErrors(segment.bytes)).toBe('');

  // A timeline break between consecutive segments (a start time not where the previous
  // one ended) must carry EXT-X-DISCONTINUITY; a continuous one must not.
  const all = player.segments;
  let breaks = 0;
  for (let i = 1; i < all.length; i++) {
    const prev = all[i - 1]!;
    const cur = all[i]!;
    const prevStart = firstVideoTime(prev.bytes)!;
    const curStart = firstVideoTime(cur.bytes)!;
    const continuous = Math.abs(curStart - (prevStart + prev.duration)) < 0.1;
    if (!continuous) breaks++;
    expect({ sequence: cur.sequence, flagged: cur.discontinuity }).toEqual({ sequence: cur.sequence, flagged: !continuous });
  }
  console.log(`failover during HLS: ${breaks} timeline break(s) flagged across ${all.length} segments`);
});
