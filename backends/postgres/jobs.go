package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/jobs"
)

// JobStore is a jobs.Store on PostgreSQL: the tables mgmt_jobs and
// mgmt_job_runs (migration 0008). Get one from (*Store).Jobs; it is safe
// for concurrent use, by every host of a deployment at once.
//
// A claim is one INSERT … ON CONFLICT DO NOTHING on the unique (job, key):
// of hosts claiming one scheduled time at once, exactly one inserts, and
// the others read its row in the same transaction (the conflict waits for
// the inserting transaction and then sees its committed row). An update
// of a job checks its version under SELECT … FOR UPDATE. A job is stored
// as its JSON and read back with jobs.DecodeJob (strict, validated).
type JobStore struct {
	s *Store
}

var _ jobs.Store = (*JobStore)(nil)

// Jobs returns the jobs.Store kept in s's database. It shares s's pool:
// s.Close closes it.
func (s *Store) Jobs() *JobStore { return &JobStore{s: s} }

func encodeJob(j jobs.Job) (string, error) {
	j.Version = 0
	b, err := json.Marshal(j)
	if err != nil {
		return "", mgmt.Errorf(mgmt.KindInternal, "", "postgres: encode job: %w", err)
	}
	return string(b), nil
}

func decodeJob(ctx context.Context, version int64, doc string) (jobs.Job, error) {
	j, err := jobs.DecodeJob(ctx, strings.NewReader(doc))
	if err != nil {
		return jobs.Job{}, mgmt.Errorf(mgmt.KindInternal, "", "postgres: a stored job does not decode: %w", err)
	}
	j.Version = version
	return j, nil
}

// CreateJob implements jobs.Store.
func (js *JobStore) CreateJob(ctx context.Context, j jobs.Job) (jobs.Job, error) {
	const op = "create job"
	if err := js.s.ready(ctx, op); err != nil {
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
	tag, err := js.s.pool.Exec(ctx, `INSERT INTO mgmt_jobs (name, version, job) VALUES ($1, 1, $2) ON CONFLICT (name) DO NOTHING`, j.Name, doc)
	if err != nil {
		return jobs.Job{}, js.fail(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return jobs.Job{}, mgmt.Conflict("name", "job %q already exists", j.Name)
	}
	return decodeJob(ctx, 1, doc)
}

// UpdateJob implements jobs.Store.
func (js *JobStore) UpdateJob(ctx context.Context, j jobs.Job) (jobs.Job, error) {
	const op = "update job"
	if err := js.s.ready(ctx, op); err != nil {
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
	err = js.write(ctx, op, func(tx pgx.Tx) error {
		var stored int64
		err := tx.QueryRow(ctx, `SELECT version FROM mgmt_jobs WHERE name = $1 FOR UPDATE`, j.Name).Scan(&stored)
		if errors.Is(err, pgx.ErrNoRows) {
			return mgmt.NotFound("name", "no job %q", j.Name)
		}
		if err != nil {
			return err
		}
		if j.Version != 0 && j.Version != stored {
			return jobs.StaleVersion(j.Name, j.Version, stored)
		}
		version = stored + 1
		_, err = tx.Exec(ctx, `UPDATE mgmt_jobs SET version = $1, job = $2 WHERE name = $3`, version, doc, j.Name)
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
	if err := js.s.ready(ctx, op); err != nil {
		return err
	}
	tag, err := js.s.pool.Exec(ctx, `DELETE FROM mgmt_jobs WHERE name = $1`, name)
	if err != nil {
		return js.fail(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return mgmt.NotFound("name", "no job %q", name)
	}
	return nil
}

// Job implements jobs.Store.
func (js *JobStore) Job(ctx context.Context, name string) (jobs.Job, error) {
	const op = "job"
	if err := js.s.ready(ctx, op); err != nil {
		return jobs.Job{}, err
	}
	var (
		version int64
		doc     string
	)
	err := js.s.pool.QueryRow(ctx, `SELECT version, job FROM mgmt_jobs WHERE name = $1`, name).Scan(&version, &doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return jobs.Job{}, mgmt.NotFound("name", "no job %q", name)
	}
	if err != nil {
		return jobs.Job{}, js.fail(ctx, op, err)
	}
	return decodeJob(ctx, version, doc)
}

// Jobs implements jobs.Store.
func (js *JobStore) Jobs(ctx context.Context) ([]jobs.Job, error) {
	const op = "jobs"
	if err := js.s.ready(ctx, op); err != nil {
		return nil, err
	}
	rows, err := js.s.pool.Query(ctx, `SELECT version, job FROM mgmt_jobs ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, js.fail(ctx, op, err)
	}
	defer rows.Close()
	out := []jobs.Job{}
	for rows.Next() {
		var (
			version int64
			doc     string
		)
		if err := rows.Scan(&version, &doc); err != nil {
			return nil, js.fail(ctx, op, err)
		}
		j, err := decodeJob(ctx, version, doc)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, js.fail(ctx, op, err)
	}
	return out, nil
}

const jobRunColumns = `id, job, key, scheduled_at, holder, state, attempts, started_at, finished_at,
exit_code, reason, estimate_cents, cost_cents, cost_recorded, outputs, heartbeat_at, cancel_reason`

func jobNanos(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

func jobTime(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}

// jobRunArgs are r's values in the order of jobRunColumns.
func jobRunArgs(r *jobs.Run) ([]any, error) {
	outputs := r.Outputs
	if outputs == nil {
		outputs = []string{}
	}
	b, err := json.Marshal(outputs)
	if err != nil {
		return nil, mgmt.Errorf(mgmt.KindInternal, "", "postgres: encode run outputs: %w", err)
	}
	return []any{r.ID, r.Job, r.Key, r.ScheduledAt.UnixNano(), r.Holder, string(r.State), r.Attempts,
		jobNanos(r.StartedAt), jobNanos(r.FinishedAt), r.ExitCode, r.Reason,
		int64(r.Estimate), int64(r.Cost), r.CostRecorded, string(b), jobNanos(r.HeartbeatAt), r.CancelReason}, nil
}

func scanJobRun(sc pgx.Row) (jobs.Run, error) {
	var (
		r                 jobs.Run
		scheduled         int64
		started, finished *int64
		heartbeat         *int64
		state             string
		outputs           []byte
		estimate, cost    int64
	)
	if err := sc.Scan(&r.ID, &r.Job, &r.Key, &scheduled, &r.Holder, &state, &r.Attempts, &started, &finished,
		&r.ExitCode, &r.Reason, &estimate, &cost, &r.CostRecorded, &outputs, &heartbeat, &r.CancelReason); err != nil {
		return jobs.Run{}, err
	}
	r.HeartbeatAt = jobTime(heartbeat)
	r.ScheduledAt = time.Unix(0, scheduled).UTC()
	r.State, r.StartedAt, r.FinishedAt = jobs.RunState(state), jobTime(started), jobTime(finished)
	r.Estimate, r.Cost = mgmt.Money(estimate), mgmt.Money(cost)
	if err := json.Unmarshal(outputs, &r.Outputs); err != nil {
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
	if err := js.s.ready(ctx, op); err != nil {
		return jobs.Run{}, false, err
	}
	if err := jobs.ValidateRun(&r); err != nil {
		return jobs.Run{}, false, err
	}
	args, err := jobRunArgs(&r)
	if err != nil {
		return jobs.Run{}, false, err
	}
	var (
		stored  jobs.Run
		claimed bool
	)
	err = js.write(ctx, op, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO mgmt_job_runs (`+jobRunColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, $16, $17) ON CONFLICT DO NOTHING`, args...)
		if err != nil {
			return err
		}
		claimed = tag.RowsAffected() == 1
		stored, err = scanJobRun(tx.QueryRow(ctx, `SELECT `+jobRunColumns+` FROM mgmt_job_runs WHERE job = $1 AND key = $2`, r.Job, r.Key))
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
	if err := js.s.ready(ctx, op); err != nil {
		return err
	}
	if err := jobs.ValidateRun(&r); err != nil {
		return err
	}
	args, err := jobRunArgs(&r)
	if err != nil {
		return err
	}
	tag, err := js.s.pool.Exec(ctx, `UPDATE mgmt_job_runs SET holder = $1, state = $2, attempts = $3, started_at = $4, finished_at = $5,
exit_code = $6, reason = $7, estimate_cents = $8, cost_cents = $9, cost_recorded = $10, outputs = $11::jsonb WHERE id = $12`,
		append(args[4:len(args)-2:len(args)-2], r.ID)...) // heartbeat_at and cancel_reason are Heartbeat's and RequestCancel's
	if err != nil {
		return js.fail(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return mgmt.NotFound("run.id", "no run %q", r.ID)
	}
	return nil
}

// Heartbeat implements jobs.Store.
func (js *JobStore) Heartbeat(ctx context.Context, holder string, ids []string, at time.Time) (map[string]string, error) {
	const op = "heartbeat runs"
	if err := js.s.ready(ctx, op); err != nil {
		return nil, err
	}
	cancel := map[string]string{}
	if len(ids) == 0 {
		return cancel, nil
	}
	rows, err := js.s.pool.Query(ctx, `UPDATE mgmt_job_runs SET heartbeat_at = $1
WHERE holder = $2 AND state IN ('claimed', 'running') AND id = ANY($3)
RETURNING id, cancel_reason`, at.UnixNano(), holder, ids)
	if err != nil {
		return nil, js.fail(ctx, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, reason string
		if err := rows.Scan(&id, &reason); err != nil {
			return nil, js.fail(ctx, op, err)
		}
		if reason != "" {
			cancel[id] = reason
		}
	}
	if err := rows.Err(); err != nil {
		return nil, js.fail(ctx, op, err)
	}
	return cancel, nil
}

// RequestCancel implements jobs.Store.
func (js *JobStore) RequestCancel(ctx context.Context, id, reason string) (bool, error) {
	const op = "request run cancel"
	if err := js.s.ready(ctx, op); err != nil {
		return false, err
	}
	if err := jobs.ValidateCancelReason(reason); err != nil {
		return false, err
	}
	tag, err := js.s.pool.Exec(ctx, `UPDATE mgmt_job_runs SET cancel_reason = $1
WHERE id = $2 AND state IN ('claimed', 'running') AND cancel_reason = ''`, reason, id)
	if err != nil {
		return false, js.fail(ctx, op, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Abandon implements jobs.Store.
func (js *JobStore) Abandon(ctx context.Context, id string, staleBefore, at time.Time, reason string) (bool, error) {
	const op = "abandon run"
	if err := js.s.ready(ctx, op); err != nil {
		return false, err
	}
	if err := mgmt.ValidateText("reason", reason, false); err != nil {
		return false, err
	}
	tag, err := js.s.pool.Exec(ctx, `UPDATE mgmt_job_runs SET state = 'failed', finished_at = $1, reason = $2
WHERE id = $3 AND state IN ('claimed', 'running') AND COALESCE(heartbeat_at, started_at, scheduled_at) < $4`,
		at.UnixNano(), reason, id, staleBefore.UnixNano())
	if err != nil {
		return false, js.fail(ctx, op, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Run implements jobs.Store.
func (js *JobStore) Run(ctx context.Context, id string) (jobs.Run, error) {
	const op = "run"
	if err := js.s.ready(ctx, op); err != nil {
		return jobs.Run{}, err
	}
	r, err := scanJobRun(js.s.pool.QueryRow(ctx, `SELECT `+jobRunColumns+` FROM mgmt_job_runs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return jobs.Run{}, mgmt.NotFound("run.id", "no run %q", id)
	}
	if err != nil {
		return jobs.Run{}, js.fail(ctx, op, err)
	}
	return r, nil
}

// Runs implements jobs.Store.
func (js *JobStore) Runs(ctx context.Context, f jobs.RunFilter) ([]jobs.Run, error) {
	const op = "runs"
	if err := js.s.ready(ctx, op); err != nil {
		return nil, err
	}
	if f.Job == "" {
		return nil, mgmt.Invalid("job", "is required")
	}
	var (
		q    strings.Builder
		args = []any{f.Job}
	)
	q.WriteString(`SELECT ` + jobRunColumns + ` FROM mgmt_job_runs WHERE job = $1`)
	if len(f.States) > 0 {
		states := make([]string, len(f.States))
		for i, s := range f.States {
			states[i] = string(s)
		}
		args = append(args, states)
		q.WriteString(` AND state = ANY ($2::text[])`)
	}
	q.WriteString(` ORDER BY scheduled_at DESC, id COLLATE "C"`)
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q.WriteString(` LIMIT $` + strconv.Itoa(len(args)))
	}
	return js.queryRuns(ctx, op, q.String(), args...)
}

// LiveRuns implements jobs.Store. The states are literals in the query,
// so that it reads the partial index mgmt_job_runs_live (migration 0011).
func (js *JobStore) LiveRuns(ctx context.Context) ([]jobs.Run, error) {
	const op = "live runs"
	if err := js.s.ready(ctx, op); err != nil {
		return nil, err
	}
	return js.queryRuns(ctx, op, `SELECT `+jobRunColumns+` FROM mgmt_job_runs
WHERE state IN ('claimed', 'running') ORDER BY scheduled_at DESC, id COLLATE "C"`)
}

// queryRuns returns the runs the query q selects (jobRunColumns).
func (js *JobStore) queryRuns(ctx context.Context, op, q string, args ...any) ([]jobs.Run, error) {
	rows, err := js.s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, js.fail(ctx, op, err)
	}
	defer rows.Close()
	var out []jobs.Run
	for rows.Next() {
		r, err := scanJobRun(rows)
		if err != nil {
			return nil, js.fail(ctx, op, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, js.fail(ctx, op, err)
	}
	return out, nil
}

// write runs f in a transaction and gives its error a kind.
func (js *JobStore) write(ctx context.Context, op string, f func(tx pgx.Tx) error) error {
	return js.fail(ctx, op, pgx.BeginFunc(ctx, js.s.pool, f))
}

// fail keeps the kind of an error that has one, makes a unique violation
// a conflict, and wraps anything else.
func (js *JobStore) fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var me *mgmt.Error
	if errors.As(err, &me) && ctx.Err() == nil {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return mgmt.Conflict("name", "postgres: %s: %w", op, err)
	}
	return wrap(ctx, op, err)
}
