package sqlite_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/patch"
)

const patchCrashEnv = "SQLITE_PATCH_CRASH_TEST_DB"

// TestPatchCrashKeepsAcknowledgedUpdates kills a process that is
// recording acks (SIGKILL: no Close, no deferred code) and reopens its
// database: every Update that returned is there, and at most one more.
func TestPatchCrashKeepsAcknowledgedUpdates(t *testing.T) {
	if path := os.Getenv(patchCrashEnv); path != "" {
		patchCrashChild(t, path)
		return
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "mgmt.db")
	acked := killChildAfter(t, "TestPatchCrashKeepsAcknowledgedUpdates", patchCrashEnv, path, 50)

	s, err := sqlite.OpenPatches(t.Context(), sqlite.Options{Path: path})
	require.NoError(t, err)
	defer s.Close()
	r, err := s.Get(t.Context(), 1)
	require.NoError(t, err)
	t.Logf("%d updates acknowledged; %d acks stored", acked, len(r.Acks))
	assert.GreaterOrEqual(t, len(r.Acks), acked, "every acknowledged update is stored")
	assert.LessOrEqual(t, len(r.Acks), acked+1, "at most the update in flight more")
	assert.Equal(t, len(r.Acks), len(r.History)-2, "each update's ack and transition are stored together")
}

// patchCrashChild records acks of one patch, each with a transition,
// printing "ack N" after the Nth Update returns, until it is killed.
func patchCrashChild(t *testing.T, path string) {
	s, err := sqlite.OpenPatches(t.Context(), sqlite.Options{Path: path})
	require.NoError(t, err)
	rec, err := s.Create(t.Context(), "iacb", patch.Scope{}, func([]patch.Record) (patch.Record, error) { return patchRecord("iacb", 1), nil })
	require.NoError(t, err)
	for i := 1; i <= 100_000; i++ {
		_, err := s.Update(t.Context(), rec.Patch.ID, nil, func(cur *patch.Record, _ []patch.Record) error {
			cur.SetAck(patch.Ack{Agent: fmt.Sprintf("agent-%06d", i), Tenant: "iacb", PatchID: cur.Patch.ID, Op: patch.OpApply, At: nov})
			cur.History = append(cur.History, patch.Transition{From: cur.Status, To: cur.Status, Actor: "ack", At: nov})
			return nil
		})
		require.NoError(t, err)
		fmt.Printf("ack %d\n", i)
	}
}
