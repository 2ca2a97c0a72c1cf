package postgres_test

import (
	"testing"

	"github.com/hms-platform/mgmt/auditlog"
	"github.com/hms-platform/mgmt/auditlog/auditlogtest"
)

func TestAuditConformance(t *testing.T) {
	t.Parallel()
	auditlogtest.Run(t, func(t *testing.T) auditlog.Store { return openFresh(t).Audit() })
}
