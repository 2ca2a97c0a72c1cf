package logship_test

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/logship"
)

// TestNewID: 32 hex digits, the first 12 the milliseconds of the call
// (so that IDs sort by time), the rest random: 10,000 IDs made at once
// are distinct.
func TestNewID(t *testing.T) {
	t.Parallel()
	before := time.Now().UnixMilli()
	id := logship.NewID()
	after := time.Now().UnixMilli()
	require.Len(t, id, 32)
	b, err := hex.DecodeString(id)
	require.NoError(t, err)
	var ms int64
	for _, c := range b[:6] {
		ms = ms<<8 | int64(c)
	}
	assert.GreaterOrEqual(t, ms, before)
	assert.LessOrEqual(t, ms, after)
	seen := map[string]bool{}
	for range 10_000 {
		id := logship.NewID()
		require.False(t, seen[id], "a duplicate: %s", id)
		seen[id] = true
	}
}
