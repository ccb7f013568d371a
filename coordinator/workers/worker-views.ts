// Read models of workers for the API and the page: a row plus its encoders and load.
import { asc, eq, sql } from 'drizzle-orm';
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
  /** measured RTT and per-job throughput; null when not connected here */
  link: WorkerLink | null;
}

export async function listWorkerViews({ db, t }: Store, connected: WorkerPresence, onlyId?: string): Promise<WorkerView[]> {
  const { jobs, workerEncoders, workers } = t;
  const rows = await db
    .select()
    .from(workers)
    .where(onlyId ? eq(workers.id, onlyId) : undefined)
    .orderBy(asc(workers.name), asc(workers.id));
  const encoders = await db
    .select()
    .from(workerEncoders)
    .where(onlyId ? eq(workerEncoders.workerId, onlyId) : undefined);
  const loads = await db
    .select({ workerId: jobs.workerId, n: sql<number>`count(*)`.mapWith(Number) })
    .from(jobs)
    .where(sql`${jobs.state} IN ('pending', 'running')`)
    .groupBy(jobs.workerId);
  const loadBy = new Map(loads.map((l) => [l.workerId, l.n]));
  const encodersBy = new Map<string, WorkerView['encoders']>();
  for (const e of encoders) {
    if (e.encoder === 'copy') continue;
    const list = encodersBy.get(e.workerId) ?? [];
    list.push({ name: e.encoder, codec: e.codec, kind: e.kind as EncoderKind, family: e.family });
    encodersBy.set(e.workerId, list);
  }
  return rows.map((w) => ({
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
    link: connected.link?.(w.id) ?? null,
  }));
}

export async function getWorkerView(store: Store, id: string, connected: WorkerPresence): Promise<WorkerView> {
  const [view] = await listWorkerViews(store, connected, id);
  if (!view) throw new AppError('not_found', `worker '${id}' not found`);
  return view;
}
