package main

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/examples/internal/host"
)

// The -ship-* flags are hms-mgt's: a bad one is a usage error before
// anything starts.
func TestShipFlagsRefused(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"-dev", "-addr", "127.0.0.1:0", "-ship", "http://127.0.0.1:1", "-ship-full", "sometimes",
		"-ship-db", filepath.Join(t.TempDir(), "q.db")}, io.Discard, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `-ship-full "sometimes"`)
	assert.Equal(t, 2, host.ExitCode("hms-mgt", err, io.Discard))
}
