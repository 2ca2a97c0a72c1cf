package logship_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/logship"
	"github.com/hms-platform/mgmt/logship/logshiptest"
)

func TestMemQueueConformance(t *testing.T) {
	t.Parallel()
	logshiptest.RunQueue(t, func(t *testing.T, b logshiptest.Bounds) logship.Queue {
		q, err := logship.NewMemQueue(logship.MemQueueOptions{MaxRows: b.MaxRows, MaxBytes: b.MaxBytes})
		require.NoError(t, err)
		return q
	})
}
