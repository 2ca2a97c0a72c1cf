package auditlog_test

import (
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/auditlog"
)

func TestLogStats(t *testing.T) {
	t.Parallel()
	_, priv := newKey(t)
	store := &auditlog.Memory{}
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))
	l, err := auditlog.New(t.Context(), auditlog.Options{Store: store, Key: priv, CheckpointEvery: 4, Clock: clk, Logger: quiet})
	require.NoError(t, err)
	assert.Equal(t, auditlog.Stats{}, l.Stats(), "an empty chain")
	for i := range 5 {
		l.Audit(t.Context(), event(clk, i))
		require.NoError(t, l.Flush(t.Context()))
	}
	st := l.Stats()
	assert.Equal(t, uint64(5), st.Length)
	assert.Equal(t, uint64(5), st.Stored)
	assert.Equal(t, uint64(4), st.CheckpointSeq, "every 4 entries")
	assert.True(t, st.CheckpointAt.Equal(clk.Now()))
	require.NoError(t, l.Close(t.Context()))
	assert.Equal(t, uint64(5), l.Stats().CheckpointSeq, "Close signs the head")

	// A Log continuing the chain starts from what is stored.
	l2, err := auditlog.New(t.Context(), auditlog.Options{Store: store, Key: priv, Clock: clk, Logger: quiet})
	require.NoError(t, err)
	defer l2.Close(t.Context())
	st = l2.Stats()
	assert.Equal(t, uint64(5), st.Length)
	assert.Equal(t, uint64(5), st.CheckpointSeq)
	assert.Equal(t, uint64(0), st.Stored)
}
