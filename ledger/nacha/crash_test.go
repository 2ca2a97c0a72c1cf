package nacha_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/nacha"
)

// crashingSink fails its nth Put, before or after writing the file: a
// crash of the process at that point.
type crashingSink struct {
	*nacha.DirSink
	n          int
	afterWrite bool
	puts       int
}

var errCrash = errors.New("crash")

func (c *crashingSink) Put(ctx context.Context, name string, data []byte) error {
	c.puts++
	if c.puts != c.n {
		return c.DirSink.Put(ctx, name, data)
	}
	if c.afterWrite {
		if err := c.DirSink.Put(ctx, name, data); err != nil {
			return err
		}
	}
	return errCrash
}

// files returns the sink's files by name.
func files(t *testing.T, sink nacha.FileSink) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	names, err := sink.List(ctx)
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, n := range names {
		out[n], err = sink.Get(ctx, n)
		require.NoError(t, err)
	}
	return out
}

func TestCrashSafety(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		n          int
		afterWrite bool
	}{
		{"before the first file", 1, false},
		{"after the first file", 1, true},
		{"before the second file", 2, false},
		{"after the second file", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.transfer(t,
				ledger.Transfer{ID: 11, DebitAccountID: treasury, CreditAccountID: gpo, Amount: 250_000_00},
				ledger.Transfer{ID: 12, DebitAccountID: nps, CreditAccountID: interior, Amount: 12_34},
			)
			// A first settlement, so that trace numbers continue from it.
			f.settle(t)
			f.transfer(t,
				ledger.Transfer{ID: 13, DebitAccountID: treasury, CreditAccountID: nps, Amount: 1_00},
				ledger.Transfer{ID: 14, DebitAccountID: nps, CreditAccountID: gpo, Amount: 2_00},
				ledger.Transfer{ID: 15, DebitAccountID: interior, CreditAccountID: gpo, Amount: 3_00},
			)
			cutoff := f.clk.Now()
			f.clk.Add(time.Minute)

			// The reference: the same settlement where nothing crashes.
			refSink, err := nacha.NewDirSink(t.TempDir())
			require.NoError(t, err)
			for name, data := range files(t, f.sink) {
				require.NoError(t, refSink.Put(f.ctx, name, data))
			}
			ref, err := f.settler(t, refSink).Settle(f.ctx, cutoff)
			require.NoError(t, err)
			require.Len(t, ref.Created, 2)

			crashing := &crashingSink{DirSink: f.sink, n: tc.n, afterWrite: tc.afterWrite}
			_, err = f.settler(t, crashing).Settle(f.ctx, cutoff)
			require.ErrorIs(t, err, errCrash)

			// The restarted process settles again at the same cutoff.
			again, err := f.settler(t, f.sink).Settle(f.ctx, cutoff)
			require.NoError(t, err)
			written := tc.n - 1
			if tc.afterWrite {
				written++
			}
			assert.Len(t, again.Created, 2-written)
			assert.Equal(t, ref.Files, again.Files)
			assert.Equal(t, files(t, refSink), files(t, f.sink), "byte-identical files")

			// And once more: nothing new.
			again, err = f.settler(t, f.sink).Settle(f.ctx, cutoff)
			require.NoError(t, err)
			assert.Empty(t, again.Created)
			assert.Equal(t, ref.Files, again.Files)
		})
	}
}

func TestSettleIsIdempotent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.transfer(t, ledger.Transfer{ID: 11, DebitAccountID: treasury, CreditAccountID: gpo, Amount: 1_00})
	cutoff := f.clk.Now()
	f.clk.Add(time.Minute)
	first, err := f.s.Settle(f.ctx, cutoff)
	require.NoError(t, err)
	before := files(t, f.sink)
	f.transfer(t, ledger.Transfer{ID: 12, DebitAccountID: treasury, CreditAccountID: gpo, Amount: 2_00}) // after the cutoff
	second, err := f.s.Settle(f.ctx, cutoff)
	require.NoError(t, err)
	assert.Empty(t, second.Created)
	assert.Equal(t, first.Files, second.Files)
	assert.Equal(t, before, files(t, f.sink))
}

func TestRestartContinuesTraceNumbers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.transfer(t, ledger.Transfer{ID: 11, DebitAccountID: treasury, CreditAccountID: gpo, Amount: 1_00})
	first := f.settle(t)
	f.transfer(t, ledger.Transfer{ID: 12, DebitAccountID: treasury, CreditAccountID: gpo, Amount: 2_00})
	f.s = f.settler(t, f.sink) // a new process
	second := f.settle(t)
	require.Len(t, second.Files, 1)
	assert.Equal(t, "021000020000002", first.Files[0].LastTrace)
	assert.Equal(t, "021000020000003", second.Files[0].FirstTrace)
	assert.Equal(t, []uint64{12}, second.Files[0].Transfers)
}

func TestCorruptStateStops(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.transfer(t, ledger.Transfer{ID: 11, DebitAccountID: treasury, CreditAccountID: gpo, Amount: 1_00})
	res := f.settle(t)
	data, err := f.s.File(f.ctx, res.Files[0].Name)
	require.NoError(t, err)
	// The same entries again under another name: paying twice is refused.
	copyName := "20261120T100000.000000000Z-021000021-01.ach"
	require.NoError(t, os.WriteFile(filepath.Join(f.sink.Dir(), copyName), data, 0o600))
	_, err = f.settler(t, f.sink).Files(f.ctx)
	assert.Equal(t, mgmt.KindInternal, mgmt.KindOf(err))
	assert.ErrorContains(t, err, copyName)
}

func TestDirSink(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	sink, err := nacha.NewDirSink(filepath.Join(dir, "settlement"))
	require.NoError(t, err)
	const name = "20261120T090000.000000000Z-021000021-01.ach"
	require.NoError(t, sink.Put(ctx, name, []byte("one")))
	require.NoError(t, sink.Put(ctx, name, []byte("one")), "the same bytes again")
	err = sink.Put(ctx, name, []byte("two"))
	assert.Equal(t, mgmt.KindConflict, mgmt.KindOf(err))
	got, err := sink.Get(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, []byte("one"), got)
	st, err := os.Stat(filepath.Join(sink.Dir(), name))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	// Leftovers of a crash and foreign files are not listed.
	require.NoError(t, os.WriteFile(filepath.Join(sink.Dir(), "."+name+".tmp-123"), []byte("half"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(sink.Dir(), "notes.txt"), nil, 0o600))
	names, err := sink.List(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{name}, names)

	_, err = sink.Get(ctx, "20261120T090000.000000000Z-021000021-02.ach")
	assert.Equal(t, mgmt.KindNotFound, mgmt.KindOf(err))
	for _, bad := range []string{"", "../x.ach", "a/b.ach", ".hidden.ach", "x.txt"} {
		assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(sink.Put(ctx, bad, nil)), bad)
		_, err := sink.Get(ctx, bad)
		assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(err), bad)
	}
	_, err = nacha.NewDirSink("")
	assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(err))
}
