package vltest_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/internal/vltest"
)

func TestStartHealthStop(t *testing.T) {
	srv := vltest.Start(t)
	resp, err := http.Get(srv.URL(t) + "/health")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, srv.Query(context.Background(), t, "*"))
	require.NoError(t, srv.Stop())
}
