// Shared set-up for the scheduler tests: a fresh SQLite file with migrations applied,
// workers registered through the real upsertWorker, and live jobs as plain rows.
import { rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { jobs, openDatabase, workers, type Db } from '../../coordinator/db/client';
import type { EncoderCapability, EncoderKind, WorkerState } from '../../coordinator/domain';
import { upsertWorker } from '../../coordinator/workers/worker-store';

export function openTempDb(label: string): { db: Db; path: string; dir: string; close(): void } {
  const dir = mkdtempSync(join(tmpdir(), `sched-${label}-`));
  const path = join(dir, 'coordinator.db');
  const db = openDatabase(path);
  return {
    db,
    path,
    dir,
    close() {
      db.$client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
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

export function addWorker(db: Db, spec: WorkerSpec, now = 1_000): void {
  upsertWorker(
    db,
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
  if (spec.state === 'offline') db.update(workers).set({ state: 'offline' }).where(eq(workers.id, spec.id)).run();
}

let seq = 0;
/** Live job rows on a worker, as if the scheduler had placed them earlier. */
export function addLiveJobs(db: Db, workerId: string, kind: EncoderKind, count: number, state: 'pending' | 'running' = 'running'): string[] {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `fixture-job-${++seq}`;
    db.insert(jobs)
      .values({
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
      })
      .run();
    ids.push(id);
  }
  return ids;
}

/** Live (pending or running) jobs per worker, counted from the jobs table. */
export function liveCounts(db: Db): Map<string, { total: number; gpu: number; cpu: number }> {
  const rows = db.$client
    .query<{ worker_id: string; total: number; gpu: number; cpu: number }, []>(
      `SELECT worker_id, count(*) AS total, sum(kind = 'gpu') AS gpu, sum(kind = 'cpu') AS cpu
         FROM jobs WHERE state IN ('pending', 'running') GROUP BY worker_id`,
    )
    .all();
  return new Map(rows.map((r) => [r.worker_id, { total: r.total, gpu: r.gpu, cpu: r.cpu }]));
}
