-- Keeps scheduler_slots equal to scheduler_slot_source (computed from the jobs table)
-- in the same transaction as every write that could change it. Each trigger rebuilds
-- the affected worker's rows from scratch (DELETE + INSERT from the view): no counter
-- is ever incremented, so there is nothing that can drift.
CREATE VIEW `scheduler_slot_source` AS
SELECT s.worker_id, s.encoder, s.codec, s.kind, s.family, s.kind_rank, s.worker_state, s.quarantined_until,
       s.speed_fps, s.max_jobs, s.max_gpu_jobs, s.max_cpu_jobs, s.jobs, s.gpu_jobs, s.cpu_jobs,
       CASE WHEN s.max_jobs > 0 THEN s.jobs * 1.0 / s.max_jobs ELSE 1.0 END AS load_ratio,
       (s.worker_state = 'online'
        AND s.jobs < s.max_jobs
        AND CASE s.kind WHEN 'gpu' THEN s.gpu_jobs < s.max_gpu_jobs ELSE s.cpu_jobs < s.max_cpu_jobs END) AS eligible
  FROM (
    SELECT e.worker_id, e.encoder, e.codec, e.kind, e.family,
           CASE e.kind WHEN 'gpu' THEN 0 ELSE 1 END AS kind_rank,
           w.state AS worker_state, w.quarantined_until, w.speed_fps,
           w.max_jobs, w.max_gpu_jobs, w.max_cpu_jobs,
           (SELECT count(*) FROM jobs j
             WHERE j.worker_id = e.worker_id AND j.state IN ('pending', 'running')) AS jobs,
           (SELECT count(*) FROM jobs j
             WHERE j.worker_id = e.worker_id AND j.state IN ('pending', 'running') AND j.kind = 'gpu') AS gpu_jobs,
           (SELECT count(*) FROM jobs j
             WHERE j.worker_id = e.worker_id AND j.state IN ('pending', 'running') AND j.kind = 'cpu') AS cpu_jobs
      FROM worker_encoders e
      JOIN workers w ON w.id = e.worker_id
  ) s;
--> statement-breakpoint
INSERT INTO `scheduler_slots` SELECT * FROM `scheduler_slot_source`;
--> statement-breakpoint
CREATE TRIGGER `scheduler_slots_job_insert` AFTER INSERT ON `jobs`
WHEN NEW.worker_id IS NOT NULL AND NEW.state IN ('pending', 'running')
BEGIN
  DELETE FROM scheduler_slots WHERE worker_id = NEW.worker_id;
  INSERT INTO scheduler_slots SELECT * FROM scheduler_slot_source WHERE worker_id = NEW.worker_id;
END;
--> statement-breakpoint
CREATE TRIGGER `scheduler_slots_job_update` AFTER UPDATE OF state, worker_id, kind ON `jobs`
WHEN (OLD.state IN ('pending', 'running')) <> (NEW.state IN ('pending', 'running'))
  OR OLD.worker_id IS NOT NEW.worker_id
  OR OLD.kind IS NOT NEW.kind
BEGIN
  DELETE FROM scheduler_slots WHERE worker_id IN (OLD.worker_id, NEW.worker_id);
  INSERT INTO scheduler_slots SELECT * FROM scheduler_slot_source WHERE worker_id IN (OLD.worker_id, NEW.worker_id);
END;
--> statement-breakpoint
CREATE TRIGGER `scheduler_slots_job_delete` AFTER DELETE ON `jobs`
WHEN OLD.worker_id IS NOT NULL AND OLD.state IN ('pending', 'running')
BEGIN
  DELETE FROM scheduler_slots WHERE worker_id = OLD.worker_id;
  INSERT INTO scheduler_slots SELECT * FROM scheduler_slot_source WHERE worker_id = OLD.worker_id;
END;
--> statement-breakpoint
CREATE TRIGGER `scheduler_slots_worker_update`
AFTER UPDATE OF state, max_jobs, max_gpu_jobs, max_cpu_jobs, speed_fps, quarantined_until ON `workers`
BEGIN
  DELETE FROM scheduler_slots WHERE worker_id IN (OLD.id, NEW.id);
  INSERT INTO scheduler_slots SELECT * FROM scheduler_slot_source WHERE worker_id IN (OLD.id, NEW.id);
END;
--> statement-breakpoint
CREATE TRIGGER `scheduler_slots_worker_delete` AFTER DELETE ON `workers`
BEGIN
  DELETE FROM scheduler_slots WHERE worker_id = OLD.id;
END;
--> statement-breakpoint
CREATE TRIGGER `scheduler_slots_encoder_insert` AFTER INSERT ON `worker_encoders`
BEGIN
  INSERT OR REPLACE INTO scheduler_slots
    SELECT * FROM scheduler_slot_source WHERE worker_id = NEW.worker_id AND encoder = NEW.encoder;
END;
--> statement-breakpoint
CREATE TRIGGER `scheduler_slots_encoder_update` AFTER UPDATE ON `worker_encoders`
BEGIN
  DELETE FROM scheduler_slots WHERE worker_id = OLD.worker_id AND encoder = OLD.encoder;
  INSERT OR REPLACE INTO scheduler_slots
    SELECT * FROM scheduler_slot_source WHERE worker_id = NEW.worker_id AND encoder = NEW.encoder;
END;
--> statement-breakpoint
CREATE TRIGGER `scheduler_slots_encoder_delete` AFTER DELETE ON `worker_encoders`
BEGIN
  DELETE FROM scheduler_slots WHERE worker_id = OLD.worker_id AND encoder = OLD.encoder;
END;
