package vltest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

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

func TestHaltRestartKeepsAddressAndData(t *testing.T) {
	ctx := context.Background()
	srv := vltest.Start(t)
	base := srv.URL(t)
	resp, err := http.Post(base+"/insert/jsonline", "application/stream+json",
		strings.NewReader(`{"_msg":"before the halt","_time":"`+time.Now().UTC().Format(time.RFC3339Nano)+`"}`+"\n"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, srv.Query(ctx, t, `"before the halt"`), 1)

	srv.Halt(t)
	_, err = http.Get(base + "/health")
	require.Error(t, err, "nothing answers while halted")

	srv.Restart(t)
	require.Equal(t, base, srv.URL(t), "the same address")
	require.Len(t, srv.Query(ctx, t, `"before the halt"`), 1, "the same data")
	require.NoError(t, srv.Stop())
}
