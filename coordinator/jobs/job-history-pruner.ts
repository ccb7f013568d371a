// Job history retention: every attempt is a row, so a busy cluster would grow the jobs
// table without end. Ended attempts older than TVARR_JOB_HISTORY_RETENTION_HOURS are
// deleted in the background, in small batches with a yield between them so a large
// backlog never blocks the event loop. The persisted counters (metrics table) are kept
// apart from the rows and are not touched: totals survive pruning.
import type { CoreContext } from '../context';
import { deleteEndedJobsBefore } from './job-store';

const BATCH_ROWS = 500;
// Pruning is not urgent: a pass every few minutes keeps the table near its bound.
const DEFAULT_INTERVAL_MS = 5 * 60_000;

export interface JobHistoryPrunerOptions {
  retentionMs: number;
  intervalMs?: number;
  /** Called after each pass that deleted rows (tests wait on it). */
  onPruned?: (deleted: number, cutoff: number) => void;
}

export interface JobHistoryPruner {
  /** One full pass now; resolves with the rows deleted. */
  pruneNow(): Promise<number>;
  stop(): void;
}

export function startJobHistoryPruner(ctx: CoreContext, opts: JobHistoryPrunerOptions): JobHistoryPruner {
  let stopped = false;
  let running: Promise<number> | null = null;

  async function pass(): Promise<number> {
    const cutoff = ctx.clock.now() - opts.retentionMs;
    let deleted = 0;
    while (!stopped) {
      const n = await deleteEndedJobsBefore(ctx.store, cutoff, BATCH_ROWS);
      deleted += n;
      if (n < BATCH_ROWS) break;
      await new Promise((r) => setTimeout(r, 0));
    }
    if (deleted > 0) {
      ctx.log.info('job history pruned', { deleted, endedBefore: new Date(cutoff).toISOString() });
      opts.onPruned?.(deleted, cutoff);
    }
    return deleted;
  }

  function pruneNow(): Promise<number> {
    // One pass at a time: a slow pass and the next tick never delete concurrently.
    running ??= pass().finally(() => (running = null));
    return running;
  }

  const tick = () =>
    void pruneNow().catch((err: unknown) => ctx.log.error('job history pruning failed', { error: err instanceof Error ? err.message : String(err) }));
  const timer = setInterval(tick, opts.intervalMs ?? DEFAULT_INTERVAL_MS);
  timer.unref?.();
  queueMicrotask(tick);

  return {
    pruneNow,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
