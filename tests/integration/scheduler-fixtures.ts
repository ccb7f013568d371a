// Shared set-up for the store tests: a fresh database with migrations applied on either
// engine (a SQLite file, or a database of its own on the test process's private
// PostgreSQL server), workers registered through the real upsertWorker, and live jobs as
// plain rows. Everything goes through the Store interface, so one test runs on both.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, inArray, sql } from 'drizzle-orm';
import { openPostgresStore } from '../../coordinator/db/postgres-store';
import { openSqliteStore } from '../../coordinator/db/sqlite-store';
import type { Engine, Store } from '../../coordinator/db/store';
import { LIVE_JOB_STATES, type EncoderCapability, type EncoderKind, type WorkerState } from '../../coordinator/domain';
import { upsertWorker } from '../../coordinator/workers/worker-store';
import { sharedPostgres } from '../helpers/postgres';

/** The engines every store-touching integration test runs on (issue 22: both, none skipped). */
export const ENGINES = ['sqlite', 'postgres'] as const satisfies readonly Engine[];

/**
 * The coordinator's database settings for a fresh, empty database on `engine`: a new
 * SQLite file under `dir`, or a new PostgreSQL database (TVARR_DATABASE_URL wins over the
 * path). For tests that start a coordinator, or another process, on it.
 */
export async function freshDatabaseEnv(engine: Engine, dir: string, label = 'test'): Promise<Record<string, string>> {
  const path = { TVARR_DATABASE_PATH: join(dir, 'coordinator.db') };
  if (engine === 'sqlite') return path;
  return { ...path, TVARR_DATABASE_URL: await (await sharedPostgres()).createDatabase(label) };
}

export interface TempStore {
  store: Store;
  /** What another process needs to open the same database (freshDatabaseEnv). */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function openTempStore(label: string, engine: Engine): Promise<TempStore> {
  const dir = mkdtempSync(join(tmpdir(), `store-${label}-`));
  try {
    const env = await freshDatabaseEnv(engine, dir, label);
    const store = env.TVARR_DATABASE_URL ? await openPostgresStore(env.TVARR_DATABASE_URL) : openSqliteStore(env.TVARR_DATABASE_PATH!);
    return {
      store,
      env,
      async close() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

const FAMILIES: [RegExp, string, EncoderKind][] = [
  [/_nvenc$/, 'nvenc', 'gpu'],
  [/_vaapi$/, 'vaapi', 'gpu'],
  [/_qsv$/, 'qsv', 'gpu'],
  [/_amf$/, 'amf', 'gpu'],
];

const CODECS: Record<string, string> = {
  libx264: 'h264',
  libx265: 'hevc',
  'libsvtav1': 'av1',
  'libaom-av1': 'av1',
  'libvpx-vp9': 'vp9',
  mpeg2video: 'mpeg2video',
};

/** "hevc_vaapi" -> { codec hevc, kind gpu, family vaapi }; "libx265" -> software CPU. */
export function encoderCapability(name: string): EncoderCapability {
  for (const [re, family, kind] of FAMILIES) {
    if (re.test(name)) return { name, codec: name.replace(re, '').replace('mpeg2', 'mpeg2video'), kind, family };
  }
  const codec = CODECS[name];
  if (!codec) throw new Error(`fixture does not know encoder ${name}`);
  return { name, codec, kind: 'cpu', family: 'software' };
}

export interface WorkerSpec {
  id: string;
  encoders: string[];
  maxJobs?: number;
  maxGpuJobs?: number;
  maxCpuJobs?: number;
  speedFps?: number;
  state?: WorkerState;
}

export async function addWorker(store: Store, spec: WorkerSpec, now = 1_000): Promise<void> {
  await upsertWorker(
    store,
    {
      id: spec.id,
      name: spec.id,
      version: 'test',
      hostname: 'localhost',
      address: '127.0.0.1',
      ffmpegVersion: '5.1',
      encoders: spec.encoders.map(encoderCapability),
      rejectedEncoders: [],
      gpus: [],
      limits: { maxJobs: spec.maxJobs ?? 4, maxGpuJobs: spec.maxGpuJobs ?? 4, maxCpuJobs: spec.maxCpuJobs ?? 4 },
      speedFps: spec.speedFps ?? 100,
      activeJobs: [],
      draining: spec.state === 'draining',
    },
    now,
  );
  const { workers } = store.t;
  if (spec.state === 'offline') await store.db.update(workers).set({ state: 'offline' }).where(eq(workers.id, spec.id));
}

let seq = 0;
/** Live job rows on a worker, as if the scheduler had placed them earlier. */
export async function addLiveJobs(store: Store, workerId: string, kind: EncoderKind, count: number, state: 'pending' | 'running' = 'running'): Promise<string[]> {
  const ids = Array.from({ length: count }, () => `fixture-job-${++seq}`);
  if (ids.length === 0) return ids;
  await store.db.insert(store.t.jobs).values(
    ids.map((id) => ({
      id,
      runId: id,
      sourceId: 'src',
      profileId: 'prof',
      workerId,
      encoder: kind === 'gpu' ? 'h264_nvenc' : 'libx264',
      kind,
      state,
      attempt: 1,
      createdAt: 1_000,
    })),
  );
  return ids;
}

export type LiveCounts = Map<string, { total: number; gpu: number; cpu: number }>;

/**
 * Live (pending or running) jobs per worker, counted from the jobs table itself (not the
 * scheduler_slots read model). count() and sum() are bigint on PostgreSQL, which the
 * driver hands over as text: mapWith(Number).
 */
export async function liveCounts(store: Store): Promise<LiveCounts> {
  const { jobs } = store.t;
  const rows = await store.db
    .select({
      workerId: jobs.workerId,
      total: sql<number>`count(*)`.mapWith(Number),
      gpu: sql<number>`sum(case when ${jobs.kind} = 'gpu' then 1 else 0 end)`.mapWith(Number),
      cpu: sql<number>`sum(case when ${jobs.kind} = 'cpu' then 1 else 0 end)`.mapWith(Number),
    })
    .from(jobs)
    .where(inArray(jobs.state, [...LIVE_JOB_STATES]))
    .groupBy(jobs.workerId);
  return new Map(rows.map((r) => [r.workerId ?? '', { total: r.total, gpu: r.gpu, cpu: r.cpu }]));
}
