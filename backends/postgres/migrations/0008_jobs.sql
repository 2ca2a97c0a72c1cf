-- 0008: the scheduled jobs (jobs.Store): the jobs, and their runs — one
-- row per claimed scheduled time.

-- One row per job. job is the job's JSON (jobs.Job.MarshalJSON) without
-- its version, which is the column.
CREATE TABLE mgmt_jobs (
    name    text   PRIMARY KEY,
    version bigint NOT NULL CHECK (version > 0),
    job     text   NOT NULL
);

-- One row per run: the claim of one scheduled time of one job. The unique
-- (job, key) is what runs each scheduled time at most once across the
-- hosts sharing the database. Times are Unix nanoseconds, as the clock
-- gave them (NULL: not yet). Runs outlive their job, as its history.
CREATE TABLE mgmt_job_runs (
    id             text        PRIMARY KEY,
    job            text        NOT NULL,
    key            text        NOT NULL,
    scheduled_at   bigint      NOT NULL,
    holder         text        NOT NULL,
    state          text        NOT NULL,
    attempts       integer     NOT NULL,
    started_at     bigint,
    finished_at    bigint,
    exit_code      integer     NOT NULL,
    reason         text        NOT NULL,
    estimate_cents bigint      NOT NULL,
    cost_cents     bigint      NOT NULL,
    cost_recorded  boolean     NOT NULL,
    outputs        jsonb       NOT NULL, -- a JSON array of names
    CONSTRAINT mgmt_job_runs_job_key UNIQUE (job, key)
);

CREATE INDEX mgmt_job_runs_by_time ON mgmt_job_runs (job, scheduled_at DESC, id);
