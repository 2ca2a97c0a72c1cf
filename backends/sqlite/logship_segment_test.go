package sqlite_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/logship"
)

func itemIDs(items []logship.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

// The outcomes of records in the middle of a batch: a partial ack, a
// retry and a dead letter each leave the other records of the batch
// queued, in order, with their own state, across a restart.
func TestLogQueueOutcomesWithinABatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	mock := clock.NewMock()
	opts := sqlite.LogQueueOptions{MaxRows: 100, MaxBytes: 1 << 20, Clock: mock}
	s, q := openLogQueue(t, path, opts)
	var rs []logship.Record
	for i := range 10 {
		rs = append(rs, logRec(fmt.Sprintf("r%d", i)))
	}
	rs[3].Attrs = nil
	rs[4].Kind = logship.KindAudit
	require.NoError(t, q.Enqueue(ctx, rs[:6]))
	require.NoError(t, q.Enqueue(ctx, rs[6:]))
	now := time.Unix(1700000000, 0)
	items, err := q.Next(ctx, 100, now)
	require.NoError(t, err)
	require.Equal(t, []string{"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9"}, itemIDs(items))
	assert.Equal(t, `{}`, string(items[3].Attrs))
	assert.Equal(t, logship.KindAudit, items[4].Kind)
	assert.Equal(t, rs[5].Time, items[5].Time)
	assert.Equal(t, rs[5].Message, items[5].Message)

	// The second batch acked whole, the first: r1 acked, r2 retried, r4
	// dead.
	later := now.Add(time.Minute)
	require.NoError(t, q.Settle(ctx, []string{"r1", "r6", "r7", "r8", "r9"},
		[]logship.Retry{{ID: "r2", NextAt: later, Reason: "429"}}, []logship.Dead{{ID: "r4", Reason: "400"}}))
	d, err := q.Depth(ctx)
	require.NoError(t, err)
	size := rs[0].Size()
	assert.Equal(t, logship.Depth{Rows: 4, Bytes: 3*size + rs[3].Size(), Dead: 1}, d)
	items, err = q.Next(ctx, 100, now)
	require.NoError(t, err)
	assert.Equal(t, []string{"r0", "r3", "r5"}, itemIDs(items))

	// A new batch goes after them; the retried record comes back in its
	// place when due, its attempt counted.
	require.NoError(t, q.Enqueue(ctx, []logship.Record{logRec("n0"), logRec("n1")}))
	require.NoError(t, s.Close())
	_, q = openLogQueue(t, path, opts)
	items, err = q.Next(ctx, 4, later)
	require.NoError(t, err)
	assert.Equal(t, []string{"r0", "r2", "r3", "r5"}, itemIDs(items))
	assert.Equal(t, 1, items[1].Attempts)
	require.NoError(t, q.Ack(ctx, []string{"r0", "r2", "r3", "r5", "n1"}))
	items, err = q.Next(ctx, 100, later)
	require.NoError(t, err)
	assert.Equal(t, []string{"n0"}, itemIDs(items))
	d, err = q.Depth(ctx)
	require.NoError(t, err)
	assert.Equal(t, logship.Depth{Rows: 1, Bytes: size, Dead: 1}, d)
	dls, err := q.DeadLetters(ctx, 10)
	require.NoError(t, err)
	require.Len(t, dls, 1)
	assert.Equal(t, "r4", dls[0].ID)
	assert.Equal(t, logship.KindAudit, dls[0].Kind)
	assert.Equal(t, "400", dls[0].Reason)
}

// A batch with IDs queued already, or twice in it, stores each ID once
// and counts only what it stores.
func TestLogQueueDuplicatesWithinABatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, q := openLogQueue(t, filepath.Join(t.TempDir(), "q.db"), sqlite.LogQueueOptions{MaxRows: 100, MaxBytes: 1 << 20})
	require.NoError(t, q.Enqueue(ctx, []logship.Record{logRec("a"), logRec("b")}))
	require.NoError(t, q.Enqueue(ctx, []logship.Record{logRec("a"), logRec("c"), logRec("c"), logRec("b"), logRec("d")}))
	items, err := q.Next(ctx, 100, time.Unix(1700000000, 0))
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c", "d"}, itemIDs(items))
	d, err := q.Depth(ctx)
	require.NoError(t, err)
	assert.Equal(t, logship.Depth{Rows: 4, Bytes: 4 * logRec("a").Size()}, d)
	require.NoError(t, q.Ack(ctx, []string{"c"}))
	items, err = q.Next(ctx, 100, time.Unix(1700000000, 0))
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "d"}, itemIDs(items))
	require.NoError(t, q.Ack(ctx, []string{"a", "b", "d"}))
	d, err = q.Depth(ctx)
	require.NoError(t, err)
	assert.Equal(t, logship.Depth{}, d)
}

// A database with records queued under migration 0006 keeps them through
// migration 0009: same order, attempts and due times, depth.
func TestLogQueueMigratesQueuedRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	names, err := filepath.Glob("migrations/*.sql")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT`)
	require.NoError(t, err)
	for v, name := range names[:7] { // 0001 … 0007
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, string(b))
		require.NoError(t, err, name)
		_, err = db.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, ?, '2026-01-01T00:00:00Z')`,
			v+1, strings.TrimSuffix(filepath.Base(name), ".sql"))
		require.NoError(t, err)
	}
	due := time.Unix(1700000100, 0)
	for i, id := range []string{"o0", "o1", "o2"} {
		r := logRec(id)
		attempts, next := 0, int64(0)
		if i == 1 {
			attempts, next = 2, due.UnixNano()
		}
		_, err = db.ExecContext(ctx, `INSERT INTO logship_queue (id, kind, at_ns, level, message, attrs, size, attempts, next_at_ns)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, string(r.Kind), r.Time.UnixNano(), r.Level, r.Message, string(r.Attrs), r.Size(), attempts, next)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	_, q := openLogQueue(t, path, sqlite.LogQueueOptions{MaxRows: 100, MaxBytes: 1 << 20})
	size := logRec("o0").Size()
	d, err := q.Depth(ctx)
	require.NoError(t, err)
	assert.Equal(t, logship.Depth{Rows: 3, Bytes: 3 * size}, d)
	require.NoError(t, q.Enqueue(ctx, []logship.Record{logRec("n0"), logRec("o0")}))
	items, err := q.Next(ctx, 100, time.Unix(1700000000, 0))
	require.NoError(t, err)
	assert.Equal(t, []string{"o0", "o2", "n0"}, itemIDs(items))
	assert.Equal(t, logRec("o0").Message, items[0].Message)
	items, err = q.Next(ctx, 100, due)
	require.NoError(t, err)
	assert.Equal(t, []string{"o0", "o1", "o2", "n0"}, itemIDs(items))
	assert.Equal(t, 2, items[1].Attempts)
	require.NoError(t, q.Ack(ctx, itemIDs(items)))
	d, err = q.Depth(ctx)
	require.NoError(t, err)
	assert.Equal(t, logship.Depth{}, d)
}

// IDs across generations: with generations of 2 IDs (both used in
// turn), an ID whose record is queued is not stored again, an ID acked
// is stored again, and acks by ID find records of either generation.
func TestLogQueueIDGenerations(t *testing.T) {
	defer sqlite.SetLogGenIDs(2)()
	ctx := context.Background()
	opts := sqlite.LogQueueOptions{MaxRows: 100, MaxBytes: 1 << 20}
	s, q := openLogQueue(t, filepath.Join(t.TempDir(), "q.db"), opts)
	gens := map[int]int{} // generation: Enqueue calls that left it current
	enq := func(ids ...string) {
		t.Helper()
		defer func() {
			var g int
			require.NoError(t, s.WriteDB().QueryRowContext(ctx, `SELECT gen FROM logship_state`).Scan(&g))
			gens[g]++
		}()
		var rs []logship.Record
		for _, id := range ids {
			rs = append(rs, logRec(id))
		}
		require.NoError(t, q.Enqueue(ctx, rs))
	}
	next := func() []string {
		t.Helper()
		items, err := q.Next(ctx, 100, time.Unix(1700000000, 0))
		require.NoError(t, err)
		return itemIDs(items)
	}
	enq("a", "b")
	enq("c", "d")
	require.NoError(t, q.Ack(ctx, []string{"a", "b"}))
	enq("e", "c") // c is queued
	require.NoError(t, q.Ack(ctx, []string{"c", "d"}))
	enq("a", "f") // a is stored again
	assert.Equal(t, []string{"e", "a", "f"}, next())
	require.NoError(t, q.Ack(ctx, []string{"e", "a", "f"}))
	enq("g", "h")
	enq("g", "i", "a")
	assert.Equal(t, []string{"g", "h", "i", "a"}, next())
	require.NoError(t, q.Ack(ctx, []string{"i"}))
	enq("j", "k")
	enq("h", "i") // h queued, i acked
	assert.Equal(t, []string{"g", "h", "a", "j", "k", "i"}, next())
	// Acks by IDs Next did not hand out, on a fresh queue handle.
	q2, err := s.LogQueue(opts)
	require.NoError(t, err)
	require.NoError(t, q2.Ack(ctx, []string{"g", "h", "a", "j", "k", "i", "nope"}))
	d, err := q2.Depth(ctx)
	require.NoError(t, err)
	assert.Equal(t, logship.Depth{}, d)
	assert.Empty(t, next())
	assert.Positive(t, gens[0])
	assert.Positive(t, gens[1])
}

// A segment is stored compressed (codec 1, an S2 block) when that is
// smaller, and as it is (codec 0, as every segment before migration 0014)
// when not; both read back. A compressed segment whose block claims more
// than the queue could hold is refused as undecodable, not allocated.
func TestLogQueueSegmentCodecs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	_, q := openLogQueue(t, path, sqlite.LogQueueOptions{MaxRows: 1000, MaxBytes: 1 << 20})
	var plain, noisy []logship.Record
	for i := range 50 {
		r := logRec(fmt.Sprintf("plain-%02d", i))
		r.Message = strings.Repeat("request served: GET /budget/accounts ", 10)
		plain = append(plain, r)
	}
	r := logRec("noisy")
	b := make([]byte, 3000)
	_, _ = rand.Read(b)
	r.Message = base64.StdEncoding.EncodeToString(b)
	noisy = append(noisy, r)
	require.NoError(t, q.Enqueue(ctx, plain))
	require.NoError(t, q.Enqueue(ctx, noisy))

	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	type seg struct{ seq, codec, stored, bytes int64 }
	var segs []seg
	rows, err := db.QueryContext(ctx, `SELECT seq, codec, length(data), bytes FROM logship_seg ORDER BY seq`)
	require.NoError(t, err)
	for rows.Next() {
		var s seg
		require.NoError(t, rows.Scan(&s.seq, &s.codec, &s.stored, &s.bytes))
		segs = append(segs, s)
	}
	require.NoError(t, rows.Err())
	require.Len(t, segs, 2)
	assert.Equal(t, int64(1), segs[0].codec, "the repetitive batch is compressed")
	assert.Less(t, segs[0].stored*5, segs[0].bytes, "to less than a fifth: %+v", segs[0])
	assert.Equal(t, int64(0), segs[1].codec, "random text does not compress: stored as it is")

	items, err := q.Next(ctx, 1000, time.Now())
	require.NoError(t, err)
	require.Len(t, items, 51)
	for i, it := range items {
		want := append(plain, noisy...)[i]
		assert.Equal(t, want.ID, it.ID)
		assert.Equal(t, want.Message, it.Message)
		assert.Equal(t, string(want.Attrs), string(it.Attrs))
	}

	// A block that claims 2^40 bytes.
	bomb := binary.AppendUvarint(nil, 1<<40)
	bomb = append(bomb, 0, 0, 0, 0)
	_, err = db.ExecContext(ctx, `UPDATE logship_seg SET data = ?, codec = 1 WHERE seq = ?`, bomb, segs[1].seq)
	require.NoError(t, err)
	_, q2 := openLogQueue(t, path, sqlite.LogQueueOptions{MaxRows: 1000, MaxBytes: 1 << 20})
	_, err = q2.Next(ctx, 1000, time.Now())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a segment does not decode")
}
