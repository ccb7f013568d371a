// GET /metrics (Prometheus text, prom-client) and GET /api/metrics (the same numbers as JSON).
import { Elysia, t } from 'elysia';
import type { ClusterMetrics } from '../../metrics/cluster-metrics';
import { COUNTER_NAMES } from '../../metrics/counter-store';
import { ErrorBody } from '../schemas';
import { ClusterTotals } from './cluster-summary-routes';

const Counters = t.Object(Object.fromEntries(COUNTER_NAMES.map((n) => [n, t.Number()])), {
  description: 'Persisted counters (SQLite metrics table): they survive a coordinator restart',
});

const MetricsSummary = t.Object({
  generatedAt: t.Number(),
  totals: ClusterTotals,
  counters: Counters,
  perWorker: t.Record(t.String(), t.Record(t.String(), t.Number()), { description: 'workerId -> counter name -> value' }),
});

export function metricsRoutes(metrics: ClusterMetrics) {
  return new Elysia()
    .get(
      '/metrics',
      async () =>
        new Response(await metrics.prometheusText(), {
          headers: { 'content-type': metrics.contentType, 'cache-control': 'no-store' },
        }),
      {
        response: { 200: t.String({ description: 'Prometheus text exposition format 0.0.4' }), 500: ErrorBody },
        detail: { tags: ['monitoring'], summary: 'Prometheus metrics' },
      },
    )
    .get(
      '/api/metrics',
      async () => {
        const snapshot = await metrics.snapshot();
        const counters = Object.fromEntries(COUNTER_NAMES.map((n) => [n, metrics.counters.get(n)]));
        const perWorker: Record<string, Record<string, number>> = {};
        for (const name of COUNTER_NAMES) {
          for (const [workerId, value] of metrics.counters.perWorker(name)) (perWorker[workerId] ??= {})[name] = value;
        }
        return { generatedAt: snapshot.generatedAt, totals: snapshot.totals, counters, perWorker };
      },
      {
        response: { 200: MetricsSummary, 500: ErrorBody },
        detail: { tags: ['monitoring'], summary: 'Cluster totals and persisted counters as JSON' },
      },
    );
}
