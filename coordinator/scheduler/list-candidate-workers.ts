// The candidate query: which workers could run a job for this profile, best first.
import { and, asc, desc, eq, inArray, isNull, lte, notInArray, or, sql, type SQL } from 'drizzle-orm';
import type { Store } from '../db/store';
import type { EncoderKind } from '../domain';

export interface CandidateRequest {
  codec: string;
  /** exact encoder ("hevc_vaapi"), family ("nvenc") or kind ("gpu" | "cpu"); null = any */
  preference: string | null;
  now: number;
  excludeWorkerIds?: readonly string[];
  limit?: number;
  /**
   * Cluster mode: only workers whose Control stream this coordinator holds (StartJob goes
   * down that stream); as a non-empty list, workers held by any of those coordinators (a
   * job its owner places on a peer's worker, coordinator/cluster/peer-relay.ts). Unset on
   * SQLite, where one coordinator holds every worker.
   */
  attachedTo?: string | readonly string[];
  /**
   * Slots the job takes (a ladder job: one per rendition); default 1. Above 1 a worker
   * qualifies only with that many free slots overall and in the encoder's class.
   */
  slots?: number;
}

export interface Candidate {
  workerId: string;
  encoder: string;
  kind: EncoderKind;
  family: string;
  jobs: number;
  gpuJobs: number;
  cpuJobs: number;
  maxJobs: number;
  maxGpuJobs: number;
  maxCpuJobs: number;
  speedFps: number;
}

/** Does an encoder satisfy a profile's preference? Same rule as the SQL below. */
export function matchesPreference(e: { encoder: string; family: string; kind: string }, preference: string | null): boolean {
  return preference === null || e.encoder === preference || e.family === preference || e.kind === preference;
}

/**
 * rankedCandidates: one ranked SQL query over scheduler_slots.
 *
 * scheduler_slots holds one row per (worker, encoder) with the worker's live load
 * counted from the jobs table by triggers in the same transaction as every job write
 * (see drizzle/schema.ts), so capacity is exact, never a counter that can drift.
 *
 * Filter: the encoder makes the codec (and matches the preference, if any), and the row
 * is eligible (worker online, i.e. not draining or offline; jobs < max jobs; and a free
 * GPU slot for a GPU encoder or a free CPU slot for a CPU encoder), and the worker is
 * not quarantined at `now` (time-dependent, so it cannot be precomputed by a trigger).
 * Rank: GPU before CPU, then lowest load ratio, then fastest measured speed, then worker
 * id and encoder name so equal candidates always come out in the same order.
 *
 * Speed: scheduler_slots_rank_idx is (codec, eligible, kind_rank, load_ratio,
 * speed_fps DESC, worker_id, encoder): the equality terms pick a contiguous range that
 * is already in ranking order, so SQLite walks it without sorting and LIMIT 1 stops at
 * the first row that passes the residual filters (quarantine, preference, exclusions).
 * A kind preference ('gpu' | 'cpu') is an index equality too. Only a family or encoder
 * preference that few rows match, or many quarantined workers, makes the walk long.
 */
export async function listCandidateWorkers(store: Store, req: CandidateRequest): Promise<Candidate[]> {
  // PostgreSQL: Bun.SQL prepares and caches each statement text per connection itself.
  if (store.engine !== 'sqlite' || req.excludeWorkerIds?.length || req.attachedTo !== undefined || (req.slots ?? 1) > 1) return (await rankedCandidatesQuery(store, req)) as Candidate[];
  // SQLite: the common shapes (no exclusions) are compiled once per connection: compiling
  // the SQL costs more than running it. A list of excluded workers (after a refusal)
  // varies in length, so that rarer form is built per call.
  const params = { codec: req.codec, now: req.now, preference: req.preference ?? '', limit: req.limit ?? 50 };
  const shape = preferenceShape(req.preference);
  let cache = prepared.get(store.db);
  if (!cache) prepared.set(store.db, (cache = new Map()));
  let stmt = cache.get(shape);
  if (!stmt) {
    stmt = (
      rankedCandidatesQuery(store, {
        codec: sql.placeholder('codec') as unknown as string,
        now: sql.placeholder('now') as unknown as number,
        preference: shape === 'any' ? null : shape === 'named' ? (sql.placeholder('preference') as unknown as string) : shape,
        limit: sql.placeholder('limit') as unknown as number,
      }) as unknown as { prepare(): PreparedAll }
    ).prepare();
    cache.set(shape, stmt);
  }
  return stmt.all(params) as Candidate[];
}

interface PreparedAll {
  all(params: Record<string, unknown>): unknown;
}
type Shape = 'any' | 'gpu' | 'cpu' | 'named';
const prepared = new WeakMap<object, Map<Shape, PreparedAll>>();

function preferenceShape(preference: string | null): Shape {
  if (preference === null) return 'any';
  return preference === 'gpu' || preference === 'cpu' ? preference : 'named';
}

const candidateColumns = (slots: Slots) => ({
  workerId: slots.workerId,
  encoder: slots.encoder,
  kind: slots.kind,
  family: slots.family,
  jobs: slots.jobs,
  gpuJobs: slots.gpuJobs,
  cpuJobs: slots.cpuJobs,
  maxJobs: slots.maxJobs,
  maxGpuJobs: slots.maxGpuJobs,
  maxCpuJobs: slots.maxCpuJobs,
  speedFps: slots.speedFps,
  kindRank: slots.kindRank,
  loadRatio: slots.loadRatio,
});
type Slots = Store['t']['schedulerSlots'];

const rankOrder = (slots: Slots) => [asc(slots.kindRank), asc(slots.loadRatio), desc(slots.speedFps), asc(slots.workerId), asc(slots.encoder)];

export function rankedCandidatesQuery(store: Store, req: CandidateRequest) {
  const { db } = store;
  const slots = store.t.schedulerSlots;
  const limit = req.limit ?? 50;
  const walk = (match: SQL | undefined) => {
    const conds: (SQL | undefined)[] = [
      eq(slots.codec, req.codec),
      eq(slots.eligible, true),
      match,
      or(isNull(slots.quarantinedUntil), lte(slots.quarantinedUntil, req.now)),
    ];
    if (req.excludeWorkerIds?.length) conds.push(notInArray(slots.workerId, [...req.excludeWorkerIds]));
    const need = req.slots ?? 1;
    if (need > 1) {
      // eligible says one slot is free; a ladder job needs `need` of them, of its class too.
      conds.push(sql`${slots.maxJobs} - ${slots.jobs} >= ${need}`);
      conds.push(sql`(CASE ${slots.kind} WHEN 'gpu' THEN ${slots.maxGpuJobs} - ${slots.gpuJobs} ELSE ${slots.maxCpuJobs} - ${slots.cpuJobs} END) >= ${need}`);
    }
    if (req.attachedTo !== undefined) {
      const w = store.t.workers;
      const ids = typeof req.attachedTo === 'string' ? [req.attachedTo] : [...req.attachedTo];
      conds.push(inArray(slots.workerId, db.select({ id: w.id }).from(w).where(ids.length === 1 ? eq(w.coordinatorId, ids[0]!) : inArray(w.coordinatorId, ids))));
    }
    return db
      .select(candidateColumns(slots))
      .from(slots)
      .where(and(...conds))
      .orderBy(...rankOrder(slots))
      .limit(limit);
  };
  const shape = preferenceShape(req.preference);
  if (shape === 'any') return walk(undefined);
  // A kind preference becomes an index equality: a walk that skipped every GPU row to
  // reach the first CPU one took 16 ms at 10,000 workers.
  if (shape === 'gpu' || shape === 'cpu') return walk(eq(slots.kindRank, shape === 'gpu' ? 0 : 1));
  // A family or an encoder name: one ordered walk per column, each on its own index
  // (an OR of the two would use neither, and walk every eligible row of the codec
  // when nothing matches), merged and cut to `limit`.
  const byFamily = walk(eq(slots.family, req.preference!)).as('by_family');
  const byEncoder = walk(eq(slots.encoder, req.preference!)).as('by_encoder');
  return db
    .select()
    .from(byFamily)
    .unionAll(db.select().from(byEncoder))
    .orderBy(asc(sql`kind_rank`), asc(sql`load_ratio`), desc(sql`speed_fps`), asc(sql`worker_id`), asc(sql`encoder`))
    .limit(limit);
}
