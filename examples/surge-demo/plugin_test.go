package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary stand in for the demo binary when run()
// re-executes itself as the cluster plugin.
func TestMain(m *testing.M) {
	if os.Getenv(pluginEnv) == "1" {
		if err := servePlugin(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "surge-demo plugin:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestOutOfProcessEqualsInProcess runs the story with the controller's
// cluster behind the plugin boundary and in process: the output, row by row
// and the summary, is the same.
func TestOutOfProcessEqualsInProcess(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-json"},
		{"-json", "-budget", "50"},
		{"-speed", "0", "-duration", "20m", "-trace", "surge:base=300,factor=8,at=2m,for=10m"},
	} {
		t.Run(fmt.Sprint(args), func(t *testing.T) {
			t.Parallel()
			remote, err := runDemoArgs(t, args...)
			require.NoError(t, err)
			local, err := runDemoArgs(t, append([]string{"-in-process"}, args...)...)
			require.NoError(t, err)
			assert.Equal(t, local, remote)
			assert.Contains(t, remote, "summary")
		})
	}
}
