// The stall watchdog: an attempt whose output stops while its source keeps sending is a
// fault of the variant, found and restarted, with the client still connected. The freeze
// is real: the worker's FFmpeg is SIGSTOPped (its process stays, its pipes stay open, the
// worker's heartbeats go on), which is what a wedged decoder or muxer looks like from
// outside. Before the watchdog such a job stayed `running` forever with a silent client.
import { afterEach, describe, expect, test } from 'bun:test';
import { FAST_LIVENESS, startPatternCluster, type TestCluster } from '../helpers/cluster';
import { decodeErrors, ffprobeBytes } from '../helpers/media';
import { childrenNamed, eventually } from '../helpers/processes';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text';
import { StreamRecorder, cutAtKeyframe } from '../helpers/stream-recorder';

interface VariantsView {
  live: { variant: string; job: { id: string; workerId: string; attempt: number } | null; stalls: number; lastStall: { reason: string } | null; lastError: string | null }[];
}
interface WorkerView {
  id: string;
  quarantinedUntil: number | null;
  quarantineReason: string | null;
}

describe('variant stall watchdog', () => {
  let cluster: TestCluster;
  let client: StreamRecorder | undefined;

  afterEach(async () => {
    await client?.close();
    client = undefined;
    await cluster.stop();
  });

  test("a job whose FFmpeg freezes while its input flows is detected, restarted, and the client keeps playing", async () => {
    cluster = await startPatternCluster(['a'], { env: { ...FAST_LIVENESS, TVARR_STALL_TIMEOUT_MS: '2500' } });
    client = await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/pattern/h264-240p`);
    await client.waitForBytes(40_000);
    const worker = cluster.workers.get('a')!;
    const [ffmpeg] = await eventually('the job FFmpeg on worker a', () => {
      const found = childrenNamed(worker.pid, 'ffmpeg');
      return found.length === 1 ? found : undefined;
    });
    const from = cluster.coordinator.proc.lines.length;
    const log = cluster.coordinator.proc;
    const stalled = log.waitForLog((l) => l.msg === 'variant stalled; restarting the attempt', 30_000, from);
    const restarted = log.waitForLog((l) => l.msg === 'variant restarted', 30_000, from);
    process.kill(ffmpeg!, 'SIGSTOP');
    const frozenAt = client.total;
    try {
      const line = await stalled;
      expect(Number(line.stalledForMs)).toBeGreaterThanOrEqual(2500);
      await restarted;
    } finally {
      // The worker SIGKILLs the cancelled attempt's FFmpeg; resume it in case it still lives.
      try {
        process.kill(ffmpeg!, 'SIGCONT');
      } catch {
        // already gone
      }
    }

    // Media resumes on the same connection, from a new FFmpeg, and decodes cleanly.
    await client.waitForBytes(60_000, frozenAt);
    const after = cutAtKeyframe(client.all(), frozenAt);
    const probe = await ffprobeBytes(after);
    expect(probe.streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('h264');
    expect(await decodeErrors(after)).toBe('');
    expect(childrenNamed(worker.pid, 'ffmpeg')).not.toContain(ffmpeg);

    // Visible: /api/variants, /metrics; the worker is not blamed.
    const { body } = await cluster.coordinator.api<VariantsView>('/api/variants');
    const live = body.live.find((v) => v.variant === 'pattern/h264-240p')!;
    expect(live.stalls).toBe(1);
    expect(live.lastStall?.reason).toMatch(/output stalled: no new media for \d+\.\d s while the source kept sending/);
    expect(live.job?.attempt).toBeGreaterThan(1);
    const metrics = parsePrometheusText(await (await fetch(`${cluster.coordinator.httpUrl}/metrics`)).text());
    expect(sampleValue(metrics, 'tvarr_variant_stalls_total')).toBe(1);
    const { body: w } = await cluster.coordinator.api<WorkerView>('/api/workers/test-a');
    expect(w.quarantinedUntil).toBeNull();
    expect(w.quarantineReason).toBeNull();
    // Still the same connection: nothing ended it.
    expect(await Promise.race([client.finished, Bun.sleep(0).then(() => 'open')])).toBe('open');
  });
});
