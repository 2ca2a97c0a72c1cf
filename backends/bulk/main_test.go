package bulk_test

import (
	"testing"

	"github.com/hms-platform/mgmt/internal/vltest"
)

var vl *vltest.Server

func TestMain(m *testing.M) { vltest.Main(m, func(s *vltest.Server) { vl = s }) }
