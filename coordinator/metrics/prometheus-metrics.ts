// The /metrics exposition. Every value is read at scrape time from one cluster snapshot
// (collect callbacks), so the text is always consistent with /api/cluster; only the
// selection-latency histogram is observed as events happen. A registry per coordinator,
// never prom-client's global one, so several coordinators can live in one test process.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ClusterSnapshot } from './cluster-snapshot';
import type { CounterName, CounterStore } from './counter-store';
import type { QueryCounter } from '../db/query-counter';
import type { LoopLagReading } from '../load/event-loop-lag';

// Selection is one indexed query plus a claim: expected well under a millisecond.
const SELECTION_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export interface PrometheusMetrics {
  registry: Registry;
  observeSelection(seconds: number, found: boolean): void;
  /** Renders the text format from this snapshot. */
  render(snapshot: ClusterSnapshot): Promise<string>;
}

/**
 * perWorker false (TVARR_METRICS_PER_WORKER=false) leaves out every series labelled by
 * worker: with a large fleet those are most of the text (1,000 workers: ~480 KB a scrape),
 * and a Prometheus user would drop them with metric_relabel_configs anyway.
 */
export function createPrometheusMetrics(counters: CounterStore, opts: { perWorker?: boolean; queries?: QueryCounter; loopLag?: LoopLagReading } = {}): PrometheusMetrics {
  const withWorkers = opts.perWorker ?? true;
  const registry = new Registry();
  let current: ClusterSnapshot | null = null;
  const snap = (): ClusterSnapshot => {
    if (!current) throw new Error('metrics collected before render()');
    return current;
  };

  // Persisted counters: the cluster-wide value, and per worker where the event named one.
  const persisted = (name: string, help: string, counter: CounterName, perWorker: boolean) => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(counters.get(counter));
      },
    });
    if (!perWorker || !withWorkers) return;
    new Counter({
      name: name.replace(/^tvarr_/, 'tvarr_worker_'),
      help: `${help}, per worker`,
      labelNames: ['worker'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [worker, value] of counters.perWorker(counter)) this.inc({ worker }, value);
      },
    });
  };
  persisted('tvarr_jobs_completed_total', 'Job attempts that completed (their source ended and FFmpeg exited cleanly)', 'jobs_completed', true);
  persisted('tvarr_jobs_failed_total', 'Job attempts that failed (worker lost, FFmpeg error, rejected, start timeout)', 'jobs_failed', true);
  persisted('tvarr_jobs_cancelled_total', 'Job attempts cancelled (last client left, admin cancel, drain handover)', 'jobs_cancelled', true);
  persisted('tvarr_jobs_reassigned_total', 'Variant runs moved to a new attempt (failover or drain)', 'jobs_reassigned', true);
  persisted('tvarr_runs_failed_total', 'Variant runs that gave up after their retry budget', 'runs_failed', false);
  persisted('tvarr_source_program_changes_total', 'Source program changes (PMT, codec, SPS size, audio format) that restarted the source\'s variants', 'source_program_changes', false);
  persisted('tvarr_source_timeline_breaks_total', 'Source timestamp jumps (back, or ahead past 5 s) hidden by restamping', 'source_timeline_breaks', false);
  persisted('tvarr_source_outages_total', 'Source connections lost (the URL failed: closed, refused, HTTP error, no data, no video)', 'source_outages', false);
  persisted('tvarr_source_reconnects_total', 'Sources reconnected to the same URL after an outage', 'source_reconnects', false);
  persisted('tvarr_source_switches_total', 'Sources moved to another URL (a backup, or back to the primary)', 'source_switches', false);
  persisted('tvarr_variant_stalls_total', 'Variant attempts restarted by the stall watchdog (no new media while the source sent)', 'variant_stalls', false);
  const queries = opts.queries;
  if (queries) {
    new Counter({
      name: 'tvarr_database_queries_total',
      help: 'Statements this coordinator sent to its database since it started (write: insert, update, delete, begin; read: the rest)',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ kind: 'read' }, queries.reads);
        this.inc({ kind: 'write' }, queries.writes);
      },
    });
  }
  persisted('tvarr_worker_losses_total', 'Times a worker was lost (connection closed or heartbeats stopped)', 'worker_losses', false);

  // Bytes: ended attempts (persisted) plus attempts still running.
  new Counter({
    name: 'tvarr_relayed_bytes_total',
    help: 'Bytes relayed between coordinator and workers: direction="to_worker" is source input, "from_worker" is transcoded output',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ direction: 'to_worker' }, snap().totals.bytesIn);
      this.inc({ direction: 'from_worker' }, snap().totals.bytesOut);
    },
  });

  // This coordinator's own event-loop lag (coordinator/load): admission refuses new viewers
  // from TVARR_OVERLOAD_LAG_MS; the total shows how much of the time the process was starved.
  const loopLag = opts.loopLag;
  if (loopLag) {
    new Gauge({
      name: 'tvarr_event_loop_lag_seconds',
      help: "This coordinator's event-loop lag (time-weighted average; new viewers are refused from TVARR_OVERLOAD_LAG_MS)",
      registers: [registry],
      collect() {
        this.set(loopLag.lagMs() / 1000);
      },
    });
    new Counter({
      name: 'tvarr_event_loop_late_seconds_total',
      help: "Time this coordinator's event loop ran late, in total (beyond 25 ms per 100 ms sample)",
      registers: [registry],
      collect() {
        this.reset();
        this.inc(loopLag.lateMs() / 1000);
      },
    });
  }

  const selection = new Histogram({
    name: 'tvarr_scheduler_selection_seconds',
    help: 'Time to select and claim a worker for one job attempt (candidate query + claim transaction)',
    labelNames: ['result'],
    buckets: SELECTION_BUCKETS,
    registers: [registry],
  });

  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge<string>, s: ClusterSnapshot) => void) =>
    labelNames.includes('worker') && !withWorkers
      ? undefined
      : new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill(this, snap());
      },
    });

  gauge('tvarr_workers_online', 'Workers connected and accepting jobs (state online)', [], (g, s) => g.set(s.totals.workersOnline));
  gauge('tvarr_workers', 'Known workers by state', ['state'], (g, s) => {
    g.set({ state: 'online' }, s.totals.workersOnline);
    g.set({ state: 'draining' }, s.totals.workersDraining);
    g.set({ state: 'offline' }, s.totals.workersOffline);
  });
  gauge('tvarr_encoding_sessions_by_kind', 'Live job attempts (pending or running) by encoder kind', ['kind'], (g, s) => {
    g.set({ kind: 'gpu' }, s.totals.sessionsGpu);
    g.set({ kind: 'cpu' }, s.totals.sessionsCpu);
  });
  gauge('tvarr_encoding_sessions', 'Live job attempts (pending or running) per worker and encoder kind', ['worker', 'kind'], (g, s) => {
    for (const w of s.workers) {
      if (w.state === 'offline' && w.jobs.length === 0) continue;
      g.set({ worker: w.id, kind: 'gpu' }, w.slots.gpuUsed);
      g.set({ worker: w.id, kind: 'cpu' }, w.slots.cpuUsed);
    }
  });
  gauge('tvarr_slots_free', 'Free job slots on schedulable workers, by encoder kind', ['kind'], (g, s) => {
    g.set({ kind: 'gpu' }, s.totals.gpuSlotsFree);
    g.set({ kind: 'cpu' }, s.totals.cpuSlotsFree);
  });
  gauge('tvarr_clients_connected', 'HTTP stream clients connected, all variants', [], (g, s) => g.set(s.totals.clientsConnected));

  // Per-worker load, from the usage in its latest heartbeat.
  const connectedWorkers = (s: ClusterSnapshot) => s.workers.filter((w) => w.state !== 'offline');
  gauge('tvarr_worker_max_jobs', 'Job limit of each connected worker', ['worker'], (g, s) => {
    for (const w of connectedWorkers(s)) g.set({ worker: w.id }, w.maxJobs);
  });
  const usageGauge = (name: string, help: string, field: 'cpuPercent' | 'memoryUsedBytes' | 'memoryTotalBytes' | 'load1') =>
    gauge(name, help, ['worker'], (g, s) => {
      for (const w of connectedWorkers(s)) {
        const v = (w.usage as Record<string, unknown> | null)?.[field];
        if (typeof v === 'number' && Number.isFinite(v)) g.set({ worker: w.id }, v);
      }
    });
  usageGauge('tvarr_worker_cpu_percent', 'CPU busy % of the worker machine (all cores)', 'cpuPercent');
  usageGauge('tvarr_worker_memory_used_bytes', 'Memory in use on the worker machine', 'memoryUsedBytes');
  usageGauge('tvarr_worker_memory_total_bytes', 'Memory of the worker machine', 'memoryTotalBytes');
  usageGauge('tvarr_worker_load1', 'One-minute load average of the worker machine', 'load1');
  const gpuGauge = (name: string, help: string, field: 'utilizationPercent' | 'encoderPercent') =>
    gauge(name, help, ['worker', 'gpu'], (g, s) => {
      for (const w of connectedWorkers(s)) {
        const gpus = (w.usage as { gpus?: { index?: unknown; [k: string]: unknown }[] } | null)?.gpus ?? [];
        for (const gpu of gpus) {
          const v = gpu[field];
          if (typeof v === 'number' && Number.isFinite(v)) g.set({ worker: w.id, gpu: String(gpu.index ?? 0) }, v);
        }
      }
    });
  gpuGauge('tvarr_worker_gpu_utilization_percent', 'GPU utilisation % (nvidia-smi), where available', 'utilizationPercent');
  gpuGauge('tvarr_worker_gpu_encoder_percent', 'GPU video encoder utilisation % (nvidia-smi), where available', 'encoderPercent');

  const jobGauge = (name: string, help: string, pick: (p: NonNullable<ClusterSnapshot['workers'][number]['jobs'][number]['progress']>) => number) =>
    gauge(name, help, ['worker', 'variant', 'kind'], (g, s) => {
      for (const w of s.workers) for (const j of w.jobs) if (j.progress) g.set({ worker: w.id, variant: j.variant, kind: j.kind }, pick(j.progress));
    });
  jobGauge('tvarr_job_fps', 'Encoding frames per second of each running job', (p) => p.fps);
  jobGauge('tvarr_job_speed_ratio', 'Encoding speed of each running job (1 = real time)', (p) => p.speed);

  return {
    registry,
    observeSelection(seconds, found) {
      selection.observe({ result: found ? 'claimed' : 'none' }, seconds);
    },
    render(snapshot) {
      // prom-client runs every collect() synchronously inside metrics(); keeping the
      // latest snapshot (not clearing it) keeps overlapping scrapes safe anyway.
      current = snapshot;
      return registry.metrics();
    },
  };
}
