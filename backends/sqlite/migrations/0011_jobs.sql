-- 0011: the scheduled jobs (jobs.Store): the jobs, and their runs — one
-- row per claimed scheduled time.

-- One row per job. job is the job's JSON (jobs.Job.MarshalJSON), whose
-- version is the column.
CREATE TABLE jobs (
    name    TEXT    PRIMARY KEY,
    version INTEGER NOT NULL CHECK (version > 0),
    job     TEXT    NOT NULL
) STRICT, WITHOUT ROWID;

-- One row per run: the claim of one scheduled time of one job. The unique
-- (job, key) is what runs each scheduled time at most once across the
-- hosts sharing the file. Times are Unix nanoseconds (NULL: not yet).
-- Runs outlive their job, as its history.
CREATE TABLE job_runs (
    id             TEXT    PRIMARY KEY,
    job            TEXT    NOT NULL,
    key            TEXT    NOT NULL,
    scheduled_at   INTEGER NOT NULL,
    holder         TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    attempts       INTEGER NOT NULL,
    started_at     INTEGER,
    finished_at    INTEGER,
    exit_code      INTEGER NOT NULL,
    reason         TEXT    NOT NULL,
    estimate_cents INTEGER NOT NULL,
    cost_cents     INTEGER NOT NULL,
    cost_recorded  INTEGER NOT NULL CHECK (cost_recorded IN (0, 1)),
    outputs        TEXT    NOT NULL, -- a JSON array of names
    UNIQUE (job, key)
) STRICT, WITHOUT ROWID;

CREATE INDEX job_runs_by_time ON job_runs (job, scheduled_at DESC, id);
