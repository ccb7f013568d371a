// Monitoring's one object: listens on the event bus (the same typed events tests wait
// on), persists counters, and answers snapshots and Prometheus text. Built once in
// start-coordinator.ts; it reads the supervisor and variants but never changes them.
import type { CoreContext } from '../context';
import { getJob } from '../jobs/job-store';
import type { JobSupervisor } from '../jobs/job-supervisor';
import type { VariantRegistry } from '../streams/variant-registry';
import type { WorkerRegistry } from '../workers/worker-registry';
import { buildClusterSnapshot, type ClusterSnapshot } from './cluster-snapshot';
import { describeWorkerLink } from '../workers/worker-link';
import { CounterStore, type CounterName } from './counter-store';
import type { SourceEventKind } from '../streams/source-events';
import { createPrometheusMetrics, type PrometheusMetrics } from './prometheus-metrics';

export interface MonitoredParts {
  registry: Pick<WorkerRegistry, 'get' | 'live' | 'beforeWorkerRemoved'>;
  supervisor: Pick<JobSupervisor, 'liveJobs' | 'get'>;
  variants: Pick<VariantRegistry, 'liveRuns'>;
}

const SOURCE_EVENT_COUNTERS: Partial<Record<SourceEventKind, CounterName>> = {
  'program-changed': 'source_program_changes',
  'timeline-break': 'source_timeline_breaks',
  outage: 'source_outages',
  reconnected: 'source_reconnects',
  switched: 'source_switches',
};

export class ClusterMetrics {
  readonly counters: CounterStore;
  private readonly prometheus: PrometheusMetrics;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly ctx: CoreContext,
    private readonly parts: MonitoredParts,
    counters: CounterStore,
  ) {
    this.counters = counters;
    counters.onWriteError = (err) => ctx.log.warn('counters not written; kept and retried', { error: err instanceof Error ? err.message : String(err) });
    this.prometheus = createPrometheusMetrics(this.counters, { perWorker: ctx.config.metricsPerWorker, queries: ctx.store.queries, loopLag: ctx.loopLag });
    const { events } = ctx;
    const c = this.counters;
    parts.registry.beforeWorkerRemoved((workerId) => c.settleWorker(workerId));
    this.unsubscribe.push(
      events.on('job:ended', (e) => c.add(`jobs_${e.state}`, 1, e.workerId)),
      events.on('job:reassigned', (e) => {
        // The worker it was moved from: the live attempt if still here, else its row.
        const from = e.fromJobId ? parts.supervisor.get(e.fromJobId)?.info.workerId : null;
        if (from || !e.fromJobId) return c.add('jobs_reassigned', 1, from);
        void getJob(ctx.store, e.fromJobId)
          .then((row) => c.add('jobs_reassigned', 1, row?.workerId))
          .catch(() => c.add('jobs_reassigned', 1));
      }),
      events.on('run:failed', () => c.add('runs_failed', 1)),
      events.on('worker:lost', (e) => c.add('worker_losses', 1, e.workerId)),
      events.on('worker:removed', (e) => c.forgetWorker(e.workerId)),
      events.on('bytes:relayed', (e) => {
        c.add('bytes_in', e.bytesIn, e.workerId);
        c.add('bytes_out', e.bytesOut, e.workerId);
      }),
      events.on('source:event', (e) => {
        const counter = SOURCE_EVENT_COUNTERS[e.kind];
        // program changes, reconnects and switches count once, on the event that restarts the variants
        if (counter && (e.restart || e.kind === 'timeline-break' || e.kind === 'outage')) c.add(counter, 1);
      }),
      events.on('variant:stalled', () => c.add('variant_stalls', 1)),
      events.on('scheduler:selected', (e) => this.prometheus.observeSelection(e.durationMs / 1000, e.found)),
    );
  }

  snapshot(): Promise<ClusterSnapshot> {
    const { registry, supervisor, variants } = this.parts;
    return buildClusterSnapshot({
      store: this.ctx.store,
      now: this.ctx.clock.now(),
      connected: Object.assign((id: string) => registry.get(id) !== undefined, { link: (id: string) => describeWorkerLink(registry, supervisor, id), live: (id: string) => registry.live(id) }),
      liveJobs: supervisor.liveJobs(),
      runs: variants.liveRuns().map((r) => ({ key: r.key, currentJobId: r.currentJob?.jobId ?? null, clients: r.buffer.readerCount })),
      counters: this.counters,
    });
  }

  get contentType(): string {
    return this.prometheus.registry.contentType;
  }

  async prometheusText(): Promise<string> {
    return this.prometheus.render(await this.snapshot());
  }

  stop(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }
}
