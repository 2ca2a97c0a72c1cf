package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/jobs"
)

// JobStore is a jobs.Store in a SQLite database: the tables jobs and
// job_runs (migration 0011). Get one from (*Store).Jobs; it is safe for
// concurrent use, by every process that opens the file.
//
// Every write is one transaction (BEGIN IMMEDIATE) on the database's one
// write connection. A claim is an INSERT … ON CONFLICT DO NOTHING on the
// unique (job, key): of hosts claiming one scheduled time at once, one
// inserts and the others read its row. A job is stored as its JSON and
// read back with jobs.DecodeJob (strict, validated). Reads go to the read
// pool.
type JobStore struct {
	s *Store
}

var _ jobs.Store = (*JobStore)(nil)

// Jobs returns the jobs.Store kept in s's database. It shares s's
// connections: s.Close closes it.
func (s *Store) Jobs() *JobStore { return &JobStore{s: s} }

func encodeJob(j jobs.Job) (string, error) {
	j.Version = 0
	b, err := json.Marshal(j)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func decodeJob(ctx context.Context, version int64, doc string) (jobs.Job, error) {
	j, err := jobs.DecodeJob(ctx, strings.NewReader(doc))
	if err != nil {
		return jobs.Job{}, mgmt.Errorf(mgmt.KindInternal, "", "sqlite: a stored job does not decode: %w", err)
	}
	j.Version = version
	return j, nil
}

// CreateJob implements jobs.Store.
func (js *JobStore) CreateJob(ctx context.Context, j jobs.Job) (jobs.Job, error) {
	const op = "create job"
	if err := checkCtx(ctx, op); err != nil {
		return jobs.Job{}, err
	}
	j = j.Clone()
	if err := j.Validate(); err != nil {
		return jobs.Job{}, err
	}
	doc, err := encodeJob(j)
	if err != nil {
		return jobs.Job{}, err
	}
	err = js.s.write(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO jobs (name, version, job) VALUES (?, 1, ?) ON CONFLICT (name) DO NOTHING`, j.Name, doc)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return mgmt.Conflict("name", "job %q already exists", j.Name)
		}
		return nil
	})
	if err != nil {
		return jobs.Job{}, err
	}
	return decodeJob(ctx, 1, doc)
}

// UpdateJob implements jobs.Store.
func (js *JobStore) UpdateJob(ctx context.Context, j jobs.Job) (jobs.Job, error) {
	const op = "update job"
	if err := checkCtx(ctx, op); err != nil {
		return jobs.Job{}, err
	}
	j = j.Clone()
	if err := j.Validate(); err != nil {
		return jobs.Job{}, err
	}
	doc, err := encodeJob(j)
	if err != nil {
		return jobs.Job{}, err
	}
	var version int64
	err = js.s.write(ctx, op, func(tx *sql.Tx) error {
		var stored int64
		err := tx.QueryRowContext(ctx, `SELECT version FROM jobs WHERE name = ?`, j.Name).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return mgmt.NotFound("name", "no job %q", j.Name)
		}
		if err != nil {
			return err
		}
		if j.Version != 0 && j.Version != stored {
			return jobs.StaleVersion(j.Name, j.Version, stored)
		}
		version = stored + 1
		_, err = tx.ExecContext(ctx, `UPDATE jobs SET version = ?, job = ? WHERE name = ?`, version, doc, j.Name)
		return err
	})
	if err != nil {
		return jobs.Job{}, err
	}
	return decodeJob(ctx, version, doc)
}

// DeleteJob implements jobs.Store.
func (js *JobStore) DeleteJob(ctx context.Context, name string) error {
	const op = "delete job"
	if err := checkCtx(ctx, op); err != nil {
		return err
	}
	return js.s.write(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return mgmt.NotFound("name", "no job %q", name)
		}
		return nil
	})
}

// Job implements jobs.Store.
func (js *JobStore) Job(ctx context.Context, name string) (jobs.Job, error) {
	const op = "job"
	if err := checkCtx(ctx, op); err != nil {
		return jobs.Job{}, err
	}
	var (
		version int64
		doc     string
	)
	err := js.s.r.QueryRowContext(ctx, `SELECT version, job FROM jobs WHERE name = ?`, name).Scan(&version, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return jobs.Job{}, mgmt.NotFound("name", "no job %q", name)
	}
	if err != nil {
		return jobs.Job{}, js.s.fail(ctx, op, err)
	}
	return decodeJob(ctx, version, doc)
}

// Jobs implements jobs.Store.
func (js *JobStore) Jobs(ctx context.Context) ([]jobs.Job, error) {
	const op = "jobs"
	if err := checkCtx(ctx, op); err != nil {
		return nil, err
	}
	rows, err := js.s.r.QueryContext(ctx, `SELECT version, job FROM jobs ORDER BY name`)
	if err != nil {
		return nil, js.s.fail(ctx, op, err)
	}
	defer rows.Close()
	out := []jobs.Job{}
	for rows.Next() {
		var (
			version int64
			doc     string
		)
		if err := rows.Scan(&version, &doc); err != nil {
			return nil, js.s.fail(ctx, op, err)
		}
		j, err := decodeJob(ctx, version, doc)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, js.s.fail(ctx, op, err)
	}
	return out, nil
}

const runColumns = `id, job, key, scheduled_at, holder, state, attempts, started_at, finished_at,
exit_code, reason, estimate_cents, cost_cents, cost_recorded, outputs, heartbeat_at, cancel_reason`

func jobNanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func jobTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// runArgs are r's values in the order of runColumns.
func runArgs(r *jobs.Run) ([]any, error) {
	outputs := r.Outputs
	if outputs == nil {
		outputs = []string{}
	}
	b, err := json.Marshal(outputs)
	if err != nil {
		return nil, err
	}
	recorded := 0
	if r.CostRecorded {
		recorded = 1
	}
	return []any{r.ID, r.Job, r.Key, r.ScheduledAt.UnixNano(), r.Holder, string(r.State), r.Attempts,
		jobNanos(r.StartedAt), jobNanos(r.FinishedAt), r.ExitCode, r.Reason,
		int64(r.Estimate), int64(r.Cost), recorded, string(b), jobNanos(r.HeartbeatAt), r.CancelReason}, nil
}

func scanRun(sc interface{ Scan(dest ...any) error }) (jobs.Run, error) {
	var (
		r                 jobs.Run
		scheduled         int64
		started, finished sql.NullInt64
		heartbeat         sql.NullInt64
		state, outputs    string
		estimate, cost    int64
		recorded          int
	)
	if err := sc.Scan(&r.ID, &r.Job, &r.Key, &scheduled, &r.Holder, &state, &r.Attempts, &started, &finished,
		&r.ExitCode, &r.Reason, &estimate, &cost, &recorded, &outputs, &heartbeat, &r.CancelReason); err != nil {
		return jobs.Run{}, err
	}
	r.HeartbeatAt = jobTime(heartbeat)
	r.ScheduledAt = time.Unix(0, scheduled).UTC()
	r.State, r.StartedAt, r.FinishedAt = jobs.RunState(state), jobTime(started), jobTime(finished)
	r.Estimate, r.Cost, r.CostRecorded = mgmt.Money(estimate), mgmt.Money(cost), recorded == 1
	dec := json.NewDecoder(bytes.NewReader([]byte(outputs)))
	if err := dec.Decode(&r.Outputs); err != nil {
		return jobs.Run{}, err
	}
	if len(r.Outputs) == 0 {
		r.Outputs = nil
	}
	return r, nil
}

// Claim implements jobs.Store.
func (js *JobStore) Claim(ctx context.Context, r jobs.Run) (jobs.Run, bool, error) {
	const op = "claim run"
	if err := checkCtx(ctx, op); err != nil {
		return jobs.Run{}, false, err
	}
	if err := jobs.ValidateRun(&r); err != nil {
		return jobs.Run{}, false, err
	}
	args, err := runArgs(&r)
	if err != nil {
		return jobs.Run{}, false, err
	}
	var (
		stored  jobs.Run
		claimed bool
	)
	err = js.s.write(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO job_runs (`+runColumns+`)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		claimed = n == 1
		stored, err = scanRun(tx.QueryRowContext(ctx, `SELECT `+runColumns+` FROM job_runs WHERE job = ? AND key = ?`, r.Job, r.Key))
		return err
	})
	if err != nil {
		return jobs.Run{}, false, err
	}
	return stored, claimed, nil
}

// UpdateRun implements jobs.Store.
func (js *JobStore) UpdateRun(ctx context.Context, r jobs.Run) error {
	const op = "update run"
	if err := checkCtx(ctx, op); err != nil {
		return err
	}
	if err := jobs.ValidateRun(&r); err != nil {
		return err
	}
	args, err := runArgs(&r)
	if err != nil {
		return err
	}
	return js.s.write(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE job_runs SET holder = ?, state = ?, attempts = ?, started_at = ?, finished_at = ?,
exit_code = ?, reason = ?, estimate_cents = ?, cost_cents = ?, cost_recorded = ?, outputs = ? WHERE id = ?`,
			append(args[4:len(args)-2:len(args)-2], r.ID)...) // heartbeat_at and cancel_reason are Heartbeat's and RequestCancel's
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return mgmt.NotFound("run.id", "no run %q", r.ID)
		}
		return nil
	})
}

// Heartbeat implements jobs.Store.
func (js *JobStore) Heartbeat(ctx context.Context, holder string, ids []string, at time.Time) (map[string]string, error) {
	const op = "heartbeat runs"
	if err := checkCtx(ctx, op); err != nil {
		return nil, err
	}
	cancel := map[string]string{}
	if len(ids) == 0 {
		return cancel, nil
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	err = js.s.write(ctx, op, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE job_runs SET heartbeat_at = ?
WHERE holder = ? AND state IN ('claimed', 'running') AND id IN (SELECT value FROM json_each(?))
RETURNING id, cancel_reason`, at.UnixNano(), holder, string(b))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, reason string
			if err := rows.Scan(&id, &reason); err != nil {
				return err
			}
			if reason != "" {
				cancel[id] = reason
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return cancel, nil
}

// RequestCancel implements jobs.Store.
func (js *JobStore) RequestCancel(ctx context.Context, id, reason string) (bool, error) {
	const op = "request run cancel"
	if err := checkCtx(ctx, op); err != nil {
		return false, err
	}
	if err := jobs.ValidateCancelReason(reason); err != nil {
		return false, err
	}
	done := false
	err := js.s.write(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE job_runs SET cancel_reason = ?
WHERE id = ? AND state IN ('claimed', 'running') AND cancel_reason = ''`, reason, id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		done = n == 1
		return err
	})
	return done, err
}

// Abandon implements jobs.Store.
func (js *JobStore) Abandon(ctx context.Context, id string, staleBefore, at time.Time, reason string) (bool, error) {
	const op = "abandon run"
	if err := checkCtx(ctx, op); err != nil {
		return false, err
	}
	if err := mgmt.ValidateText("reason", reason, false); err != nil {
		return false, err
	}
	done := false
	err := js.s.write(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE job_runs SET state = 'failed', finished_at = ?, reason = ?
WHERE id = ? AND state IN ('claimed', 'running') AND COALESCE(heartbeat_at, started_at, scheduled_at) < ?`,
			at.UnixNano(), reason, id, staleBefore.UnixNano())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		done = n == 1
		return err
	})
	return done, err
}

// Run implements jobs.Store.
func (js *JobStore) Run(ctx context.Context, id string) (jobs.Run, error) {
	const op = "run"
	if err := checkCtx(ctx, op); err != nil {
		return jobs.Run{}, err
	}
	r, err := scanRun(js.s.r.QueryRowContext(ctx, `SELECT `+runColumns+` FROM job_runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return jobs.Run{}, mgmt.NotFound("run.id", "no run %q", id)
	}
	if err != nil {
		return jobs.Run{}, js.s.fail(ctx, op, err)
	}
	return r, nil
}

// LiveRuns implements jobs.Store. The states are literals in the query,
// so that it reads the partial index job_runs_live (migration 0015).
func (js *JobStore) LiveRuns(ctx context.Context) ([]jobs.Run, error) {
	const op = "live runs"
	if err := checkCtx(ctx, op); err != nil {
		return nil, err
	}
	return js.queryRuns(ctx, op, `SELECT `+runColumns+` FROM job_runs
WHERE state IN ('claimed', 'running') ORDER BY scheduled_at DESC, id`)
}

// Runs implements jobs.Store.
func (js *JobStore) Runs(ctx context.Context, f jobs.RunFilter) ([]jobs.Run, error) {
	const op = "runs"
	if err := checkCtx(ctx, op); err != nil {
		return nil, err
	}
	if f.Job == "" {
		return nil, mgmt.Invalid("job", "is required")
	}
	var (
		q    strings.Builder
		args = []any{f.Job}
	)
	q.WriteString(`SELECT ` + runColumns + ` FROM job_runs WHERE job = ?`)
	if len(f.States) > 0 {
		q.WriteString(` AND state IN (?` + strings.Repeat(", ?", len(f.States)-1) + `)`)
		for _, s := range f.States {
			args = append(args, string(s))
		}
	}
	q.WriteString(` ORDER BY scheduled_at DESC, id`)
	if f.Limit > 0 {
		q.WriteString(` LIMIT ?`)
		args = append(args, f.Limit)
	}
	return js.queryRuns(ctx, op, q.String(), args...)
}

// queryRuns returns the runs the query q selects (runColumns).
func (js *JobStore) queryRuns(ctx context.Context, op, q string, args ...any) ([]jobs.Run, error) {
	rows, err := js.s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, js.s.fail(ctx, op, err)
	}
	defer rows.Close()
	var out []jobs.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, js.s.fail(ctx, op, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, js.s.fail(ctx, op, err)
	}
	return out, nil
}
