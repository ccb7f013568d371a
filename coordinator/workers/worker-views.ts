// Read models of workers for the API and the page: a row plus its encoders and load.
import { asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { jobs, workerEncoders, workers } from '../db/client';
import { AppError } from '../errors';
import type { EncoderKind } from '../domain';
import type { WorkerLink } from './worker-link';

/** Is a worker connected here; `link` (optional) describes its connection (worker-link.ts). */
export interface WorkerPresence {
  (id: string): boolean;
  link?: (id: string) => WorkerLink | null;
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

export function listWorkerViews(db: Db, connected: WorkerPresence, onlyId?: string): WorkerView[] {
  const rows = db
    .select()
    .from(workers)
    .where(onlyId ? eq(workers.id, onlyId) : undefined)
    .orderBy(asc(workers.name), asc(workers.id))
    .all();
  const encoders = db
    .select()
    .from(workerEncoders)
    .where(onlyId ? eq(workerEncoders.workerId, onlyId) : undefined)
    .all();
  const loads = db
    .select({ workerId: jobs.workerId, n: sql<number>`count(*)` })
    .from(jobs)
    .where(sql`${jobs.state} IN ('pending', 'running')`)
    .groupBy(jobs.workerId)
    .all();
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
    usage: w.usage ?? null,
    activeJobs: loadBy.get(w.id) ?? 0,
    registeredAt: w.registeredAt,
    lastSeenAt: w.lastSeenAt,
    quarantinedUntil: w.quarantinedUntil,
    quarantineReason: w.quarantineReason,
    link: connected.link?.(w.id) ?? null,
  }));
}

export function getWorkerView(db: Db, id: string, connected: WorkerPresence): WorkerView {
  const [view] = listWorkerViews(db, connected, id);
  if (!view) throw new AppError('not_found', `worker '${id}' not found`);
  return view;
}
