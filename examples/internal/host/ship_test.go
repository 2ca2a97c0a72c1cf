package host_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/examples/internal/host"
	"github.com/hms-platform/mgmt/logship"
)

func shipFlags(t *testing.T, args ...string) *host.ShipFlags {
	t.Helper()
	var f host.ShipFlags
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	f.Register(fs, "x")
	require.NoError(t, fs.Parse(args))
	return &f
}

func TestShipFlagsRefuse(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-ship", "http://127.0.0.1:1", "-ship-kind", "solr"},
		{"-ship", "http://127.0.0.1:1", "-ship-kind", "victorialogs", "-ship-index", "logs"},
		{"-ship", "http://127.0.0.1:1", "-ship-full", "sometimes"},
		{"-ship", "http://127.0.0.1:1", "-ship-full", "block", "-ship-block-for", "0s"},
		{"-ship", "http://127.0.0.1:1", "-ship-max-rows", "0"},
	} {
		f := shipFlags(t, append(args, "-ship-db", filepath.Join(t.TempDir(), "q.db"))...)
		_, err := f.Setup(context.Background(), clock.New(), slog.Default())
		var ue *host.UsageError
		assert.True(t, errors.As(err, &ue), "%v: %v", args, err)
	}
}

func TestShipNoURLChangesNothing(t *testing.T) {
	t.Parallel()
	s, err := shipFlags(t).Setup(context.Background(), clock.New(), slog.Default())
	require.NoError(t, err)
	require.Nil(t, s)
	logger, audit := slog.Default(), mgmt.NopAuditor
	stop := s.Start(&logger, &audit)
	assert.Same(t, slog.Default(), logger)
	stop()
}

// Lines and audit events go to the host's logger and to the queue, audit
// events once, as kind audit; after Close, to the host's logger only.
func TestShipStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "q.db")
	var stderr bytes.Buffer
	base := slog.New(slog.NewTextHandler(&stderr, nil))
	s, err := shipFlags(t, "-ship", "http://127.0.0.1:1", "-ship-db", db).Setup(ctx, clock.New(), base)
	require.NoError(t, err)
	logger, audit := base, mgmt.Auditor(nil)
	stop := s.Start(&logger, &audit)
	logger.Info("hello", "k", "v")
	logger.Debug("not at this level")
	audit.Audit(ctx, mgmt.AuditEvent{Actor: "a", Action: "x.y", Resource: "r", Outcome: "ok"})
	stop() // the shipper fails against 127.0.0.1:1 meanwhile: records stay queued
	logger.Info("after close")
	assert.Contains(t, stderr.String(), "msg=hello")
	assert.Contains(t, stderr.String(), "action=x.y")
	assert.Contains(t, stderr.String(), "after close")
	assert.NotContains(t, stderr.String(), "logship:")

	st, err := sqlite.Open(ctx, sqlite.Options{Path: db})
	require.NoError(t, err)
	defer st.Close()
	q, err := st.LogQueue(sqlite.LogQueueOptions{MaxRows: 10, MaxBytes: 1 << 20})
	require.NoError(t, err)
	// Due within the hour, whether the shipper tried them already or not.
	items, err := q.Next(ctx, 10, clock.New().Now().Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, items, 2)
	assert.Equal(t, "hello", items[0].Message)
	assert.Equal(t, logship.KindLog, items[0].Kind)
	assert.Equal(t, "audit x.y", items[1].Message)
	assert.Equal(t, logship.KindAudit, items[1].Kind)
}
