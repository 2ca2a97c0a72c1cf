package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
)

// PutCap implements budget.Store.
func (s *Store) PutCap(ctx context.Context, c budget.Cap) error {
	if err := checkCtx(ctx, "put cap"); err != nil {
		return err
	}
	if c.ID == "" {
		return mgmt.Invalid("id", "is required")
	}
	b, err := json.Marshal(c)
	if err != nil {
		return s.fail(ctx, "put cap "+c.ID, err)
	}
	if _, err := s.putCap.ExecContext(ctx, c.ID, string(b)); err != nil {
		return s.fail(ctx, "put cap "+c.ID, err)
	}
	return nil
}

// Cap implements budget.Store.
func (s *Store) Cap(ctx context.Context, id string) (budget.Cap, error) {
	if err := checkCtx(ctx, "cap"); err != nil {
		return budget.Cap{}, err
	}
	var b []byte
	err := s.r.QueryRowContext(ctx, `SELECT cap FROM caps WHERE id = ?`, id).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return budget.Cap{}, mgmt.NotFound("id", "no cap %q", id)
	}
	if err != nil {
		return budget.Cap{}, s.fail(ctx, "cap "+id, err)
	}
	return decodeCap(id, b)
}

// Caps implements budget.Store.
func (s *Store) Caps(ctx context.Context) ([]budget.Cap, error) {
	if err := checkCtx(ctx, "caps"); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, cap FROM caps ORDER BY id`) // BINARY: byte order
	if err != nil {
		return nil, s.fail(ctx, "caps", err)
	}
	defer rows.Close()
	var out []budget.Cap
	for rows.Next() {
		var (
			id string
			b  []byte
		)
		if err := rows.Scan(&id, &b); err != nil {
			return nil, s.fail(ctx, "caps", err)
		}
		c, err := decodeCap(id, b)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, "caps", err)
	}
	return out, nil
}

func decodeCap(id string, b []byte) (budget.Cap, error) {
	var c budget.Cap
	if err := json.Unmarshal(b, &c); err != nil {
		return budget.Cap{}, mgmt.Errorf(mgmt.KindInternal, "", "sqlite: cap %q is stored damaged: %w", id, err)
	}
	return c, nil
}

// DeleteCap implements budget.Store.
func (s *Store) DeleteCap(ctx context.Context, id string) error {
	if err := checkCtx(ctx, "delete cap"); err != nil {
		return err
	}
	err := s.write(ctx, "delete cap "+id, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM caps WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return mgmt.NotFound("id", "no cap %q", id)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM alerts WHERE cap_id = ?`, id)
		return err
	})
	return err
}

// MarkAlert implements budget.Store.
func (s *Store) MarkAlert(ctx context.Context, a budget.Alert) (bool, error) {
	if err := checkCtx(ctx, "mark alert"); err != nil {
		return false, err
	}
	res, err := s.markAlert.ExecContext(ctx, a.CapID, a.Period, a.Threshold.Forecast, a.Threshold.Percent,
		int64(a.Amount), int64(a.Value), a.At.Unix(), a.At.Nanosecond(), a.Target)
	if err != nil {
		return false, s.fail(ctx, "mark alert", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.fail(ctx, "mark alert", err)
	}
	return n == 1, nil
}

// Alerts implements budget.Store.
func (s *Store) Alerts(ctx context.Context, capID, period string) ([]budget.Alert, error) {
	if err := checkCtx(ctx, "alerts"); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT forecast, percent, amount_cents, value_cents, at_s, at_ns, target
FROM alerts WHERE cap_id = ? AND period = ? ORDER BY seq`, capID, period)
	if err != nil {
		return nil, s.fail(ctx, "alerts", err)
	}
	defer rows.Close()
	var out []budget.Alert
	for rows.Next() {
		a := budget.Alert{CapID: capID, Period: period}
		var sec, nsec int64
		if err := rows.Scan(&a.Threshold.Forecast, &a.Threshold.Percent, &a.Amount, &a.Value, &sec, &nsec, &a.Target); err != nil {
			return nil, s.fail(ctx, "alerts", err)
		}
		a.At = time.Unix(sec, nsec).UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, "alerts", err)
	}
	return out, nil
}

// write runs f in a transaction on the write connection and commits it,
// or rolls it back when f fails.
func (s *Store) write(ctx context.Context, op string, f func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.fail(ctx, op, err)
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return s.fail(ctx, op, err)
	}
	if err := tx.Commit(); err != nil {
		return s.fail(ctx, op, err)
	}
	return nil
}
