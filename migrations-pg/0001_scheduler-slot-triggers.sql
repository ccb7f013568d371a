-- Keeps scheduler_slots equal to scheduler_slot_source (computed from the jobs table) in
-- the same transaction as every write that could change it, like the SQLite triggers
-- (migrations/0002_scheduler-slot-triggers.sql): each rebuilds the affected worker's rows
-- from scratch, so there is no counter that can drift.
--
-- Concurrent writers: under READ COMMITTED two transactions rebuilding one worker's rows
-- would each delete what they see and insert what they see, and could lose or duplicate
-- rows. scheduler_slots_rebuild therefore takes a transaction-scoped advisory lock per
-- worker first: the second rebuild waits until the first commits, and its DELETE and
-- INSERT (each a new snapshot under READ COMMITTED) then see the first one's rows.
-- Triggers that touch two workers lock them in id order, so two of them cannot deadlock.
CREATE VIEW "scheduler_slot_source" AS
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
           (SELECT count(*)::int FROM jobs j
             WHERE j.worker_id = e.worker_id AND j.state IN ('pending', 'running')) AS jobs,
           (SELECT count(*)::int FROM jobs j
             WHERE j.worker_id = e.worker_id AND j.state IN ('pending', 'running') AND j.kind = 'gpu') AS gpu_jobs,
           (SELECT count(*)::int FROM jobs j
             WHERE j.worker_id = e.worker_id AND j.state IN ('pending', 'running') AND j.kind = 'cpu') AS cpu_jobs
      FROM worker_encoders e
      JOIN workers w ON w.id = e.worker_id
  ) s;
--> statement-breakpoint
CREATE FUNCTION scheduler_slots_rebuild(wid text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF wid IS NULL THEN
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('tvarr.scheduler_slots:' || wid, 0));
  DELETE FROM scheduler_slots WHERE worker_id = wid;
  INSERT INTO scheduler_slots (worker_id, encoder, codec, kind, family, kind_rank, worker_state, quarantined_until,
                               speed_fps, max_jobs, max_gpu_jobs, max_cpu_jobs, jobs, gpu_jobs, cpu_jobs, load_ratio, eligible)
    SELECT worker_id, encoder, codec, kind, family, kind_rank, worker_state, quarantined_until,
           speed_fps, max_jobs, max_gpu_jobs, max_cpu_jobs, jobs, gpu_jobs, cpu_jobs, load_ratio, eligible
      FROM scheduler_slot_source WHERE worker_id = wid;
END $$;
--> statement-breakpoint
CREATE FUNCTION scheduler_slots_rebuild_two(a text, b text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF a IS NOT DISTINCT FROM b THEN
    PERFORM scheduler_slots_rebuild(a);
  ELSIF a IS NULL OR b IS NULL THEN
    PERFORM scheduler_slots_rebuild(coalesce(a, b));
  ELSIF a COLLATE "C" < b COLLATE "C" THEN
    PERFORM scheduler_slots_rebuild(a);
    PERFORM scheduler_slots_rebuild(b);
  ELSE
    PERFORM scheduler_slots_rebuild(b);
    PERFORM scheduler_slots_rebuild(a);
  END IF;
END $$;
--> statement-breakpoint
INSERT INTO scheduler_slots SELECT * FROM scheduler_slot_source;
--> statement-breakpoint
CREATE FUNCTION scheduler_slots_on_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.state IN ('pending', 'running') THEN PERFORM scheduler_slots_rebuild(NEW.worker_id); END IF;
    RETURN NULL;
  ELSIF TG_OP = 'DELETE' THEN
    IF OLD.state IN ('pending', 'running') THEN PERFORM scheduler_slots_rebuild(OLD.worker_id); END IF;
    RETURN NULL;
  END IF;
  IF (OLD.state IN ('pending', 'running')) <> (NEW.state IN ('pending', 'running'))
     OR OLD.worker_id IS DISTINCT FROM NEW.worker_id
     OR OLD.kind IS DISTINCT FROM NEW.kind THEN
    PERFORM scheduler_slots_rebuild_two(OLD.worker_id, NEW.worker_id);
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER scheduler_slots_job AFTER INSERT OR DELETE OR UPDATE OF state, worker_id, kind ON jobs
  FOR EACH ROW EXECUTE FUNCTION scheduler_slots_on_job();
--> statement-breakpoint
CREATE FUNCTION scheduler_slots_on_worker() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_advisory_xact_lock(hashtextextended('tvarr.scheduler_slots:' || OLD.id, 0));
    DELETE FROM scheduler_slots WHERE worker_id = OLD.id;
    RETURN NULL;
  END IF;
  IF (OLD.state, OLD.max_jobs, OLD.max_gpu_jobs, OLD.max_cpu_jobs, OLD.speed_fps, OLD.quarantined_until)
     IS DISTINCT FROM (NEW.state, NEW.max_jobs, NEW.max_gpu_jobs, NEW.max_cpu_jobs, NEW.speed_fps, NEW.quarantined_until)
     OR OLD.id IS DISTINCT FROM NEW.id THEN
    PERFORM scheduler_slots_rebuild_two(OLD.id, NEW.id);
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER scheduler_slots_worker
  AFTER DELETE OR UPDATE OF id, state, max_jobs, max_gpu_jobs, max_cpu_jobs, speed_fps, quarantined_until ON workers
  FOR EACH ROW EXECUTE FUNCTION scheduler_slots_on_worker();
--> statement-breakpoint
CREATE FUNCTION scheduler_slots_on_encoder() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM scheduler_slots_rebuild(NEW.worker_id);
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM scheduler_slots_rebuild(OLD.worker_id);
  ELSE
    PERFORM scheduler_slots_rebuild_two(OLD.worker_id, NEW.worker_id);
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER scheduler_slots_encoder AFTER INSERT OR UPDATE OR DELETE ON worker_encoders
  FOR EACH ROW EXECUTE FUNCTION scheduler_slots_on_encoder();
