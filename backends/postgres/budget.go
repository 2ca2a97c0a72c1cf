package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
)

var _ budget.Store = (*Store)(nil)

// PutCap implements budget.Store.
func (s *Store) PutCap(ctx context.Context, c budget.Cap) error {
	if err := s.ready(ctx, "put cap"); err != nil {
		return err
	}
	if c.ID == "" {
		return mgmt.Invalid("id", "is required")
	}
	body, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("postgres: put cap %q: %w", c.ID, err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO budget_caps (id, body) VALUES ($1, $2)
ON CONFLICT (id) DO UPDATE SET body = excluded.body`, c.ID, body)
	return wrap(ctx, "put cap", err)
}

// Cap implements budget.Store.
func (s *Store) Cap(ctx context.Context, id string) (budget.Cap, error) {
	if err := s.ready(ctx, "cap"); err != nil {
		return budget.Cap{}, err
	}
	var body []byte
	err := s.pool.QueryRow(ctx, `SELECT body FROM budget_caps WHERE id = $1`, id).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return budget.Cap{}, mgmt.NotFound("id", "no cap %q", id)
	}
	if err != nil {
		return budget.Cap{}, wrap(ctx, "cap", err)
	}
	return decodeCap(id, body)
}

func decodeCap(id string, body []byte) (budget.Cap, error) {
	var c budget.Cap
	if err := json.Unmarshal(body, &c); err != nil {
		return budget.Cap{}, errorf("cap %q: the stored JSON does not decode: %w", id, err)
	}
	return c, nil
}

// Caps implements budget.Store. The order is by ID, byte by byte, whatever
// the database's collation.
func (s *Store) Caps(ctx context.Context) ([]budget.Cap, error) {
	if err := s.ready(ctx, "caps"); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT id, body FROM budget_caps ORDER BY id COLLATE "C"`)
	if err != nil {
		return nil, wrap(ctx, "caps", err)
	}
	defer rows.Close()
	out := []budget.Cap{}
	var id string
	var body []byte
	for rows.Next() {
		if err := rows.Scan(&id, &body); err != nil {
			return nil, wrap(ctx, "caps", err)
		}
		c, err := decodeCap(id, body)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, "caps", err)
	}
	return out, nil
}

// DeleteCap implements budget.Store: one statement removes the cap and its
// alerts.
func (s *Store) DeleteCap(ctx context.Context, id string) error {
	if err := s.ready(ctx, "delete cap"); err != nil {
		return err
	}
	var n int
	err := s.pool.QueryRow(ctx, `WITH c AS (DELETE FROM budget_caps WHERE id = $1 RETURNING id),
a AS (DELETE FROM budget_alerts WHERE cap_id IN (SELECT id FROM c))
SELECT count(*) FROM c`, id).Scan(&n)
	if err != nil {
		return wrap(ctx, "delete cap", err)
	}
	if n == 0 {
		return mgmt.NotFound("id", "no cap %q", id)
	}
	return nil
}

// insertSpendSQL adds a batch in one statement, whatever its size; ON
// CONFLICT skips IDs already stored (and repeats within the batch).
const insertSpendSQL = `INSERT INTO budget_spend (id, service, labels, amount_cents, currency, at, at_ns)
SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::bigint[], $5::text[], $6::timestamptz[], $7::smallint[])
ON CONFLICT (id) DO NOTHING`

// AddSpend implements budget.Store.
//
// The batch is inserted in ID order (stable: of records repeated within
// the batch, the first wins, as in budget.Memory): concurrent batches
// sharing IDs then take their row locks in the same order and cannot
// deadlock each other.
// A deadlock or serialization failure all the same (another writer's
// order) is retried a few times.
func (s *Store) AddSpend(ctx context.Context, recs []budget.Record) (int, error) {
	if err := s.ready(ctx, "add spend"); err != nil {
		return 0, err
	}
	if len(recs) == 0 {
		return 0, nil
	}
	n := len(recs)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(recs[a].ID, recs[b].ID) })
	var (
		ids      = make([]string, n)
		services = make([]string, n)
		labels   = make([][]byte, n)
		amounts  = make([]int64, n)
		currency = make([]string, n)
		ats      = make([]time.Time, n)
		atNS     = make([]int16, n)
	)
	// The labels' JSON goes into one buffer; ends[k] is where record k's ends.
	var buf []byte
	ends := make([]int, n)
	for k, i := range order {
		r := &recs[i]
		if r.Amount < 0 {
			return 0, mgmt.Invalid(fmt.Sprintf("records[%d].amountUSD", i), "must be ≥ 0, got %s", r.Amount)
		}
		var err error
		if buf, err = appendLabels(buf, r.Labels); err != nil {
			return 0, mgmt.Invalid(fmt.Sprintf("records[%d].labels", i), "%v", err)
		}
		ends[k] = len(buf)
		ids[k], services[k], amounts[k], currency[k] = r.ID, r.Service, int64(r.Amount), r.Currency
		ats[k], atNS[k] = split(r.At)
	}
	start := 0
	for k, end := range ends {
		labels[k], start = buf[start:end:end], end
	}
	args := []any{ids, services, labels, amounts, currency, ats, atNS}
	for attempt := 1; ; attempt++ {
		added, err := s.insertSpend(ctx, args)
		if err == nil || attempt == maxAttempts || !retryable(err) || ctx.Err() != nil {
			return added, err
		}
	}
}

// maxAttempts bounds the tries of a transaction that failed on a deadlock
// or a serialization failure.
const maxAttempts = 5

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// insertSpend runs insertSpendSQL in a transaction. Past ctx's end nothing
// may be stored, yet the end can come at any moment: the INSERT runs under
// ctx, and COMMIT, once sent, is not interrupted (commitTimeout bounds
// it), so that an error never hides a stored batch — short of the
// connection failing during COMMIT, which no client can tell apart.
func (s *Store) insertSpend(ctx context.Context, args []any) (int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, wrap(ctx, "add spend", err)
	}
	finish, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	tag, err := tx.Exec(ctx, insertSpendSQL, args...)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		_ = tx.Rollback(finish)
		return 0, wrap(ctx, "add spend", err)
	}
	if err := tx.Commit(finish); err != nil {
		return 0, wrap(finish, "add spend: commit", err)
	}
	return int(tag.RowsAffected()), nil
}

// commitTimeout bounds a COMMIT, which does not stop when the caller's
// context ends.
const commitTimeout = 30 * time.Second

// labelsJSON encodes labels as a JSON object; nil is {}.
func labelsJSON(l mgmt.Labels) ([]byte, error) {
	return appendLabels(nil, l)
}

// appendLabels appends labels as a JSON object (in map order: jsonb does
// not keep the order) to b. Invalid UTF-8 is refused: JSON would replace
// it and change the label.
func appendLabels(b []byte, l mgmt.Labels) ([]byte, error) {
	b = append(b, '{')
	first := true
	for k, v := range l {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, fmt.Errorf("label %q is not valid UTF-8", k)
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, v)
	}
	return append(b, '}'), nil
}

const hex = "0123456789abcdef"

// appendJSONString appends s, valid UTF-8, as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// split returns t truncated to the microsecond (timestamptz's precision)
// and the nanoseconds past it, so that times keep Go's precision.
func split(t time.Time) (time.Time, int16) {
	us := t.Truncate(time.Microsecond)
	return us, int16(t.Sub(us))
}

// join is split's inverse; the time is in UTC.
func join(us time.Time, ns int16) time.Time {
	return us.UTC().Add(time.Duration(ns))
}

// Filter bounds beyond these are ±infinity: timestamptz ends in 294276 AD.
var (
	minBound = time.Date(-4000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxBound = time.Date(100000, 1, 1, 0, 0, 0, 0, time.UTC)
)

func bound(t time.Time) (pgtype.Timestamptz, int16) {
	switch {
	case t.Before(minBound):
		return pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}, 0
	case t.After(maxBound):
		return pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true}, 0
	}
	us, ns := split(t)
	return pgtype.Timestamptz{Time: us, Valid: true}, ns
}

// The time condition is From ≤ At < To to the nanosecond: the microsecond
// part narrows the rows through the index, at_ns settles ties.
const spendWhen = ` AND at >= $2 AND at <= $4 AND (at > $2 OR at_ns >= $3) AND (at < $4 OR at_ns < $5)`

// sum(bigint) is numeric in PostgreSQL: it cannot overflow there, and its
// text is converted exactly.
const (
	spendByService  = `SELECT coalesce(sum(amount_cents), 0)::text FROM budget_spend WHERE service = $1` + spendWhen
	spendBySelector = `SELECT coalesce(sum(amount_cents), 0)::text FROM budget_spend WHERE labels @> $1::jsonb` + spendWhen
)

// Spend implements budget.Store.
func (s *Store) Spend(ctx context.Context, f budget.SpendFilter) (mgmt.Money, error) {
	if err := s.ready(ctx, "spend"); err != nil {
		return 0, err
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	from, fromNS := bound(f.From)
	to, toNS := bound(f.To)
	query, key, target := spendByService, any(f.Service), f.Service
	if f.Service == "" {
		sel, err := labelsJSON(mgmt.Labels(f.Selector))
		if err != nil {
			return 0, mgmt.Invalid("selector", "%v", err)
		}
		query, key, target = spendBySelector, sel, f.Selector.String()
	}
	var sum string
	if err := s.pool.QueryRow(ctx, query, key, from, fromNS, to, toNS).Scan(&sum); err != nil {
		return 0, wrap(ctx, "spend", err)
	}
	cents, err := strconv.ParseInt(sum, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, mgmt.Errorf(mgmt.KindInvalid, "", "postgres: the spend of %s from %s to %s is %s cents, beyond what mgmt.Money holds: %w",
			target, f.From.Format(time.RFC3339Nano), f.To.Format(time.RFC3339Nano), sum, mgmt.ErrOverflow)
	}
	if err != nil {
		return 0, errorf("spend: the sum %q is not an integer: %w", sum, err)
	}
	return mgmt.Money(cents), nil
}

// MarkAlert implements budget.Store.
func (s *Store) MarkAlert(ctx context.Context, a budget.Alert) (bool, error) {
	if err := s.ready(ctx, "mark alert"); err != nil {
		return false, err
	}
	at, ns := split(a.At)
	tag, err := s.pool.Exec(ctx, `INSERT INTO budget_alerts
(cap_id, period, forecast, percent, amount_cents, value_cents, at, at_ns, target)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (cap_id, period, forecast, percent) DO NOTHING`,
		a.CapID, a.Period, a.Threshold.Forecast, a.Threshold.Percent, int64(a.Amount), int64(a.Value), at, ns, a.Target)
	if err != nil {
		return false, wrap(ctx, "mark alert", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Alerts implements budget.Store. Times come back in UTC.
func (s *Store) Alerts(ctx context.Context, capID, period string) ([]budget.Alert, error) {
	if err := s.ready(ctx, "alerts"); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT forecast, percent, amount_cents, value_cents, at, at_ns, target
FROM budget_alerts WHERE cap_id = $1 AND period = $2 ORDER BY seq`, capID, period)
	if err != nil {
		return nil, wrap(ctx, "alerts", err)
	}
	defer rows.Close()
	var out []budget.Alert
	for rows.Next() {
		a := budget.Alert{CapID: capID, Period: period}
		var amount, value int64
		var at time.Time
		var ns int16
		if err := rows.Scan(&a.Threshold.Forecast, &a.Threshold.Percent, &amount, &value, &at, &ns, &a.Target); err != nil {
			return nil, wrap(ctx, "alerts", err)
		}
		a.Amount, a.Value, a.At = mgmt.Money(amount), mgmt.Money(value), join(at, ns)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, "alerts", err)
	}
	return out, nil
}
