package auditlog_test

import (
	"testing"

	"github.com/hms-platform/mgmt/auditlog"
	"github.com/hms-platform/mgmt/auditlog/auditlogtest"
)

func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	auditlogtest.Run(t, func(*testing.T) auditlog.Store { return &auditlog.Memory{} })
}
