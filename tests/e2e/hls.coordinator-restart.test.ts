// A coordinator SIGKILLed and restarted on its database and ports (issue 23): its HLS
// playlist goes on forward instead of starting again at 0. The media sequence after the
// restart is past every number the viewer saw before it, the discontinuity sequence is
// higher (the timeline before is another one), and no segment URL is reused. Both engines.
import { afterAll, describe, expect, test } from 'bun:test';
import { TEST_ENGINES, TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { parseMediaPlaylist, type MediaPlaylist } from '../helpers/hls-client';
import { eventually } from '../helpers/processes';

describe.each(TEST_ENGINES)('HLS across a coordinator restart (%s)', (engine) => {
  const cluster = new TestCluster({ engine });
  afterAll(() => cluster.stop());

  test('media sequence and discontinuity sequence only go forward; no segment name comes back', async () => {
    const first = await cluster.startCoordinator();
    await cluster.startWorker('w');
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);
    const url = (base: string) => `${base}/stream/pattern/${TINY_H264_PROFILE.id}.m3u8?session=viewer1`;
    const playlist = async (base: string): Promise<MediaPlaylist> => {
      const res = await fetch(url(base));
      if (res.status !== 200) throw new Error(`playlist ${res.status}`);
      return parseMediaPlaylist(await res.text());
    };
    const before = await eventually('two segments before the restart', async () => {
      const p = await playlist(first.httpUrl);
      return p.segments.length >= 2 ? p : null;
    }, 60_000);
    const last = before!.segments.at(-1)!;

    const ports = { http: Number(new URL(first.httpUrl).port), grpc: Number(first.grpcAddress.split(':')[1]) };
    first.proc.kill('SIGKILL');
    await first.proc.exited;
    const second = await cluster.startCoordinator({}, ports);
    await second.proc.waitForLog((l) => l.msg === 'worker registered' && l.workerId === 'test-w', 60_000);
    const after = await eventually('a playlist after the restart', () => playlist(second.httpUrl).catch(() => null), 60_000);

    expect(after!.mediaSequence).toBeGreaterThan(last.sequence);
    expect(after!.discontinuitySequence).toBeGreaterThan(before!.discontinuitySequence);
    const oldNames = new Set(before!.segments.map((s) => s.uri));
    for (const s of after!.segments) expect(oldNames.has(s.uri)).toBe(false);
  }, 180_000);
});
