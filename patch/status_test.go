package patch_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hms-platform/mgmt/patch"
)

func TestStatuses(t *testing.T) {
	all := patch.Statuses()
	assert.Len(t, all, 9)
	all[0] = "CHANGED"
	assert.Equal(t, patch.Queued, patch.Statuses()[0], "Statuses returns a slice of the caller's own")

	var live []patch.Status
	for _, s := range patch.Statuses() {
		assert.True(t, s.Valid(), "%s", s)
		if s.Live() {
			live = append(live, s)
		}
	}
	assert.Equal(t, live, patch.LiveStatuses(), "LiveStatuses is the statuses Live accepts")
	patch.LiveStatuses()[0] = "CHANGED"
	assert.Equal(t, patch.Queued, patch.LiveStatuses()[0], "LiveStatuses returns a slice of the caller's own")
}
