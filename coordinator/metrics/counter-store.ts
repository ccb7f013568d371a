// Counters that survive a coordinator restart, kept in the `metrics` table. Each
// increment writes the cluster-wide row (workerId '') and, when the event names a
// worker, that worker's row, in one transaction. Reads come from an in-memory copy
// loaded at start, so a Prometheus scrape or a page refresh never touches SQLite for them.
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { metrics } from '../db/client';

export const COUNTER_NAMES = [
  'jobs_completed',
  'jobs_failed',
  'jobs_cancelled',
  'jobs_reassigned',
  'runs_failed',
  'worker_losses',
  'bytes_in',
  'bytes_out',
  // What sources did (coordinator/streams/source-events.ts) and variant stalls (variant-watchdog.ts).
  'source_program_changes',
  'source_timeline_breaks',
  'source_outages',
  'source_reconnects',
  'source_switches',
  'variant_stalls',
] as const;

export type CounterName = (typeof COUNTER_NAMES)[number];

/** The cluster-wide row's workerId. */
export const GLOBAL = '';

export class CounterStore {
  // name -> workerId -> value
  private readonly values = new Map<CounterName, Map<string, number>>();

  constructor(private readonly db: Db) {
    for (const name of COUNTER_NAMES) this.values.set(name, new Map([[GLOBAL, 0]]));
    for (const row of db.select().from(metrics).all()) {
      const byWorker = this.values.get(row.name as CounterName);
      if (byWorker) byWorker.set(row.workerId, row.value); // unknown names: another version's rows, kept as they are
    }
  }

  /** Adds delta to the global row and, if workerId is given, to that worker's row. */
  add(name: CounterName, delta: number, workerId?: string | null): void {
    if (!(delta > 0) || !Number.isFinite(delta)) return; // counters only go up
    const targets = workerId ? [GLOBAL, workerId] : [GLOBAL];
    this.db.transaction((tx) => {
      for (const target of targets) {
        tx.insert(metrics)
          .values({ name, workerId: target, value: delta })
          .onConflictDoUpdate({ target: [metrics.name, metrics.workerId], set: { value: sql`${metrics.value} + ${delta}` } })
          .run();
      }
    });
    const byWorker = this.values.get(name)!;
    for (const target of targets) byWorker.set(target, (byWorker.get(target) ?? 0) + delta);
  }

  /** Drops a deleted worker's in-memory rows (worker-store deleted its SQLite rows). */
  forgetWorker(workerId: string): void {
    if (workerId === GLOBAL) return;
    for (const byWorker of this.values.values()) byWorker.delete(workerId);
  }

  get(name: CounterName, workerId: string = GLOBAL): number {
    return this.values.get(name)!.get(workerId) ?? 0;
  }

  /** Per-worker values of one counter (the global row left out). */
  perWorker(name: CounterName): [workerId: string, value: number][] {
    return [...this.values.get(name)!.entries()].filter(([id]) => id !== GLOBAL);
  }
}
