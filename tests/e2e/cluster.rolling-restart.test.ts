// A rolling restart of a three-coordinator cluster on one PostgreSQL database (issue 23):
// each coordinator in turn gets SIGTERM, exits, and starts again on the same ports and
// database; the next one goes only once it answers /healthz and its worker is back. One
// worker per coordinator (pinned to it, as a worker on the coordinator's host would be)
// and one MPEG-TS viewer per coordinator, directly.
//
// While one coordinator restarts, the viewers of the other two must keep their connection
// and their media: the largest silence is bounded by the issue's 3 s (the restarted one
// may be the source's owner: then a survivor takes the source over, the other follows
// it). What they got must be one clean stream across every splice: FFmpeg decodes it
// without an error, no continuity counter is wrong, and video decode times only go
// forward, in steps no longer than the silence. The restarted coordinator's viewer is
// cut (its process ended) and a new one plays from it again. At the end exactly one job
// runs for the variant in the whole cluster.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { FAST_LIVENESS, TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL, type CoordinatorHandle } from '../helpers/cluster';
import { decodeErrors } from '../helpers/media';
import { eventually, freePort, type LoggedProcess } from '../helpers/processes';
import { checkDtsSteps, continuityErrors, videoDecodeTimes } from '../helpers/source-change-checks';
import { cutAtKeyframe, StreamRecorder } from '../helpers/stream-recorder';

const LEASE_MS = 1000;
const IDS = ['coord-a', 'coord-b', 'coord-c'] as const;
const VARIANT = `/stream/pattern/${TINY_H264_PROFILE.id}`;
/** The issue's bound on a takeover's gap for a viewer that stays connected. */
const MAX_SILENCE_MS = 3000;

interface JobRow {
  state: string;
  sourceId: string;
  profileId: string;
  coordinatorId: string | null;
}

interface Member {
  id: string;
  ports: { http: number; grpc: number };
  handle: CoordinatorHandle;
  worker: string;
  /** The viewer on this coordinator now, and when it had its first bytes. */
  viewer: StreamRecorder;
}

interface Survivor {
  on: string;
  restarted: string;
  silenceMs: number;
  open: string;
}

describe('rolling restart of three coordinators', () => {
  const cluster = new TestCluster({ engine: 'postgres', env: { ...FAST_LIVENESS, TVARR_CLUSTER_LEASE_MS: String(LEASE_MS), TVARR_IDLE_GRACE_MS: '3000' } });
  const members: Member[] = [];
  const everyViewer: StreamRecorder[] = [];
  /** Per viewer: the time its coordinator got SIGTERM (its bytes up to then are the survivor's view). */
  const cutAt = new Map<StreamRecorder, number>();
  const survivors: Survivor[] = [];
  const owners: string[] = [];
  /** Every coordinator process started, restarted ones included (their logs). */
  const processes: LoggedProcess[] = [];

  const alive = () => members.find((m) => m.handle.proc.proc.exitCode === null && m.handle.proc.proc.signalCode === null)!;
  const running = async () => (await alive().handle.api<JobRow[]>('/api/jobs?state=running')).body.filter((j) => j.profileId === TINY_H264_PROFILE.id);

  const openViewer = async (m: CoordinatorHandle) => {
    const v = await StreamRecorder.open(`${m.httpUrl}${VARIANT}`);
    everyViewer.push(v);
    await v.waitForBytes(30_000, 0, 60_000);
    return v;
  };

  const stillOpen = (v: StreamRecorder) => Promise.race([v.finished, Bun.sleep(10).then(() => 'open')]);

  beforeAll(async () => {
    for (const id of IDS) {
      const ports = { http: await freePort(), grpc: await freePort() };
      const handle = await cluster.startCoordinator({ TVARR_COORDINATOR_ID: id }, ports);
      processes.push(handle.proc);
      const worker = `on-${id}`;
      await cluster.startWorker(worker); // pinned: its TVARR_COORDINATOR_URL is this coordinator only
      members.push({ id, ports, handle, worker, viewer: null as unknown as StreamRecorder });
    }
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);
    // coord-a is asked first: it owns the source; b and c mirror it.
    for (const m of members) m.viewer = await openViewer(m.handle);
    const jobs = await running();
    expect(jobs.map((j) => j.coordinatorId)).toEqual(['coord-a']);
  }, 240_000);

  afterAll(async () => {
    for (const v of everyViewer) await v.close().catch(() => {});
    await cluster.stop();
  });

  test('each coordinator restarted in turn: the others keep playing, the restarted one plays again, one job', async () => {
    for (const m of members) {
      const others = members.filter((o) => o !== m);
      owners.push((await running()).map((j) => j.coordinatorId).join(',') || 'none');
      const from = others.map((o) => o.viewer.total);
      const stoppedAt = Date.now();
      cutAt.set(m.viewer, stoppedAt);
      m.handle.proc.kill('SIGTERM');
      expect(await m.handle.proc.exited).toBe(0);
      // Its own viewer's connection ends with the process.
      expect(await m.viewer.finished).not.toBe('open');
      m.handle = await cluster.startCoordinator({ TVARR_COORDINATOR_ID: m.id }, m.ports);
      processes.push(m.handle.proc);
      const backAt = Date.now();
      expect(m.handle.httpUrl).toBe(`http://127.0.0.1:${m.ports.http}`);
      await eventually(`${m.id} healthy`, async () => (await fetch(`${m.handle.httpUrl}/healthz`).catch(() => null))?.status === 200, 30_000);
      // Its worker reconnects by itself (backoff up to 1 s) and registers with the new process.
      await m.handle.proc.waitForLog((l) => l.msg === 'worker registered' && l.workerId === `test-${m.worker}`, 60_000);
      m.viewer = await openViewer(m.handle);
      // The others played on: bytes well past anything buffered before the signal.
      await Promise.all(others.map((o, i) => o.viewer.waitForBytes(150_000, from[i], 60_000)));
      for (const o of others) {
        const silenceMs = o.viewer.largestSilenceSince(stoppedAt);
        survivors.push({ on: o.id, restarted: m.id, silenceMs, open: await stillOpen(o.viewer) });
      }
      console.log(`rolling restart: ${m.id} (owner before: ${owners.at(-1)}) back in ${backAt - stoppedAt} ms; survivors' largest silence ${survivors.slice(-2).map((s) => `${s.on} ${s.silenceMs} ms`).join(', ')}`);
    }
    const jobs = await eventually('exactly one running job for the variant', async () => {
      const r = await running();
      return r.length === 1 ? r : null;
    }, 30_000);
    expect(jobs!.length).toBe(1);
    // Hold that for a moment's worth of polls: a second producer would show up here.
    for (let i = 0; i < 5; i++) expect((await running()).length).toBe(1);
    // Every coordinator's newest viewer plays (each was opened after its restart).
    await Promise.all(members.map((m) => m.viewer.waitForBytes(100_000, m.viewer.total, 60_000)));
    for (const m of members) expect(await stillOpen(m.viewer)).toBe('open');
    // Six survivor views (two per restart), each connected throughout with bounded silence.
    expect(survivors.length).toBe(6);
    expect(survivors.filter((s) => s.open !== 'open')).toEqual([]);
    expect(survivors.filter((s) => s.silenceMs >= MAX_SILENCE_MS)).toEqual([]);
  }, 600_000);

  test('what every survivor got across the restarts is one clean stream: decodes without an error, counters and decode times in order', async () => {
    const reports: { viewer: string; bytes: number; frames: number; decodeErrors: string; continuityErrors: number; dtsProblems: string[]; maxDtsStep: number }[] = [];
    // The first viewers of b and c and the replacement viewers of a and b lived through at
    // least one other coordinator's restart; their bytes up to their own coordinator's
    // SIGTERM (or now, for those still open) are what a survivor played.
    for (const v of everyViewer) {
      const until = cutAt.get(v) ?? Number.POSITIVE_INFINITY;
      const chunks = v.chunks.filter((c) => c.at < until);
      const all = new Uint8Array(chunks.reduce((n, c) => n + c.bytes.byteLength, 0));
      let off = 0;
      for (const c of chunks) {
        all.set(c.bytes, off);
        off += c.bytes.byteLength;
      }
      const bytes = cutAtKeyframe(all.subarray(0, all.length - (all.length % 188)), 0);
      const dts = checkDtsSteps(videoDecodeTimes(bytes), MAX_SILENCE_MS / 1000);
      reports.push({
        viewer: v.url,
        bytes: bytes.length,
        frames: dts.frames,
        decodeErrors: await decodeErrors(bytes),
        continuityErrors: continuityErrors(bytes),
        dtsProblems: dts.problems.map((p) => `${p.from.toFixed(3)} -> ${p.to.toFixed(3)} s at byte ${p.at}${p.flagged ? ' (flagged)' : ''}`),
        maxDtsStep: dts.maxStep,
      });
    }
    // The owner was restarted at least once (coord-a, first): a survivor's mirror took a
    // producer on another clock (a new upstream) and put it on its viewers' timeline.
    const splices = processes.flatMap((p, i) => p.lines.filter((l) => l.msg === 'cluster: mirror spliced').map((l) => `process ${i}: ${String(l.how)}`));
    expect(splices.some((s) => s.endsWith('restamped'))).toBe(true);
    console.log(JSON.stringify({ owners, survivors, splices, reports: reports.map((r) => ({ ...r, decodeErrors: r.decodeErrors.split('\n').slice(0, 5) })) }, null, 1));
    expect(reports.length).toBe(6);
    for (const r of reports) {
      expect(r.frames).toBeGreaterThanOrEqual(10); // 30 KB (0.6 s) was waited for at least
      expect(r.decodeErrors).toBe('');
      expect(r.continuityErrors).toBe(0);
      expect(r.dtsProblems).toEqual([]);
    }
  }, 120_000);
});
