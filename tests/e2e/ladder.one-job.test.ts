// A ladder that one worker can take whole runs as ONE job (issue 24): one FFmpeg on the
// worker decodes the source once and encodes the three renditions; the coordinator cuts its
// output into one stream per rendition. Checked with real FFmpeg, real workers and real
// HTTP clients:
// - one job row for the ladder (profile_id = the ladder, 3 slots), one FFmpeg process on its
//   worker, each rendition's MPEG-TS decodes at its own size with 0 errors;
// - HLS segment n of every rendition starts on the same source frame (first video PTS
//   equal, by ffprobe);
// - that worker SIGKILLed: the renditions resume as one ladder job on the other worker and
//   every MPEG-TS client stays connected, its stream decoding cleanly after the splice;
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { FAST_LIVENESS, TestCluster, TINY_LADDER_SOURCE_URL, tinyRenditions } from '../helpers/cluster';
import { HlsPoller } from '../helpers/hls-client';
import { decodeErrors, ffprobeBytes, ffprobePipe } from '../helpers/media';
import { childrenNamed, eventually } from '../helpers/processes';
import { cutAtKeyframe, StreamRecorder } from '../helpers/stream-recorder';

const RENDITIONS = tinyRenditions('one');
const THREE = { TVARR_MAX_JOBS: '3', TVARR_MAX_CPU_JOBS: '3' };

interface VariantsView {
  live: { variant: string; job: { id: string; workerId: string } | null }[];
}
interface JobView {
  id: string;
  profileId: string;
  workerId: string;
  state: string;
  slots: number;
}

const cluster = new TestCluster({ env: FAST_LIVENESS });
let base: string;

beforeAll(async () => {
  await cluster.startCoordinator();
  base = cluster.coordinator.httpUrl;
  await cluster.startWorker('a', THREE, { registerTimeoutMs: 120_000 });
  await cluster.createSource('pattern', TINY_LADDER_SOURCE_URL);
  for (const r of RENDITIONS) {
    await cluster.createProfile({ ...r, name: `H.264 ${r.height}p`, videoCodec: 'h264', audioCodec: 'aac', audioBitrateKbps: 48, gopFrames: 25, preset: 'ultrafast' });
  }
  const ladder = await cluster.coordinator.api('/api/ladders', { method: 'POST', body: JSON.stringify({ id: 'abr', name: 'ABR', renditions: RENDITIONS.map((r) => r.id) }) });
  expect(ladder.status).toBe(201);
}, 240_000);

afterAll(async () => {
  await cluster.stop();
});

async function liveJobs(): Promise<JobView[]> {
  const { body } = await cluster.coordinator.api<JobView[]>('/api/jobs?limit=1000');
  return body.filter((j) => j.state === 'running' || j.state === 'pending');
}

async function variantJobs(): Promise<Map<string, { id: string; workerId: string } | null>> {
  const { body } = await cluster.coordinator.api<VariantsView>('/api/variants');
  return new Map(body.live.map((v) => [v.variant, v.job]));
}

/** PTS (90 kHz) of a segment's first video packet, read by ffprobe. */
async function firstVideoPts(bytes: Uint8Array): Promise<number> {
  const out = await ffprobePipe(['-select_streams', 'v:0', '-show_entries', 'packet=pts', '-read_intervals', '%+#1', '-of', 'csv=p=0'], bytes);
  return Number(out.trim().split('\n')[0]);
}

interface CandidatesView {
  ladder?: { id: string; slots: number; placement: string; reason: string };
  candidates: { workerId: string; rank: number | null; excluded: { code: string; reason: string } | null }[];
}

describe('a ladder one worker takes whole', () => {
  const clients: StreamRecorder[] = [];

  test('the candidates API explains the placement: one job of 3 slots on the worker; 422 for profile and ladder at once', async () => {
    const { status, body } = await cluster.coordinator.api<CandidatesView>('/api/workers/candidates?ladder=abr');
    expect(status).toBe(200);
    expect(body.ladder).toMatchObject({ id: 'abr', slots: 3, placement: 'one job' });
    expect(body.ladder!.reason).toMatch(/^one job on test-a: one decode, 3 encoders, 3 slots/);
    expect(body.candidates[0]).toMatchObject({ workerId: 'test-a', rank: 1 });
    const both = await cluster.coordinator.api(`/api/workers/candidates?ladder=abr&profile=${RENDITIONS[0].id}`);
    expect(both.status).toBe(422);
  });

  test('one job, one FFmpeg: every rendition from it, each at its own size, decoding cleanly', async () => {
    for (const r of RENDITIONS) clients.push(await StreamRecorder.open(`${base}/stream/pattern/${r.id}`));
    await Promise.all(clients.map((c) => c.waitForBytes(60_000, 0, 90_000)));

    const live = await liveJobs();
    expect(live).toHaveLength(1);
    expect(live[0]!.profileId).toBe('abr');
    expect(live[0]!.slots).toBe(3);
    const jobs = await variantJobs();
    for (const r of RENDITIONS) expect(jobs.get(`pattern/${r.id}`)?.id).toBe(live[0]!.id);
    // One FFmpeg on the worker for the three renditions (separate jobs would be three).
    expect(childrenNamed(cluster.workers.get('a')!.pid, 'ffmpeg')).toHaveLength(1);

    // Busy with the ladder, the worker has no room for another: the explanation says so.
    const { body: busy } = await cluster.coordinator.api<CandidatesView>('/api/workers/candidates?ladder=abr');
    expect(busy.ladder?.placement).toBe('separate jobs');
    expect(busy.candidates[0]!.excluded).toEqual({ code: 'full', reason: 'full: jobs 3/3, the ladder job needs 3 free' });

    for (const [i, r] of RENDITIONS.entries()) {
      const bytes = cutAtKeyframe(clients[i]!.all(), 0);
      const probe = await ffprobeBytes(bytes);
      const video = probe.streams.find((s) => s.codec_type === 'video');
      expect(video?.codec_name).toBe('h264');
      expect([video?.width, video?.height]).toEqual([r.width, r.height]);
      expect(probe.streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('aac');
      expect(await decodeErrors(bytes)).toBe('');
    }
  }, 180_000);

  test('HLS: segment n of every rendition starts on the same frame', async () => {
    const pollers = RENDITIONS.map((r) => new HlsPoller(`${base}/stream/pattern/${r.id}.m3u8?session=one-${r.id}`));
    try {
      await Promise.all(pollers.map((p) => p.waitForSegments(3, 90_000)));
      const common = pollers[0]!.segments.map((s) => s.sequence).filter((n) => pollers.every((p) => p.segments.some((s) => s.sequence === n)));
      expect(common.length).toBeGreaterThanOrEqual(1);
      for (const n of common) {
        const pts = await Promise.all(pollers.map((p) => firstVideoPts(p.segments.find((s) => s.sequence === n)!.bytes)));
        expect(new Set(pts).size).toBe(1);
      }
    } finally {
      await Promise.all(pollers.map((p) => p.stop()));
    }
    // Still the one ladder job.
    expect(await liveJobs()).toHaveLength(1);
  }, 180_000);

  test('its worker SIGKILLed: the ladder resumes as one job on another worker, every client connected and decoding', async () => {
    await cluster.startWorker('b', THREE, { registerTimeoutMs: 120_000 });
    const before = (await liveJobs())[0]!;
    const victim = before.workerId.replace(/^test-/, '');
    const from = cluster.coordinator.proc.lines.length;
    const moved = cluster.coordinator.proc.waitForLog((l) => l.msg === 'ladder job started' && l.workerId !== before.workerId, 60_000, from);
    const marks = clients.map((c) => c.total);
    cluster.workers.get(victim)!.kill('SIGKILL');
    const started = await moved;
    await Promise.all(clients.map((c, i) => c.waitForBytes(60_000, marks[i], 90_000)));

    const live = await eventually('one live ladder job, the new one', async () => {
      const now = await liveJobs();
      return now.length === 1 && now[0]!.id === started.jobId ? now : undefined;
    });
    expect(live[0]!.slots).toBe(3);
    expect(live[0]!.profileId).toBe('abr');
    const jobs = await variantJobs();
    for (const r of RENDITIONS) expect(jobs.get(`pattern/${r.id}`)?.workerId).not.toBe(before.workerId);
    for (const [i, r] of RENDITIONS.entries()) {
      const after = clients[i]!.bytesAfter(marks[i]!);
      expect(await decodeErrors(cutAtKeyframe(after, 0))).toBe('');
      const probe = await ffprobeBytes(after);
      const video = probe.streams.find((s) => s.codec_type === 'video');
      expect([video?.width, video?.height]).toEqual([r.width, r.height]);
    }
    for (const c of clients) expect(c.status).toBe(200);
  }, 180_000);

  test('its worker drained: every rendition moves to one new ladder job on another worker, the old one is cancelled, every client connected', async () => {
    await cluster.startWorker('c', THREE, { registerTimeoutMs: 120_000 });
    const before = (await liveJobs())[0]!;
    // Only log lines from here on: earlier ladder jobs started on other workers too.
    const from = cluster.coordinator.proc.lines.length;
    const moved = cluster.coordinator.proc.waitForLog((l) => l.msg === 'ladder job started' && l.workerId !== before.workerId, 60_000, from);
    const oldEnded = cluster.coordinator.proc.waitForLog((l) => l.msg === 'job ended' && l.jobId === before.id, 30_000, from);
    const res = await cluster.coordinator.api<{ state: string }>(`/api/workers/${before.workerId}/drain`, { method: 'POST' });
    expect(res.status).toBe(200);
    const started = await moved;
    expect((await oldEnded).state).toBe('cancelled');
    const marks = clients.map((c) => c.total);
    await Promise.all(clients.map((c, i) => c.waitForBytes(60_000, marks[i], 90_000)));
    const live = await liveJobs();
    expect(live.map((j) => [j.id, j.profileId, j.slots])).toEqual([[started.jobId as string, 'abr', 3]]);
    const jobs = await variantJobs();
    for (const r of RENDITIONS) expect(jobs.get(`pattern/${r.id}`)?.id).toBe(started.jobId as string);
    for (const [i, r] of RENDITIONS.entries()) {
      const after = clients[i]!.bytesAfter(marks[i]!);
      expect(await decodeErrors(cutAtKeyframe(after, 0))).toBe('');
      const video = (await ffprobeBytes(after)).streams.find((s) => s.codec_type === 'video');
      expect([video?.width, video?.height]).toEqual([r.width, r.height]);
    }
  }, 180_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });
});
