-- 0015: the runs that have not ended, of every job, for the sweep for
-- lost runs (jobs.Store.LiveRuns): a partial index, so that the sweep
-- reads only them however long the history grows.
CREATE INDEX job_runs_live ON job_runs (state) WHERE state IN ('claimed', 'running');
