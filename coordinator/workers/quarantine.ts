// Quarantine: a circuit breaker for worker faults, and only for those.
//
// What counts as a fault of worker W (within TVARR_QUARANTINE_WINDOW_MS):
//   - a loss event: W's connection dropped or its heartbeats stopped. One event is one
//     fault however many jobs W carried (the jobs' own failures are not counted); a
//     worker that was draining (SIGTERM, admin drain) is not at fault for leaving, nor
//     one lost while this coordinator's own event loop lagged (coordinator/load);
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
// Fault memory is in the database (worker_faults): each fault and suspect is written when
// it is recorded and loaded at start, so a coordinator restart does not start a flaky
// worker clean, and other coordinators on the same database can read it. The in-memory
// copy is this process's working set; the rows are the truth it is rebuilt from.
import { randomUUID } from 'node:crypto';
import { and, eq, gte, inArray, isNotNull, lte, ne, sql } from 'drizzle-orm';
import type { CoreContext } from '../context';
import { AppError } from '../errors';

/** How long a spec must have run on a worker to count as runnable ("runs elsewhere"). */
export const SPEC_PROVEN_MS = 5_000;
// Per-worker bound on remembered faults and suspects (a worker's reports cannot grow it).
const MAX_ENTRIES = 64;

type FaultKind = 'connection' | 'ffmpeg';
interface Fault {
  id: string;
  at: number;
  kind: FaultKind;
  detail: string;
  /** "profile/encoder" of an FFmpeg fault. */
  spec?: string;
}
interface Suspect {
  id: string;
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
export async function specRunsElsewhere(ctx: CoreContext, spec: { profileId: string; encoder: string }, workerId: string, now: number): Promise<boolean> {
  const { quarantineWindowMs } = ctx.config.liveness;
  const { jobs } = ctx.store.t;
  const until = sql`coalesce(${jobs.endedAt}, ${now})`;
  const rows = await ctx.store.db
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
    .limit(1);
  return rows.length > 0;
}

/** Specs ("profile/encoder") the worker ran for at least SPEC_PROVEN_MS in the window. */
async function specsRunBy(ctx: CoreContext, workerId: string, now: number): Promise<Set<string>> {
  const { quarantineWindowMs } = ctx.config.liveness;
  const { jobs } = ctx.store.t;
  const until = sql`coalesce(${jobs.endedAt}, ${now})`;
  const rows = await ctx.store.db
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
    .limit(MAX_ENTRIES);
  return new Set(rows.map((r) => `${r.profileId}/${r.encoder}`));
}

/**
 * Codecs for which this worker is the last one available: no other online worker that is
 * not quarantined has an encoder for them.
 */
export async function lastAvailableCodecs(ctx: CoreContext, workerId: string, now: number): Promise<string[]> {
  const { db, t } = ctx.store;
  const { workerEncoders, workers } = t;
  const mine = await db.selectDistinct({ codec: workerEncoders.codec }).from(workerEncoders).where(eq(workerEncoders.workerId, workerId));
  const others = await db
    .selectDistinct({ codec: workerEncoders.codec })
    .from(workerEncoders)
    .innerJoin(workers, eq(workers.id, workerEncoders.workerId))
    .where(
      and(
        ne(workerEncoders.workerId, workerId),
        eq(workers.state, 'online'),
        sql`(${workers.quarantinedUntil} is null or ${workers.quarantinedUntil} <= ${now})`,
      ),
    );
  const covered = new Set(others.map((r) => r.codec));
  return mine.map((r) => r.codec).filter((c) => !covered.has(c)).sort();
}

async function setQuarantine(ctx: CoreContext, workerId: string, until: number | null, reason: string | null): Promise<void> {
  const { workers } = ctx.store.t;
  await ctx.store.db.update(workers).set({ quarantinedUntil: until, quarantineReason: reason }).where(eq(workers.id, workerId));
}

async function isQuarantined(ctx: CoreContext, workerId: string, now: number): Promise<boolean> {
  const { workers } = ctx.store.t;
  const rows = await ctx.store.db
    .select({ id: workers.id })
    .from(workers)
    .where(and(eq(workers.id, workerId), gte(workers.quarantinedUntil, now + 1)))
    .limit(1);
  return rows.length > 0;
}

export class QuarantineWatcher {
  private readonly byWorker = new Map<string, WorkerFaults>();
  private readonly draining = new Set<string>();
  private readonly offs: (() => void)[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  // One evaluation of a worker at a time, in the order its events came.
  private readonly turns = new Map<string, Promise<void>>();

  constructor(private readonly ctx: CoreContext) {}

  /** Loads the remembered faults and suspects still inside the window. */
  async load(): Promise<void> {
    const { workerFaults } = this.ctx.store.t;
    const since = this.ctx.clock.now() - this.ctx.config.liveness.quarantineWindowMs;
    // Rows that left the window while no watcher held them (the coordinator was down) are
    // never in memory, so evaluate() would never drop them: drop them here.
    await this.ctx.store.db.delete(workerFaults).where(lte(workerFaults.at, since));
    const rows = await this.ctx.store.db.select().from(workerFaults).where(gte(workerFaults.at, since + 1)).orderBy(workerFaults.at);
    this.fill(rows);
  }

  private fill(rows: (typeof this.ctx.store.t.workerFaults.$inferSelect)[]): void {
    const touched = new Set<WorkerFaults>();
    for (const r of rows) {
      const e = this.entry(r.workerId);
      touched.add(e);
      if (r.kind === 'suspect') {
        e.suspects.push({ id: r.id, at: r.at, jobId: r.jobId ?? '', profileId: r.profileId ?? '', encoder: r.encoder ?? '', detail: r.detail });
      } else {
        e.faults.push({ id: r.id, at: r.at, kind: r.kind as FaultKind, detail: r.detail, spec: r.profileId && r.encoder ? `${r.profileId}/${r.encoder}` : undefined });
      }
    }
    for (const e of touched) {
      e.faults.splice(0, Math.max(0, e.faults.length - MAX_ENTRIES));
      e.suspects.splice(0, Math.max(0, e.suspects.length - MAX_ENTRIES));
    }
  }

  /**
   * Cluster mode: a worker's faults as the database has them, every coordinator's (one that
   * flaps between coordinators is lost by each in turn, each loss recorded once, by the one
   * that lost it), before this coordinator judges it.
   */
  private async reloadWorker(workerId: string): Promise<void> {
    if (!this.ctx.clustered) return;
    const { workerFaults } = this.ctx.store.t;
    const since = this.ctx.clock.now() - this.ctx.config.liveness.quarantineWindowMs;
    const rows = await this.ctx.store.db
      .select()
      .from(workerFaults)
      .where(and(eq(workerFaults.workerId, workerId), gte(workerFaults.at, since + 1)))
      .orderBy(workerFaults.at);
    const e = this.entry(workerId);
    e.faults = [];
    e.suspects = [];
    this.fill(rows);
  }

  start(): void {
    const { events } = this.ctx;
    this.offs.push(
      events.on('worker:state', ({ workerId, state }) => {
        if (state === 'draining') this.draining.add(workerId);
        else if (state === 'online') this.draining.delete(workerId);
        else if (state === 'unquarantined') this.inTurn(workerId, () => this.forget(workerId));
      }),
      events.on('worker:registered', ({ workerId }) => this.draining.delete(workerId)),
      events.on('worker:lost', ({ workerId, reason }) => {
        // A drained worker leaving is the end of a drain (SIGTERM, admin), not a fault. The
        // loss reason cannot tell a crash from a clean exit: a SIGKILLed worker's socket
        // also ends its stream cleanly ("control stream ended").
        if (this.draining.delete(workerId)) return;
        // Lost while our own event loop ran more than a heartbeat late (a starved
        // coordinator, coordinator/load): the worker's heartbeats, or the acks of its
        // keepalive pings, sat unread here; the loss says nothing about the worker.
        const ownLagMs = this.ctx.loopLag?.lagMs() ?? 0;
        if (ownLagMs >= this.ctx.config.liveness.heartbeatIntervalMs) {
          this.ctx.log.info('worker loss not counted as a fault: this coordinator was lagging', { workerId, lagMs: Math.round(ownLagMs) });
          return;
        }
        const at = this.ctx.clock.now();
        this.inTurn(workerId, () => this.recordFault(workerId, { id: randomUUID(), at, kind: 'connection', detail: reason.slice(0, 500) }));
      }),
      events.on('job:ended', ({ jobId, workerId, state, cause, reason }) => {
        if (state !== 'failed' || !workerId || cause !== 'ffmpeg') return;
        const at = this.ctx.clock.now();
        this.inTurn(workerId, async () => {
          const { jobs } = this.ctx.store.t;
          const [row] = await this.ctx.store.db.select({ profileId: jobs.profileId, encoder: jobs.encoder }).from(jobs).where(eq(jobs.id, jobId)).limit(1);
          if (!row?.encoder) return;
          const suspect: Suspect = { id: randomUUID(), at, jobId, profileId: row.profileId, encoder: row.encoder, detail: (reason ?? '').slice(0, 200) };
          const entry = this.entry(workerId);
          entry.suspects.push(suspect);
          await this.remember(workerId, 'suspect', suspect);
          if (entry.suspects.length > MAX_ENTRIES) await this.drop([entry.suspects.shift()!.id]);
          await this.evaluate(workerId, this.ctx.clock.now());
        });
      }),
    );
    // Suspects become faults when their spec proves runnable elsewhere, which may happen
    // after the failure: re-check the workers that have some.
    this.timer = setInterval(() => void this.sweep(this.ctx.clock.now()), SWEEP_MS);
    this.timer.unref?.();
  }

  stop(): void {
    for (const off of this.offs.splice(0)) off();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Resolves when every evaluation queued so far has run (tests wait on it). */
  async settled(): Promise<void> {
    while (this.turns.size > 0) await Promise.all([...this.turns.values()]);
  }

  /** Faults and suspects currently remembered for a worker (for tests and the API). */
  faultsOf(workerId: string): { faults: number; suspects: number } {
    const e = this.byWorker.get(workerId);
    return { faults: e?.faults.length ?? 0, suspects: e?.suspects.length ?? 0 };
  }

  async sweep(now: number): Promise<void> {
    const since = now - this.ctx.config.liveness.quarantineWindowMs;
    for (const [workerId, e] of [...this.byWorker]) {
      // Faults alone change nothing until one leaves the window: after a fleet-wide loss,
      // 1,000 workers with one fault each are not re-evaluated every second.
      if (e.suspects.length > 0 || e.faults.length > 0) {
        // (a withheld quarantine is looked at again: another worker able to serve may have come)
        if (e.suspects.length > 0 || e.withheld !== null || e.faults.some((f) => f.at <= since)) this.inTurn(workerId, () => this.evaluate(workerId, now));
      } else if (e.withheld === null && !this.turns.has(workerId)) this.byWorker.delete(workerId);
    }
    await this.settled();
  }

  private inTurn(workerId: string, fn: () => Promise<void>): void {
    const prev = this.turns.get(workerId) ?? Promise.resolve();
    const next = prev
      .then(fn)
      .catch((err: unknown) => this.ctx.log.warn('quarantine evaluation failed', { workerId, error: err instanceof Error ? err.message : String(err) }))
      .finally(() => {
        if (this.turns.get(workerId) === next) this.turns.delete(workerId);
      });
    this.turns.set(workerId, next);
  }

  private entry(workerId: string): WorkerFaults {
    let e = this.byWorker.get(workerId);
    if (!e) {
      e = { faults: [], suspects: [], withheld: null };
      this.byWorker.set(workerId, e);
    }
    return e;
  }

  private async remember(workerId: string, kind: 'connection' | 'ffmpeg' | 'suspect', f: Fault | Suspect): Promise<void> {
    const s = f as Partial<Suspect>;
    const [profileId, encoder] = 'spec' in f && f.spec ? f.spec.split('/') : [s.profileId ?? null, s.encoder ?? null];
    await this.ctx.store.db
      .insert(this.ctx.store.t.workerFaults)
      .values({ id: f.id, workerId, kind, at: f.at, detail: f.detail, jobId: s.jobId ?? null, profileId: profileId ?? null, encoder: encoder ?? null });
  }

  private async drop(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const { workerFaults } = this.ctx.store.t;
    await this.ctx.store.db.delete(workerFaults).where(inArray(workerFaults.id, ids));
  }

  private async forget(workerId: string): Promise<void> {
    this.byWorker.delete(workerId);
    const { workerFaults } = this.ctx.store.t;
    await this.ctx.store.db.delete(workerFaults).where(eq(workerFaults.workerId, workerId));
  }

  private async recordFault(workerId: string, fault: Fault): Promise<void> {
    const e = this.entry(workerId);
    e.faults.push(fault);
    await this.remember(workerId, fault.kind, fault);
    await this.reloadWorker(workerId);
    if (e.faults.length > MAX_ENTRIES) await this.drop([e.faults.shift()!.id]);
    await this.evaluate(workerId, fault.at);
  }

  /** Prunes the window, promotes proven suspects, then quarantines (or degrades) at the threshold. */
  private async evaluate(workerId: string, now: number): Promise<void> {
    const { quarantineFailures, quarantineWindowMs, quarantineMs } = this.ctx.config.liveness;
    const e = this.entry(workerId);
    const since = now - quarantineWindowMs;
    await this.dropOlderThan(workerId, since);
    e.faults = e.faults.filter((f) => f.at > since);
    e.suspects = e.suspects.filter((s) => s.at > since);
    for (const s of [...e.suspects]) {
      if (!(await specRunsElsewhere(this.ctx, s, workerId, now))) continue;
      e.suspects.splice(e.suspects.indexOf(s), 1);
      const spec = `${s.profileId}/${s.encoder}`;
      e.faults.push({ id: s.id, at: s.at, kind: 'ffmpeg', spec, detail: `FFmpeg failed on ${spec}, which runs on other workers: ${s.detail}`.slice(0, 500) });
      const { workerFaults } = this.ctx.store.t;
      await this.ctx.store.db.update(workerFaults).set({ kind: 'ffmpeg', detail: e.faults[e.faults.length - 1]!.detail }).where(eq(workerFaults.id, s.id));
    }
    if (e.faults.length < quarantineFailures) {
      if (e.withheld !== null && e.faults.length === 0) await this.clearWithheld(workerId, e);
      return;
    }
    if (await isQuarantined(this.ctx, workerId, now)) return;
    const reason = describeFaults(e.faults, quarantineWindowMs);
    const last = await lastAvailableCodecs(this.ctx, workerId, now);
    if (last.length > 0) {
      const failing = new Set(e.faults.map((f) => f.spec).filter(Boolean));
      const healthyFor = [...(await specsRunBy(this.ctx, workerId, now))].filter((s) => !failing.has(s));
      if (healthyFor.length > 0) {
        const withheld = `not quarantined: last worker able to serve ${last.join(', ')} and healthy for other jobs; ${reason}`;
        if (e.withheld !== withheld) {
          e.withheld = withheld;
          await setQuarantine(this.ctx, workerId, null, withheld);
          this.ctx.log.warn('worker quarantine withheld', { workerId, reason: withheld });
        }
        return;
      }
    }
    const until = now + quarantineMs;
    await this.drop(e.faults.map((f) => f.id));
    e.faults = [];
    e.withheld = null;
    await setQuarantine(this.ctx, workerId, until, reason);
    this.ctx.log.warn('worker quarantined', { workerId, until: new Date(until).toISOString(), reason });
    this.ctx.events.emit('worker:state', { workerId, state: 'quarantined' });
  }

  private async dropOlderThan(workerId: string, since: number): Promise<void> {
    const e = this.byWorker.get(workerId);
    const old = [...(e?.faults ?? []), ...(e?.suspects ?? [])].filter((f) => f.at <= since);
    if (old.length === 0) return;
    const { workerFaults } = this.ctx.store.t;
    await this.ctx.store.db.delete(workerFaults).where(and(eq(workerFaults.workerId, workerId), lte(workerFaults.at, since)));
  }

  private async clearWithheld(workerId: string, e: WorkerFaults): Promise<void> {
    e.withheld = null;
    const { workers } = this.ctx.store.t;
    await this.ctx.store.db
      .update(workers)
      .set({ quarantineReason: null })
      .where(and(eq(workers.id, workerId), sql`${workers.quarantinedUntil} is null`));
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
export async function liftQuarantine(ctx: CoreContext, workerId: string): Promise<void> {
  const { workers } = ctx.store.t;
  const exists = await ctx.store.db.select({ id: workers.id }).from(workers).where(eq(workers.id, workerId)).limit(1);
  if (exists.length === 0) throw new AppError('not_found', `worker '${workerId}' not found`);
  await setQuarantine(ctx, workerId, null, null);
  ctx.log.info('worker quarantine lifted', { workerId });
  ctx.events.emit('worker:state', { workerId, state: 'unquarantined' });
}

export async function watchForQuarantine(ctx: CoreContext): Promise<QuarantineWatcher> {
  const watcher = new QuarantineWatcher(ctx);
  await watcher.load();
  watcher.start();
  return watcher;
}
