// The candidate query: which workers could run a job for this profile, best first.
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import type { EncoderKind } from '../domain';

export interface CandidateRequest {
  codec: string;
  /** exact encoder ("hevc_vaapi"), family ("nvenc") or kind ("gpu" | "cpu"); null = any */
  preference: string | null;
  now: number;
  excludeWorkerIds?: readonly string[];
  limit?: number;
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

/**
 * One ranked SQL query. Capacity is counted from the jobs table itself (live = pending
 * or running with a worker), so it cannot drift from what was actually assigned.
 *
 * Filter: online (not draining, not offline), not quarantined, has an encoder for the
 * codec (matching the preference if any), and a free slot overall and of the encoder's
 * kind. Rank: GPU before CPU, then lowest load ratio, then fastest measured speed, then
 * worker id and encoder name so equal candidates always come out in the same order.
 */
export function listCandidateWorkers(db: Db, req: CandidateRequest): Candidate[] {
  const exclude = req.excludeWorkerIds ?? [];
  const excludeClause = exclude.length
    ? sql`AND w.id NOT IN (${sql.join(
        exclude.map((id) => sql`${id}`),
        sql`, `,
      )})`
    : sql``;
  const query = sql`
    WITH load AS (
      SELECT worker_id,
             count(*) AS jobs,
             sum(kind = 'gpu') AS gpu_jobs,
             sum(kind = 'cpu') AS cpu_jobs
        FROM jobs
       WHERE state IN ('pending', 'running') AND worker_id IS NOT NULL
       GROUP BY worker_id
    )
    SELECT w.id AS workerId, e.encoder AS encoder, e.kind AS kind, e.family AS family,
           coalesce(l.jobs, 0) AS jobs, coalesce(l.gpu_jobs, 0) AS gpuJobs, coalesce(l.cpu_jobs, 0) AS cpuJobs,
           w.max_jobs AS maxJobs, w.max_gpu_jobs AS maxGpuJobs, w.max_cpu_jobs AS maxCpuJobs,
           w.speed_fps AS speedFps
      FROM worker_encoders e
      JOIN workers w ON w.id = e.worker_id
      LEFT JOIN load l ON l.worker_id = w.id
     WHERE e.codec = ${req.codec}
       AND (${req.preference} IS NULL OR e.encoder = ${req.preference} OR e.family = ${req.preference} OR e.kind = ${req.preference})
       AND w.state = 'online'
       AND (w.quarantined_until IS NULL OR w.quarantined_until <= ${req.now})
       AND coalesce(l.jobs, 0) < w.max_jobs
       AND CASE e.kind WHEN 'gpu' THEN coalesce(l.gpu_jobs, 0) < w.max_gpu_jobs
                       ELSE coalesce(l.cpu_jobs, 0) < w.max_cpu_jobs END
       ${excludeClause}
     ORDER BY (e.kind = 'gpu') DESC,
              (coalesce(l.jobs, 0) * 1.0 / w.max_jobs) ASC,
              w.speed_fps DESC,
              w.id ASC,
              e.encoder ASC
     LIMIT ${req.limit ?? 50}`;
  return db.all<Candidate>(query);
}
