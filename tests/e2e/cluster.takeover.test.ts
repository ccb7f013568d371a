// Two coordinators on one PostgreSQL database, each with one real worker: a viewer of
// either gets the variant, which still runs once in the whole cluster (one owner per
// source; the other coordinator mirrors the owner's output over the internal stream).
// The owner is SIGKILLed: the other coordinator's viewer keeps its connection, the source
// is taken over when the owner's lease passes, and media resumes on a job of the survivor,
// with one running job for the variant in the table throughout. The internal stream
// refuses anyone without the cluster secret.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { FAST_LIVENESS, TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL, type CoordinatorHandle } from '../helpers/cluster';
import { parseMediaPlaylist } from '../helpers/hls-client';
import { ffprobeBytes } from '../helpers/media';
import { eventually } from '../helpers/processes';
import { cutAtKeyframe, StreamRecorder } from '../helpers/stream-recorder';

const LEASE_MS = 1000;
const VARIANT = `/stream/pattern/${TINY_H264_PROFILE.id}`;

interface JobRow {
  id: string;
  state: string;
  sourceId: string;
  coordinatorId: string | null;
}

describe('cluster: one producer per variant, mirrored, taken over when its owner dies', () => {
  const cluster = new TestCluster({ engine: 'postgres', env: { ...FAST_LIVENESS, TVARR_CLUSTER_LEASE_MS: String(LEASE_MS) } });
  let a: CoordinatorHandle;
  let b: CoordinatorHandle;
  const viewers: StreamRecorder[] = [];

  const running = async (via: CoordinatorHandle) => (await via.api<JobRow[]>('/api/jobs?state=running')).body.filter((j) => j.sourceId === 'pattern');

  beforeAll(async () => {
    a = await cluster.startCoordinator({ TVARR_COORDINATOR_ID: 'coord-a' });
    await cluster.startWorker('on-a');
    b = await cluster.startCoordinator({ TVARR_COORDINATOR_ID: 'coord-b' });
    await cluster.startWorker('on-b'); // cluster.coordinator is b now
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);
  }, 180_000);

  afterAll(async () => {
    for (const v of viewers) await v.close().catch(() => {});
    await cluster.stop();
  });

  test('a viewer of each coordinator: one job in the cluster, owned by the first asked; the other mirrors it', async () => {
    const onA = await StreamRecorder.open(`${a.httpUrl}${VARIANT}`);
    viewers.push(onA);
    await onA.waitForBytes(30_000);
    const onB = await StreamRecorder.open(`${b.httpUrl}${VARIANT}`);
    viewers.push(onB);
    await onB.waitForBytes(60_000);
    const jobs = await running(b);
    expect(jobs!.length).toBe(1);
    expect(jobs[0]!.coordinatorId).toBe('coord-a');
    const probe = await ffprobeBytes(cutAtKeyframe(onB.all(), 0));
    expect(probe.streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('h264');
  });

  test("HLS from either coordinator is the owner's: the same segment names for the same sequence numbers, segments fetched through either", async () => {
    const playlist = async (via: CoordinatorHandle) => {
      const res = await fetch(`${via.httpUrl}${VARIANT}.m3u8?session=lb-viewer`);
      expect(res.status).toBe(200);
      return parseMediaPlaylist(await res.text());
    };
    const fromA = await eventually('a playlist with segments', async () => ((await playlist(a)).segments.length >= 2 ? playlist(a) : null), 60_000);
    const fromB = await playlist(b);
    const byNumber = new Map(fromA!.segments.map((x) => [x.sequence, x.uri]));
    const common = fromB.segments.filter((x) => byNumber.has(x.sequence));
    expect(common.length).toBeGreaterThan(0);
    for (const x of common) expect(x.uri).toBe(byNumber.get(x.sequence)!);
    const seg = common[0]!;
    const [viaA, viaB] = await Promise.all([a, b].map(async (via) => new Uint8Array(await (await fetch(new URL(seg.uri, `${via.httpUrl}${VARIANT}.m3u8`))).arrayBuffer())));
    expect(viaB!.byteLength).toBeGreaterThan(0);
    expect(Buffer.compare(Buffer.from(viaA!), Buffer.from(viaB!))).toBe(0);
  });

  test('the internal stream is for coordinators only: 401 without the cluster secret', async () => {
    const res = await fetch(`${a.httpUrl}/internal/stream/pattern/${TINY_H264_PROFILE.id}`);
    expect(res.status).toBe(401);
    const forged = await fetch(`${a.httpUrl}/internal/stream/pattern/${TINY_H264_PROFILE.id}`, { headers: { 'x-tvarr-cluster-secret': 'guess' } });
    expect(forged.status).toBe(401);
  });

  test("SIGKILL of the owner: the survivor's viewer stays connected and media resumes from the survivor's own job", async () => {
    const onB = viewers[1]!;
    // An HLS viewer of B just before: B passes A's playlist on and copies its newest segments.
    const listed = parseMediaPlaylist(await (await fetch(`${b.httpUrl}${VARIANT}.m3u8?session=hls-at-kill`)).text()).segments.slice(-3);
    expect(listed.length).toBeGreaterThan(0);
    const fromOwner = new Uint8Array(await (await fetch(new URL(listed.at(-1)!.uri, `${a.httpUrl}${VARIANT}.m3u8`))).arrayBuffer());
    // The copies are made in the background from one coordinator to the other: give them
    // until A lists one segment more (polling another process's playlist).
    await eventually('one more segment on A', async () => {
      const now = parseMediaPlaylist(await (await fetch(`${a.httpUrl}${VARIANT}.m3u8`)).text()).segments;
      return now.at(-1)!.sequence > listed.at(-1)!.sequence;
    }, 30_000);
    const mark = onB.total;
    a.proc.proc.kill('SIGKILL');
    const killedAt = Date.now();
    // Segments of A's last run that the viewer was shown are still served by B (its copies),
    // whether A's lease still runs or B has taken the source over: no failed fetch.
    for (const seg of listed) {
      const res = await fetch(new URL(seg.uri, `${b.httpUrl}${VARIANT}.m3u8`));
      expect(res.status).toBe(200);
      expect(res.headers.get('x-tvarr-replica')).toBe('1');
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (seg === listed.at(-1)) expect(Buffer.compare(Buffer.from(bytes), Buffer.from(fromOwner))).toBe(0);
    }
    // Media again: well past what the dead owner's last bytes could be.
    await onB.waitForBytes(150_000, mark, 60_000);
    const jobs = await eventually('one running job, on the survivor', async () => {
      const r = await running(b);
      return r.length === 1 && r[0]!.coordinatorId === 'coord-b' ? r : null;
    }, 30_000);
    expect(jobs!.length).toBe(1);
    // The viewer's connection was never closed.
    expect(await Promise.race([onB.finished, Bun.sleep(10).then(() => 'open')])).toBe('open');
    const gap = onB.largestSilenceSince(killedAt);
    console.log(`takeover: largest gap ${gap} ms after the owner's SIGKILL (lease ${LEASE_MS} ms)`);
    // A correctness bound (the lease, a new job's start on a loaded machine), not a speed claim.
    expect(gap).toBeLessThan(15_000);
    const probe = await ffprobeBytes(cutAtKeyframe(onB.bytesAfter(mark), 0));
    expect(probe.streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('h264');
  }, 120_000);

  test('SIGTERM of the owner hands its source over at once: the viewer elsewhere keeps playing', async () => {
    // coord-a again (same id), now a viewer of coord-b's source on it: b owns, a mirrors.
    a = await cluster.startCoordinator({ TVARR_COORDINATOR_ID: 'coord-a' });
    await cluster.startWorker('on-a-2', { TVARR_WORKER_ID: 'test-on-a-2' });
    const onA = await StreamRecorder.open(`${a.httpUrl}${VARIANT}`);
    viewers.push(onA);
    await onA.waitForBytes(60_000);
    expect((await running(a)).map((j) => j.coordinatorId)).toEqual(['coord-b']);
    const mark = onA.total;
    b.proc.kill('SIGTERM');
    const stoppedAt = Date.now();
    await onA.waitForBytes(150_000, mark, 60_000);
    const jobs = await eventually('one running job, on coord-a', async () => {
      const r = await running(a);
      return r.length === 1 && r[0]!.coordinatorId === 'coord-a' ? r : null;
    }, 30_000);
    expect(jobs!.length).toBe(1);
    expect(await Promise.race([onA.finished, Bun.sleep(10).then(() => 'open')])).toBe('open');
    const first = onA.chunks.find((c) => c.at >= stoppedAt && onA.chunks.indexOf(c) > 0);
    console.log(`handover on SIGTERM: media ${first ? first.at - stoppedAt : -1} ms after the signal`);
  }, 120_000);

  test('SIGSTOP of the owner past its lease, then SIGCONT: another takes over, never two running jobs, the paused one stops producing', async () => {
    const c = await cluster.startCoordinator({ TVARR_COORDINATOR_ID: 'coord-c' });
    await cluster.startWorker('on-c');
    const onC = await StreamRecorder.open(`${c.httpUrl}${VARIANT}`);
    viewers.push(onC);
    await onC.waitForBytes(60_000);
    expect((await running(c)).map((j) => j.coordinatorId)).toEqual(['coord-a']);
    const mark = onC.total;
    let most = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        most = Math.max(most, (await running(c)).length);
        await Bun.sleep(50); // polling the database from outside, as an operator's dashboard would
      }
    })();
    a.proc.proc.kill('SIGSTOP');
    try {
      await onC.waitForBytes(150_000, mark, 60_000);
      await eventually('coord-c owns the source', async () => (await running(c)).some((j) => j.coordinatorId === 'coord-c'), 30_000);
    } finally {
      a.proc.proc.kill('SIGCONT');
    }
    // Awake again: its renewal finds the lease taken and it stops producing the source.
    const from = a.proc.lines.length;
    await a.proc.waitForLog((l) => l.msg === 'cluster: source lease lost to another coordinator; its runs here stop' || l.msg === 'cluster: giving up every source lease', 30_000, from);
    await Bun.sleep(1000); // a second of the resumed owner's activity, watched by the poller
    watching = false;
    await watch;
    expect(most).toBeLessThanOrEqual(1);
    const now = await running(c);
    expect(now.map((j) => j.coordinatorId)).toEqual(['coord-c']);
    expect(await Promise.race([onC.finished, Bun.sleep(10).then(() => 'open')])).toBe('open');
  }, 150_000);
});
