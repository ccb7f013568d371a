ALTER TABLE "jobs" ADD COLUMN "slots" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
-- A worker's load is the slots its live jobs hold (a ladder job: one per rendition), not
-- their number. scheduler_slots_rebuild reads this view by name, so it follows it.
CREATE OR REPLACE VIEW "scheduler_slot_source" AS
SELECT s.worker_id, s.encoder, s.codec, s.kind, s.family, s.kind_rank, s.worker_state, s.quarantined_until,
       s.speed_fps, s.max_jobs, s.max_gpu_jobs, s.max_cpu_jobs, s.jobs, s.gpu_jobs, s.cpu_jobs,
       CASE WHEN s.max_jobs > 0 THEN s.jobs::double precision / s.max_jobs ELSE 1.0::double precision END AS load_ratio,
       (s.worker_state = 'online'
        AND s.jobs < s.max_jobs
        AND CASE s.kind WHEN 'gpu' THEN s.gpu_jobs < s.max_gpu_jobs ELSE s.cpu_jobs < s.max_cpu_jobs END) AS eligible
  FROM (
    SELECT e.worker_id, e.encoder, e.codec, e.kind, e.family,
           CASE e.kind WHEN 'gpu' THEN 0 ELSE 1 END AS kind_rank,
           w.state AS worker_state, w.quarantined_until, w.speed_fps,
           w.max_jobs, w.max_gpu_jobs, w.max_cpu_jobs,
           (SELECT coalesce(sum(j.slots), 0)::int FROM jobs j
             WHERE j.worker_id = e.worker_id AND j.state IN ('pending', 'running')) AS jobs,
           (SELECT coalesce(sum(j.slots), 0)::int FROM jobs j
             WHERE j.worker_id = e.worker_id AND j.state IN ('pending', 'running') AND j.kind = 'gpu') AS gpu_jobs,
           (SELECT coalesce(sum(j.slots), 0)::int FROM jobs j
             WHERE j.worker_id = e.worker_id AND j.state IN ('pending', 'running') AND j.kind = 'cpu') AS cpu_jobs
      FROM worker_encoders e
      JOIN workers w ON w.id = e.worker_id
  ) s;
--> statement-breakpoint
DELETE FROM "scheduler_slots";
--> statement-breakpoint
INSERT INTO "scheduler_slots" SELECT * FROM "scheduler_slot_source";
