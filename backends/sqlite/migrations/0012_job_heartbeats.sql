-- 0012: a run's heartbeat (jobs.Run.HeartbeatAt, Unix nanoseconds; NULL:
-- never marked): its holder marks the runs it holds alive at every tick,
-- and a run not marked for a while is abandoned by another host (its
-- holder died).
ALTER TABLE job_runs ADD COLUMN heartbeat_at INTEGER;
