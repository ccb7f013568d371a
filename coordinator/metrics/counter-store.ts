// Counters that survive a coordinator restart, kept in the `metrics` table. Reads come
// from an in-memory copy loaded at start, so a Prometheus scrape or a page refresh never
// touches the database for them. Increments change that copy at once and reach the
// database in batches: every increment of one tick (or made while a write is out) goes
// in one transaction, each row as value = value + delta, so two coordinators on one
// database add up rather than overwrite. A failed write keeps its deltas and is retried
// with the next batch (never dropped); flush() on stop writes what is pending.
import { sql } from 'drizzle-orm';
import type { Store } from '../db/store';

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
  // "name\0workerId" -> delta not yet in the database
  private pending = new Map<string, number>();
  private writing: Promise<void> | null = null;
  private scheduled = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** Called when a batch failed (it stays pending); the coordinator logs it. */
  onWriteError: (err: unknown) => void = () => {};

  private constructor(private readonly store: Store) {
    for (const name of COUNTER_NAMES) this.values.set(name, new Map([[GLOBAL, 0]]));
  }

  static async load(store: Store): Promise<CounterStore> {
    const c = new CounterStore(store);
    for (const row of await store.db.select().from(store.t.metrics)) {
      const byWorker = c.values.get(row.name as CounterName);
      if (byWorker) byWorker.set(row.workerId, row.value); // unknown names: another version's rows, kept as they are
    }
    return c;
  }

  /** Adds delta to the global row and, if workerId is given, to that worker's row. */
  add(name: CounterName, delta: number, workerId?: string | null): void {
    if (!(delta > 0) || !Number.isFinite(delta)) return; // counters only go up
    const targets = workerId ? [GLOBAL, workerId] : [GLOBAL];
    const byWorker = this.values.get(name)!;
    for (const target of targets) {
      byWorker.set(target, (byWorker.get(target) ?? 0) + delta);
      const key = `${name}\0${target}`;
      this.pending.set(key, (this.pending.get(key) ?? 0) + delta);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.writing || this.retryTimer) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /** Writes every pending delta; resolves when the database has them (or the batch failed and stays pending). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const { metrics } = this.store.t;
    this.writing = this.store
      .transaction(async (db) => {
        for (const [key, delta] of batch) {
          const [name, workerId] = key.split('\0') as [string, string];
          await db
            .insert(metrics)
            .values({ name, workerId, value: delta })
            .onConflictDoUpdate({ target: [metrics.name, metrics.workerId], set: { value: sql`${metrics.value} + ${delta}` } });
        }
      })
      .catch((err: unknown) => {
        for (const [key, delta] of batch) this.pending.set(key, (this.pending.get(key) ?? 0) + delta);
        this.onWriteError(err);
        this.retryTimer ??= setTimeout(() => {
          this.retryTimer = null;
          this.schedule();
        }, 1000);
      })
      .finally(() => {
        this.writing = null;
        if (this.pending.size > 0) this.schedule();
      });
    await this.writing;
  }

  /**
   * Before a worker's rows are deleted: its pending deltas are dropped and a batch already
   * being written is waited for, so no write lands after the delete and brings them back.
   */
  async settleWorker(workerId: string): Promise<void> {
    this.forgetWorker(workerId);
    while (this.writing) await this.writing;
  }

  /** Drops a deleted worker's in-memory rows (worker-store deleted its database rows). */
  forgetWorker(workerId: string): void {
    if (workerId === GLOBAL) return;
    for (const byWorker of this.values.values()) byWorker.delete(workerId);
    for (const key of [...this.pending.keys()]) if (key.endsWith(`\0${workerId}`)) this.pending.delete(key);
  }

  get(name: CounterName, workerId: string = GLOBAL): number {
    return this.values.get(name)!.get(workerId) ?? 0;
  }

  /** Per-worker values of one counter (the global row left out). */
  perWorker(name: CounterName): [workerId: string, value: number][] {
    return [...this.values.get(name)!.entries()].filter(([id]) => id !== GLOBAL);
  }

  stop(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}
