package sqlite_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/auditlog"
	"github.com/hms-platform/mgmt/auditlog/auditlogtest"
	"github.com/hms-platform/mgmt/backends/sqlite"
)

func TestAuditConformance(t *testing.T) {
	t.Parallel()
	auditlogtest.Run(t, func(t *testing.T) auditlog.Store {
		s, err := sqlite.Open(t.Context(), sqlite.Options{Path: t.TempDir() + "/audit.db"})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s.Audit()
	})
}
