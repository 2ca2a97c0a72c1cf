-- 0013: a stop asked of a run's holder by another host (jobs.Run.CancelReason;
-- '': none), set by the concurrency policy Replace on a host that cannot
-- reach the run's process: the holder reads it at its next heartbeat and
-- cancels the run.
ALTER TABLE job_runs ADD COLUMN cancel_reason TEXT NOT NULL DEFAULT '';
