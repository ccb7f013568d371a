// A worker that keeps losing jobs (crashes, hangs, FFmpeg failures) is kept out of the
// scheduler for a while, so it cannot eat every reassignment. The failure count comes
// from the jobs table (failed attempts on that worker inside the window).
import { and, eq, gt, sql } from 'drizzle-orm';
import type { CoreContext } from '../context';
import { jobs } from '../db/client';
import { quarantineWorker } from './worker-store';

export function countRecentFailures(ctx: CoreContext, workerId: string, now: number): number {
  const { quarantineWindowMs } = ctx.config.liveness;
  const row = ctx.db
    .select({ n: sql<number>`count(*)` })
    .from(jobs)
    .where(and(eq(jobs.workerId, workerId), eq(jobs.state, 'failed'), gt(jobs.endedAt, now - quarantineWindowMs)))
    .get();
  return row?.n ?? 0;
}

export function watchForQuarantine(ctx: CoreContext): () => void {
  return ctx.events.on('job:ended', ({ workerId, state }) => {
    if (state !== 'failed' || !workerId) return;
    const now = ctx.clock.now();
    const failures = countRecentFailures(ctx, workerId, now);
    const { quarantineFailures, quarantineMs, quarantineWindowMs } = ctx.config.liveness;
    if (failures < quarantineFailures) return;
    const until = now + quarantineMs;
    const reason = `${failures} failed jobs within ${Math.round(quarantineWindowMs / 1000)} s`;
    quarantineWorker(ctx.db, workerId, until, reason);
    ctx.log.warn('worker quarantined', { workerId, until: new Date(until).toISOString(), reason });
    ctx.events.emit('worker:state', { workerId, state: 'quarantined' });
  });
}
