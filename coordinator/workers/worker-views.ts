// Read models of workers for the API and the page: a row plus its encoders and load.
import { and, asc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { Store } from '../db/store';
import { AppError } from '../errors';
import type { EncoderKind } from '../domain';
import type { WorkerLink } from './worker-link';

/** Is a worker connected here; `link` (optional) describes its connection (worker-link.ts). */
export interface WorkerPresence {
  (id: string): boolean;
  link?: (id: string) => WorkerLink | null;
  /** Liveness and usage of a connected worker, newer than its row (written in batches). */
  live?: (id: string) => { lastSeenAt: number; usage: unknown } | null;
}

export interface WorkerView {
  id: string;
  name: string;
  version: string;
  hostname: string;
  address: string;
  ffmpegVersion: string;
  state: string;
  connected: boolean;
  maxJobs: number;
  maxGpuJobs: number;
  maxCpuJobs: number;
  speedFps: number;
  encoders: { name: string; codec: string; kind: EncoderKind; family: string }[];
  rejectedEncoders: { name: string; codec: string; reason: string }[];
  gpus: unknown[];
  usage: unknown;
  activeJobs: number;
  registeredAt: number;
  lastSeenAt: number;
  quarantinedUntil: number | null;
  quarantineReason: string | null;
  /** cluster mode: the coordinator whose Control stream holds it (or held it last) */
  coordinatorId: string | null;
  /** measured RTT and per-job throughput; null when not connected here */
  link: WorkerLink | null;
}

export interface WorkerFilter {
  onlyId?: string;
  state?: string;
  /** has this proven encoder */
  encoder?: string;
  /** name or id contains this (case-insensitive) */
  name?: string;
  limit?: number;
  offset?: number;
}

/** One page of worker views in name, id order, and how many match the filter. */
export async function listWorkerViews(store: Store, connected: WorkerPresence, filter: WorkerFilter = {}): Promise<{ views: WorkerView[]; total: number }> {
  const { db, t } = store;
  const { jobs, workerEncoders, workers } = t;
  const conds: (SQL | undefined)[] = [];
  if (filter.onlyId !== undefined) conds.push(eq(workers.id, filter.onlyId));
  if (filter.state !== undefined) conds.push(eq(workers.state, filter.state));
  if (filter.encoder !== undefined) {
    conds.push(inArray(workers.id, db.select({ id: workerEncoders.workerId }).from(workerEncoders).where(eq(workerEncoders.encoder, filter.encoder))));
  }
  if (filter.name !== undefined) {
    // LIKE with %, _ and \ escaped, so they are plain characters in the search (the same SQL on both engines).
    const pattern = `%${filter.name.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    conds.push(sql`(lower(${workers.name}) like ${pattern} escape '\\' or lower(${workers.id}) like ${pattern} escape '\\')`);
  }
  const where = conds.length ? and(...conds) : undefined;
  const paged = filter.limit !== undefined || filter.offset !== undefined;
  const [{ total } = { total: 0 }] = await db.select({ total: sql<number>`count(*)`.mapWith(Number) }).from(workers).where(where);
  let query = db.select().from(workers).where(where).orderBy(asc(workers.name), asc(workers.id)).$dynamic();
  if (paged) query = query.limit(filter.limit ?? 1000).offset(filter.offset ?? 0);
  const rows = await query;
  const ids = rows.map((r) => r.id);
  if (ids.length === 0) return { views: [], total };
  const encoders = await db.select().from(workerEncoders).where(inArray(workerEncoders.workerId, ids));
  const loads = await db
    .select({ workerId: jobs.workerId, n: sql<number>`count(*)`.mapWith(Number) })
    .from(jobs)
    .where(and(sql`${jobs.state} IN ('pending', 'running')`, inArray(jobs.workerId, ids)))
    .groupBy(jobs.workerId);
  const loadBy = new Map(loads.map((l) => [l.workerId, l.n]));
  const encodersBy = new Map<string, WorkerView['encoders']>();
  for (const e of encoders) {
    if (e.encoder === 'copy') continue;
    const list = encodersBy.get(e.workerId) ?? [];
    list.push({ name: e.encoder, codec: e.codec, kind: e.kind as EncoderKind, family: e.family });
    encodersBy.set(e.workerId, list);
  }
  const views = rows.map((w) => ({
    id: w.id,
    name: w.name,
    version: w.version,
    hostname: w.hostname,
    address: w.address,
    ffmpegVersion: w.ffmpegVersion,
    state: w.state,
    connected: connected(w.id),
    maxJobs: w.maxJobs,
    maxGpuJobs: w.maxGpuJobs,
    maxCpuJobs: w.maxCpuJobs,
    speedFps: w.speedFps,
    encoders: encodersBy.get(w.id) ?? [],
    rejectedEncoders: (w.rejectedEncoders as WorkerView['rejectedEncoders']) ?? [],
    gpus: (w.gpus as unknown[]) ?? [],
    usage: connected.live?.(w.id)?.usage ?? w.usage ?? null,
    activeJobs: loadBy.get(w.id) ?? 0,
    registeredAt: w.registeredAt,
    lastSeenAt: Math.max(w.lastSeenAt, connected.live?.(w.id)?.lastSeenAt ?? 0),
    quarantinedUntil: w.quarantinedUntil,
    quarantineReason: w.quarantineReason,
    coordinatorId: w.coordinatorId ?? null,
    link: connected.link?.(w.id) ?? null,
  }));
  return { views, total };
}

export async function getWorkerView(store: Store, id: string, connected: WorkerPresence): Promise<WorkerView> {
  const {
    views: [view],
  } = await listWorkerViews(store, connected, { onlyId: id });
  if (!view) throw new AppError('not_found', `worker '${id}' not found`);
  return view;
}
