package patchrow_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/patch"
)

// TestMigrationsLiveStatuses: the migrations that index the live patches
// already stored name the statuses patch.LiveStatuses returns, the one
// list of them.
func TestMigrationsLiveStatuses(t *testing.T) {
	var want []string
	for _, s := range patch.LiveStatuses() {
		want = append(want, "'"+string(s)+"'")
	}
	in := regexp.MustCompile(`status IN \(([^)]*)\)`)
	for _, path := range []string{"../../sqlite/migrations/0004_patch_keys.sql", "../../postgres/migrations/0004_patch_keys.sql"} {
		sql, err := os.ReadFile(path)
		require.NoError(t, err)
		m := in.FindSubmatch(sql)
		require.NotNil(t, m, "%s selects live patches by status", path)
		assert.Equal(t, want, strings.Split(strings.ReplaceAll(string(m[1]), " ", ""), ","), path)
	}
}
