package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/internal/apitest"
)

// TestReplicasOneLeader: two replicas on one -db and one cluster. Both
// serve the API and answer the same status; one runs the autoscaler; when
// it stops, the other takes over within the lease's TTL and goes on with
// the rules — without shrinking the service at once.
func TestReplicasOneLeader(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "hms-svc.db")
	clk := clock.New()
	cfg, err := parseFlags([]string{"-dev", "-interval", "20ms", "-trace", "constant:640", "-db", db, "-lease-ttl", "300ms"}, io.Discard)
	require.NoError(t, err)
	cfg.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.cluster, err = newCluster(clk, cfg.trace)
	require.NoError(t, err)
	type replica struct {
		app    *app
		url    string
		cancel context.CancelFunc
		done   chan struct{}
	}
	start := func() *replica {
		a, err := newApp(context.Background(), cfg, clk)
		require.NoError(t, err)
		srv := httptest.NewServer(a.handler)
		ctx, cancel := context.WithCancel(context.Background())
		r := &replica{app: a, url: srv.URL, cancel: cancel, done: make(chan struct{})}
		go func() {
			defer close(r.done)
			_ = a.runController(ctx, cfg)
		}()
		t.Cleanup(func() {
			cancel()
			<-r.done
			srv.Close()
			_ = a.close(context.Background())
		})
		return r
	}
	r1, r2 := start(), start()

	// Created through one replica, evaluated by the leader, whichever it is.
	code, _, body := apitest.Call(t, "POST", r2.url+"/autoscale-rules", seedRule, "")
	require.Equal(t, 201, code, body)
	require.Eventually(t, func() bool {
		_, st := getStatus(t, r1.url, "AR-1")
		return st.Replicas > 4 && len(st.History) > 0
	}, 20*time.Second, 10*time.Millisecond, "640 rps > 500: scaled up")
	leader, follower := r1, r2
	if r2.app.ctrl.Ticks() > 0 {
		leader, follower = r2, r1
	}
	require.Zero(t, follower.app.ctrl.Ticks(), "one replica runs the autoscaler")
	// The same answer on both replicas, once the leader has saved it.
	require.Eventually(t, func() bool {
		_, a := getStatus(t, leader.url, "AR-1")
		_, b := getStatus(t, follower.url, "AR-1")
		return a.LastDecision != nil && b.LastDecision != nil && a.LastDecision.At.Equal(b.LastDecision.At) &&
			a.Replicas == b.Replicas && len(a.History) == len(b.History)
	}, 20*time.Second, 10*time.Millisecond, "the follower serves the leader's status")

	// The leader stops; the follower takes over within the TTL.
	_, before := getStatus(t, follower.url, "AR-1")
	stopped := time.Now()
	leader.cancel()
	<-leader.done
	require.Eventually(t, func() bool { return follower.app.ctrl.Ticks() > 0 }, 20*time.Second, 5*time.Millisecond)
	t.Logf("takeover after %v (lease TTL 300ms)", time.Since(stopped).Round(time.Millisecond))
	require.Eventually(t, func() bool {
		_, st := getStatus(t, follower.url, "AR-1")
		return st.Evaluations > before.Evaluations
	}, 20*time.Second, 5*time.Millisecond, "the new leader evaluates the rule")
	_, after := getStatus(t, follower.url, "AR-1")
	assert.GreaterOrEqual(t, after.Replicas, before.Replicas, "no shrink on takeover")
}

// TestFollowerBillsNothing: a replica that runs the budget loop meters only
// while it holds the meter's lease; closing one that never held it writes
// no spend (its meter saw the services too, but another replica billed
// them). A host that never ran the loop (one process, tests) flushes its
// meter at close.
func TestFollowerBillsNothing(t *testing.T) {
	t.Parallel()
	spendOf := func(db string) mgmt.Money {
		t.Helper()
		s, err := openStores(context.Background(), db, clock.New())
		require.NoError(t, err)
		defer s.close()
		m, err := s.budget.Spend(context.Background(), budget.SpendFilter{Service: "loan-status-api", From: t0.Add(-time.Hour), To: t0.Add(24 * time.Hour)})
		require.NoError(t, err)
		return m
	}
	for _, follower := range []bool{true, false} {
		db := filepath.Join(t.TempDir(), "hms-svc.db")
		a := newTestAppAt(t, db, t0)
		a.clock.Add(10 * time.Hour)
		if follower {
			a.budgetLoop.Store(true) // as runBudget does, here without ever taking the lease
		}
		require.NoError(t, a.close(context.Background()))
		if follower {
			assert.Zero(t, spendOf(db), "the follower bills nothing")
		} else {
			assert.Equal(t, mgmt.Money(3*10*10), spendOf(db), "3 replicas × $0.10 × 10 h")
		}
	}
}
