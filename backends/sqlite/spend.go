package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
)

// An INSERT statement carries up to 1<<chunkBits (256) records: fewer,
// larger statements cost less (each copies the pages it changes to
// SQLite's statement journal first), and 6 × 256 parameters are well under
// SQLite's limit of 32,766. A batch is split into statements of 256
// records, then of the powers of two that make up the rest (128, 64 … 1):
// 9 prepared statements serve any batch, 1,000 records in 7 statements.
const chunkBits = 8

// recordCols is the number of parameters per record.
const recordCols = 6

// insertSQL returns the INSERT of n records. A record whose ID is stored
// is skipped: (at, id) is unique because id is.
func insertSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO records (id, service, labels, amount_cents, currency, at) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?)")
	}
	b.WriteString(" ON CONFLICT DO NOTHING")
	return b.String()
}

// AddSpend implements budget.Store: one transaction per batch, so a batch
// is stored whole or not at all, and durable once AddSpend returns.
func (s *Store) AddSpend(ctx context.Context, recs []budget.Record) (int, error) {
	if err := checkCtx(ctx, "add spend"); err != nil {
		return 0, err
	}
	if len(recs) == 0 {
		return 0, nil
	}
	// Encode before taking the write connection: concurrent batches
	// encode in parallel.
	args := make([]any, 0, recordCols*len(recs))
	var buf []byte
	for i := range recs {
		r := &recs[i]
		// Normalize has checked these; the schema relies on them.
		if y := r.At.UTC().Year(); y < 0 || y > 9999 {
			return 0, mgmt.Invalid(fmt.Sprintf("records[%d].at", i), "year %d is out of range", y)
		}
		if r.Amount < 0 {
			return 0, mgmt.Invalid(fmt.Sprintf("records[%d].amountUSD", i), "must be ≥ 0, got %s", r.Amount)
		}
		buf = appendLabels(buf[:0], r.Labels)
		args = append(args, r.ID, r.Service, string(buf), int64(r.Amount), r.Currency, timeKey(r.At))
	}

	added := 0
	err := s.write(ctx, "add spend", func(tx *sql.Tx) error {
		var stmts [chunkBits + 1]*sql.Stmt // s.insert, in tx
		for rest := len(recs); rest > 0; {
			bit := chunkBits
			for 1<<bit > rest {
				bit--
			}
			n := 1 << bit
			done := len(recs) - rest
			if stmts[bit] == nil {
				stmts[bit] = tx.StmtContext(ctx, s.insert[bit])
			}
			res, err := stmts[bit].ExecContext(ctx, args[done*recordCols:(done+n)*recordCols]...)
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			added += int(k)
			rest -= n
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}

// Spend implements budget.Store.
func (s *Store) Spend(ctx context.Context, f budget.SpendFilter) (mgmt.Money, error) {
	if err := checkCtx(ctx, "spend"); err != nil {
		return 0, err
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	from, to := boundKey(f.From), boundKey(f.To)
	var row *sql.Row
	if f.Service != "" {
		row = s.spendService.QueryRowContext(ctx, f.Service, from, to)
	} else {
		q, args := selectorQuery(f.Selector, from, to)
		row = s.r.QueryRowContext(ctx, q, args...)
	}
	var sum sql.NullInt64
	if err := row.Scan(&sum); err != nil {
		// SUM over integers fails rather than lose precision.
		if strings.Contains(err.Error(), "integer overflow") {
			return 0, fmt.Errorf("sqlite: spend of %s: %w", describe(f), mgmt.ErrOverflow)
		}
		return 0, s.fail(ctx, "spend of "+describe(f), err)
	}
	return mgmt.Money(sum.Int64), nil
}

func describe(f budget.SpendFilter) string {
	if f.Service != "" {
		return f.Service
	}
	return f.Selector.String()
}

// selectorQuery sums the records whose labels have every key of sel with
// its value. Each key is a JSON path parameter, `$."key"`: label keys
// hold only letters, digits, '-', '_' and '.', which a quoted path member
// takes as they are.
func selectorQuery(sel budget.Selector, from, to string) (string, []any) {
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the same query for the same keys
	var b strings.Builder
	b.WriteString("SELECT SUM(amount_cents) FROM records WHERE at >= ? AND at < ?")
	args := make([]any, 0, 2+2*len(keys))
	args = append(args, from, to)
	for _, k := range keys {
		b.WriteString(" AND json_extract(labels, ?) = ?")
		args = append(args, `$."`+k+`"`, sel[k])
	}
	return b.String(), args
}

// timeKey returns the records.at of t, whose UTC year is 0–9999: the UTC
// time as "2006-01-02T15:04:05.000000000Z", 30 bytes of fixed width, so
// that the text sorts as the times do. (It is what t.UTC().Format of that
// layout returns, in a tenth of the time.)
func timeKey(t time.Time) string {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	var b [30]byte
	put := func(at, width, v int) {
		for i := at + width - 1; i >= at; i-- {
			b[i] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, 4, year)
	b[4] = '-'
	put(5, 2, int(month))
	b[7] = '-'
	put(8, 2, day)
	b[10] = 'T'
	put(11, 2, hour)
	b[13] = ':'
	put(14, 2, minute)
	b[16] = ':'
	put(17, 2, sec)
	b[19] = '.'
	put(20, 9, t.Nanosecond())
	b[29] = 'Z'
	return string(b[:])
}

var (
	minKeyTime = time.Date(0, time.January, 1, 0, 0, 0, 0, time.UTC)
	maxKeyTime = time.Date(10000, time.January, 1, 0, 0, 0, 0, time.UTC)
)

// boundKey returns the key to compare records.at with for a bound t of a
// window, any time: before year 0 it is below every key, from year 10000
// on above every key.
func boundKey(t time.Time) string {
	switch {
	case t.Before(minKeyTime):
		return ""
	case !t.Before(maxKeyTime):
		return "~" // above the digits
	}
	return timeKey(t)
}

// appendLabels appends l as a JSON object with sorted keys. Strings are
// written as they are but for '"', '\\' and control characters, which are
// escaped: json_extract returns each value byte for byte, even where it is
// not UTF-8 (which encoding/json would replace).
func appendLabels(b []byte, l mgmt.Labels) []byte {
	var arr [8]string
	keys := arr[:0]
	for k := range l {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, l[k])
	}
	return append(b, '}')
}

func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
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
