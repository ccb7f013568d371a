// Quarantine: a circuit breaker for worker faults, and only for those.
//
// What counts as a fault of worker W (within TVARR_QUARANTINE_WINDOW_MS):
//   - a loss event: W's connection dropped or its heartbeats stopped. One event is one
//     fault however many jobs W carried (the jobs' own failures are not counted); a
//     worker that was draining (SIGTERM, admin drain) is not at fault for leaving;
//   - an FFmpeg failure on a spec (profile + encoder) that runs on other workers: the
//     same spec ran at least SPEC_PROVEN_MS on another worker in the window, before or
//     after the failure (a failure waits as a "suspect" until then, or until it leaves
//     the window).
// Not faults: a refused or impossible spec (REJECT_REASON_INVALID_SPEC, or FFmpeg failing
// on every worker that tries it) is the variant's fault; capacity or draining refusals
// and start timeouts are races, not health.
//
// At TVARR_QUARANTINE_FAILURES faults W is quarantined for TVARR_QUARANTINE_MS, unless
// that would remove the last worker able to serve one of its codecs while W is healthy
// for other jobs (ran another spec fine in the window): then the breaker degrades
// instead of causing an outage. W stays schedulable and its row carries the reason
// ("not quarantined: ..."), shown on the Transcoders page. An admin can lift either
// (POST /api/workers/{id}/unquarantine), which also forgets W's faults.
//
// Fault memory is in this process only: a coordinator restart starts every worker clean.
import { and, eq, gte, isNotNull, ne, sql } from 'drizzle-orm';
import type { CoreContext } from '../context';
import { jobs, workerEncoders, workers } from '../db/client';
import { AppError } from '../errors';

/** How long a spec must have run on a worker to count as runnable ("runs elsewhere"). */
export const SPEC_PROVEN_MS = 5_000;
// Per-worker bound on remembered faults and suspects (a worker's reports cannot grow it).
const MAX_ENTRIES = 64;

type FaultKind = 'connection' | 'ffmpeg';
interface Fault {
  at: number;
  kind: FaultKind;
  detail: string;
  /** "profile/encoder" of an FFmpeg fault. */
  spec?: string;
}
interface Suspect {
  at: number;
  jobId: string;
  profileId: string;
  encoder: string;
  detail: string;
}
interface WorkerFaults {
  faults: Fault[];
  suspects: Suspect[];
  /** Reason last written as "not quarantined", so the row is not rewritten every sweep. */
  withheld: string | null;
}

const SWEEP_MS = 1_000;

/**
 * Did the spec run on another worker: started, ran for at least SPEC_PROVEN_MS, and was
 * still running (or ended) inside the window. Ended state does not matter: a job that ran
 * 40 s and then lost its worker proved the spec runnable.
 */
export function specRunsElsewhere(ctx: CoreContext, spec: { profileId: string; encoder: string }, workerId: string, now: number): boolean {
  const { quarantineWindowMs } = ctx.config.liveness;
  const until = sql`coalesce(${jobs.endedAt}, ${now})`;
  const row = ctx.db
    .select({ id: jobs.id })
    .from(jobs)
    .where(
      and(
        eq(jobs.profileId, spec.profileId),
        eq(jobs.encoder, spec.encoder),
        ne(jobs.workerId, workerId),
        isNotNull(jobs.startedAt),
        sql`${until} - ${jobs.startedAt} >= ${SPEC_PROVEN_MS}`,
        sql`${until} > ${now - quarantineWindowMs}`,
      ),
    )
    .limit(1)
    .get();
  return row !== undefined;
}

/** Specs ("profile/encoder") the worker ran for at least SPEC_PROVEN_MS in the window. */
function specsRunBy(ctx: CoreContext, workerId: string, now: number): Set<string> {
  const { quarantineWindowMs } = ctx.config.liveness;
  const until = sql`coalesce(${jobs.endedAt}, ${now})`;
  const rows = ctx.db
    .selectDistinct({ profileId: jobs.profileId, encoder: jobs.encoder })
    .from(jobs)
    .where(
      and(
        eq(jobs.workerId, workerId),
        isNotNull(jobs.startedAt),
        sql`${until} - ${jobs.startedAt} >= ${SPEC_PROVEN_MS}`,
        sql`${until} > ${now - quarantineWindowMs}`,
      ),
    )
    .limit(MAX_ENTRIES)
    .all();
  return new Set(rows.map((r) => `${r.profileId}/${r.encoder}`));
}

/**
 * Codecs for which this worker is the last one available: no other online worker that is
 * not quarantined has an encoder for them.
 */
export function lastAvailableCodecs(ctx: CoreContext, workerId: string, now: number): string[] {
  const mine = ctx.db.selectDistinct({ codec: workerEncoders.codec }).from(workerEncoders).where(eq(workerEncoders.workerId, workerId)).all();
  const others = ctx.db
    .selectDistinct({ codec: workerEncoders.codec })
    .from(workerEncoders)
    .innerJoin(workers, eq(workers.id, workerEncoders.workerId))
    .where(
      and(
        ne(workerEncoders.workerId, workerId),
        eq(workers.state, 'online'),
        sql`(${workers.quarantinedUntil} is null or ${workers.quarantinedUntil} <= ${now})`,
      ),
    )
    .all();
  const covered = new Set(others.map((r) => r.codec));
  return mine.map((r) => r.codec).filter((c) => !covered.has(c)).sort();
}

function setQuarantine(ctx: CoreContext, workerId: string, until: number | null, reason: string | null): void {
  ctx.db.update(workers).set({ quarantinedUntil: until, quarantineReason: reason }).where(eq(workers.id, workerId)).run();
}

function isQuarantined(ctx: CoreContext, workerId: string, now: number): boolean {
  const row = ctx.db
    .select({ id: workers.id })
    .from(workers)
    .where(and(eq(workers.id, workerId), gte(workers.quarantinedUntil, now + 1)))
    .get();
  return row !== undefined;
}

export class QuarantineWatcher {
  private readonly byWorker = new Map<string, WorkerFaults>();
  private readonly draining = new Set<string>();
  private readonly offs: (() => void)[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly ctx: CoreContext) {}

  start(): void {
    const { events } = this.ctx;
    this.offs.push(
      events.on('worker:state', ({ workerId, state }) => {
        if (state === 'draining') this.draining.add(workerId);
        else if (state === 'online') this.draining.delete(workerId);
        else if (state === 'unquarantined') this.byWorker.delete(workerId);
      }),
      events.on('worker:registered', ({ workerId }) => this.draining.delete(workerId)),
      events.on('worker:lost', ({ workerId, reason }) => {
        // A drained worker leaving is the end of a drain (SIGTERM, admin), not a fault. The
        // loss reason cannot tell a crash from a clean exit: a SIGKILLed worker's socket
        // also ends its stream cleanly ("control stream ended").
        if (this.draining.delete(workerId)) return;
        this.recordFault(workerId, { at: this.ctx.clock.now(), kind: 'connection', detail: reason });
      }),
      events.on('job:ended', ({ jobId, workerId, state, cause, reason }) => {
        if (state !== 'failed' || !workerId || cause !== 'ffmpeg') return;
        const row = this.ctx.db.select({ profileId: jobs.profileId, encoder: jobs.encoder }).from(jobs).where(eq(jobs.id, jobId)).get();
        if (!row?.encoder) return;
        const entry = this.entry(workerId);
        entry.suspects.push({ at: this.ctx.clock.now(), jobId, profileId: row.profileId, encoder: row.encoder, detail: (reason ?? '').slice(0, 200) });
        if (entry.suspects.length > MAX_ENTRIES) entry.suspects.shift();
        this.evaluate(workerId, this.ctx.clock.now());
      }),
    );
    // Suspects become faults when their spec proves runnable elsewhere, which may happen
    // after the failure: re-check the workers that have some.
    this.timer = setInterval(() => this.sweep(this.ctx.clock.now()), SWEEP_MS);
    this.timer.unref?.();
  }

  stop(): void {
    for (const off of this.offs.splice(0)) off();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Faults and suspects currently remembered for a worker (for tests and the API). */
  faultsOf(workerId: string): { faults: number; suspects: number } {
    const e = this.byWorker.get(workerId);
    return { faults: e?.faults.length ?? 0, suspects: e?.suspects.length ?? 0 };
  }

  sweep(now: number): void {
    for (const [workerId, e] of [...this.byWorker]) {
      if (e.suspects.length > 0 || e.faults.length > 0) this.evaluate(workerId, now);
      else if (e.withheld === null) this.byWorker.delete(workerId);
    }
  }

  private entry(workerId: string): WorkerFaults {
    let e = this.byWorker.get(workerId);
    if (!e) {
      e = { faults: [], suspects: [], withheld: null };
      this.byWorker.set(workerId, e);
    }
    return e;
  }

  private recordFault(workerId: string, fault: Fault): void {
    const e = this.entry(workerId);
    e.faults.push(fault);
    if (e.faults.length > MAX_ENTRIES) e.faults.shift();
    this.evaluate(workerId, fault.at);
  }

  /** Prunes the window, promotes proven suspects, then quarantines (or degrades) at the threshold. */
  evaluate(workerId: string, now: number): void {
    const { quarantineFailures, quarantineWindowMs, quarantineMs } = this.ctx.config.liveness;
    const e = this.entry(workerId);
    const since = now - quarantineWindowMs;
    e.faults = e.faults.filter((f) => f.at > since);
    e.suspects = e.suspects.filter((s) => s.at > since);
    for (const s of [...e.suspects]) {
      if (!specRunsElsewhere(this.ctx, s, workerId, now)) continue;
      e.suspects.splice(e.suspects.indexOf(s), 1);
      const spec = `${s.profileId}/${s.encoder}`;
      e.faults.push({ at: s.at, kind: 'ffmpeg', spec, detail: `FFmpeg failed on ${spec}, which runs on other workers: ${s.detail}` });
    }
    if (e.faults.length < quarantineFailures) {
      if (e.withheld !== null && e.faults.length === 0) this.clearWithheld(workerId, e);
      return;
    }
    if (isQuarantined(this.ctx, workerId, now)) return;
    const reason = describeFaults(e.faults, quarantineWindowMs);
    const last = lastAvailableCodecs(this.ctx, workerId, now);
    if (last.length > 0) {
      const failing = new Set(e.faults.map((f) => f.spec).filter(Boolean));
      const healthyFor = [...specsRunBy(this.ctx, workerId, now)].filter((s) => !failing.has(s));
      if (healthyFor.length > 0) {
        const withheld = `not quarantined: last worker able to serve ${last.join(', ')} and healthy for other jobs; ${reason}`;
        if (e.withheld !== withheld) {
          e.withheld = withheld;
          setQuarantine(this.ctx, workerId, null, withheld);
          this.ctx.log.warn('worker quarantine withheld', { workerId, reason: withheld });
        }
        return;
      }
    }
    const until = now + quarantineMs;
    e.faults = [];
    e.withheld = null;
    setQuarantine(this.ctx, workerId, until, reason);
    this.ctx.log.warn('worker quarantined', { workerId, until: new Date(until).toISOString(), reason });
    this.ctx.events.emit('worker:state', { workerId, state: 'quarantined' });
  }

  private clearWithheld(workerId: string, e: WorkerFaults): void {
    e.withheld = null;
    this.ctx.db
      .update(workers)
      .set({ quarantineReason: null })
      .where(and(eq(workers.id, workerId), sql`${workers.quarantinedUntil} is null`))
      .run();
  }
}

function describeFaults(faults: Fault[], windowMs: number): string {
  const ffmpeg = faults.filter((f) => f.kind === 'ffmpeg');
  const lost = faults.filter((f) => f.kind === 'connection');
  const parts: string[] = [];
  if (ffmpeg.length) parts.push(`${ffmpeg.length} failed jobs whose spec runs on other workers (last: ${ffmpeg[ffmpeg.length - 1]!.detail})`);
  if (lost.length) parts.push(`${lost.length} lost connections (last: ${lost[lost.length - 1]!.detail})`);
  return `${faults.length} worker faults within ${Math.round(windowMs / 1000)} s: ${parts.join('; ')}`.slice(0, 500);
}

/**
 * Admin lift (POST /api/workers/{id}/unquarantine): the worker is schedulable now, and the
 * watcher forgets its faults (on the worker:state event), so it starts clean.
 */
export function liftQuarantine(ctx: CoreContext, workerId: string): void {
  const exists = ctx.db.select({ id: workers.id }).from(workers).where(eq(workers.id, workerId)).get();
  if (!exists) throw new AppError('not_found', `worker '${workerId}' not found`);
  setQuarantine(ctx, workerId, null, null);
  ctx.log.info('worker quarantine lifted', { workerId });
  ctx.events.emit('worker:state', { workerId, state: 'unquarantined' });
}

export function watchForQuarantine(ctx: CoreContext): QuarantineWatcher {
  const watcher = new QuarantineWatcher(ctx);
  watcher.start();
  return watcher;
}
