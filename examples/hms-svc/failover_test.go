package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to read the spend on PostgreSQL
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/auditlog"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/examples/internal/host"
	"github.com/hms-platform/mgmt/examples/internal/host/hosttest"
	"github.com/hms-platform/mgmt/internal/apitest"
	"github.com/hms-platform/mgmt/internal/pgtest"
)

// leads reports whether the hms-svc at base holds the autoscaler's lease,
// by its /metrics (served on the main listener with -dev).
func leads(base string) bool { return holds(base, controllerLease) }

// holds reports whether the hms-svc at base holds the lease name.
func holds(base, name string) bool {
	res, err := http.Get(base + "/metrics")
	if err != nil {
		return false
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if sc.Text() == `hms_lease_leader{lease="`+name+`"} 1` {
			return true
		}
	}
	return false
}

// scaledIn reports whether the audit chain in the SQLite file db, which a
// running process writes, holds a scaling change.
func scaledIn(db string) bool {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Options{Path: db})
	if err != nil {
		return false
	}
	defer s.Close()
	found := false
	_ = s.Audit().Scan(ctx, 1, func(r auditlog.Record) error {
		e, err := r.Entry()
		found = found || err == nil && e.Event.Action == "autoscale.scale" && e.Event.Outcome == "ok"
		return nil
	})
	return found
}

// fileReplicas reads the replica count the file cluster holds, -1 when
// the file cannot be read (it is called from Eventually's goroutine).
func fileReplicas(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, e2eService+".replicas"))
	if err != nil {
		t.Logf("reading the replica file: %v", err)
		return -1
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil {
		t.Logf("the replica file holds %q: %v", b, err)
		return -1
	}
	return n
}

// TestFailover: three hms-svc processes on one -db and one cluster (the
// file plugin, which every process reads and writes), each with an audit
// chain of its own. The one leading the autoscaler is killed with SIGKILL
// mid-surge; another takes over once the lease has lapsed, the rule and
// its history are there, the service goes on growing and never shrinks,
// and no change is applied twice: the scaling events of all the chains
// name each transition once, the new leader's all after the old one's.
//
// It runs on a SQLite -db and on a PostgreSQL one, one after the other
// (the file cluster's directory is in the environment).
func TestFailover(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "hms-svc.db")
		failover(t, db, spendQuery{"sqlite", db, `SELECT id, amount_cents FROM records WHERE service = ?`})
	})
	t.Run("postgres", func(t *testing.T) {
		db := pgtest.Start(t)
		failover(t, db, spendQuery{"pgx", db, `SELECT id, amount_cents FROM budget_spend WHERE service = $1`})
	})
}

// spendQuery reads the spend records of a service from a -db.
type spendQuery struct{ driver, dsn, query string }

func failover(t *testing.T, db string, spend spendQuery) {
	const ttl = time.Second
	dir, cluster := fileCluster(t, "60")
	key := filepath.Join(t.TempDir(), "audit.key")
	require.NoError(t, host.WriteKeyPair(key))
	// $3,600 per replica-hour: a replica-second costs a dollar, so that the
	// few seconds of the test bill whole cents.
	prices := filepath.Join(t.TempDir(), "prices.json")
	require.NoError(t, os.WriteFile(prices, []byte(`{"`+e2eService+`": {"pricePerReplicaHourUSD": "3600.00"}}`), 0o600))
	chains := make([]string, 3)
	children := make([]*apitest.Child, 3)
	for i := range children {
		chains[i] = filepath.Join(t.TempDir(), fmt.Sprintf("audit-%d.db", i))
		args := append([]string{"-addr", "127.0.0.1:0", "-dev", "-db", db, "-interval", "50ms", "-lease-ttl", ttl.String(), "-prices", prices,
			"-audit-db", chains[i], "-audit-key", key, "-audit-checkpoint-every", "1"}, cluster...)
		children[i] = apitest.StartChild(t, childEnv, args)
	}
	code, _, body := apitest.Call(t, "POST", children[1].URL+"/autoscale-rules", e2eRule, "")
	require.Equal(t, http.StatusCreated, code, body)

	// The surge: 60 requests/s against a threshold of 20. The rate policy
	// lets the count grow by 4 per 15 s: 2 → 6 at once, 10 later.
	leader := -1
	require.Eventually(t, func() bool {
		for i, c := range children {
			if leads(c.URL) {
				leader = i
			}
		}
		return leader >= 0 && fileReplicas(t, dir) > 2
	}, 30*time.Second, 20*time.Millisecond, "one leader scales the service up")
	before := fileReplicas(t, dir)
	// Its chain has the change before the kill (the chain is written a
	// moment after the change).
	require.Eventually(t, func() bool { return scaledIn(chains[leader]) }, 30*time.Second, 20*time.Millisecond)
	// The meter's lease is another; its holder goes too, so that the
	// metering changes hands as well (the same replica, or a second kill).
	meter := -1
	require.Eventually(t, func() bool {
		for i, c := range children {
			if holds(c.URL, budgetLease) {
				meter = i
			}
		}
		return meter >= 0
	}, 30*time.Second, 20*time.Millisecond, "one replica meters")
	killed := time.Now()
	children[leader].Kill()
	if meter != leader {
		children[meter].Kill()
	}
	dead := func(i int) bool { return i == leader || i == meter }

	next := -1
	require.Eventually(t, func() bool {
		for i, c := range children {
			if !dead(i) && leads(c.URL) {
				next = i
				return true
			}
		}
		return false
	}, 30*time.Second, 20*time.Millisecond, "another replica takes the lease over")
	takeover := time.Since(killed)
	t.Logf("replica %d killed at %d replicas; replica %d leads %v later (lease TTL %v)", leader, before, next, takeover.Round(time.Millisecond), ttl)
	assert.GreaterOrEqual(t, takeover, ttl/2, "not before the lease could lapse")
	assert.Less(t, takeover, ttl+5*time.Second, "within the TTL and a few renewals")

	// The new leader goes on: the surge still needs more, up to 10.
	require.Eventually(t, func() bool { return fileReplicas(t, dir) == 10 }, 60*time.Second, 20*time.Millisecond,
		"the new leader scales on to the maximum")
	code, _, body = apitest.Call(t, "GET", children[next].URL+"/rules/AR-1/status", "", "")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"history":[{`, "the rule and its history are there")

	require.Eventually(t, func() bool {
		for i, c := range children {
			if !dead(i) && holds(c.URL, budgetLease) {
				return true
			}
		}
		return false
	}, 30*time.Second, 20*time.Millisecond, "another replica meters")
	for i, c := range children {
		if !dead(i) {
			c.Stop()
		}
	}
	checkBilledOnce(t, spend, ttl)
	// Every transition once, across the chains; the new leader's after the
	// old one's.
	seen := map[string]int{}
	var lastOfKilled, firstOfNext time.Time
	for i, chain := range chains {
		for _, e := range hosttest.ReadChainOfKilled(t, chain, key) {
			if e.Action != "autoscale.scale" || e.Outcome != "ok" {
				continue
			}
			step := e.Details["from"] + "→" + e.Details["to"]
			if prev, dup := seen[step]; dup {
				t.Errorf("%s applied twice: by replica %d and replica %d", step, prev, i)
			}
			seen[step] = i
			to, _ := strconv.Atoi(e.Details["to"])
			from, _ := strconv.Atoi(e.Details["from"])
			assert.Greater(t, to, from, "never shrinks: %s by replica %d", step, i)
			switch i {
			case leader:
				if e.At.After(lastOfKilled) {
					lastOfKilled = e.At
				}
			case next:
				if firstOfNext.IsZero() || e.At.Before(firstOfNext) {
					firstOfNext = e.At
				}
			}
		}
	}
	steps := make([]string, 0, len(seen))
	for s := range seen {
		steps = append(steps, s)
	}
	t.Logf("transitions applied: %s", strings.Join(steps, ", "))
	require.False(t, lastOfKilled.IsZero(), "the killed leader scaled")
	require.False(t, firstOfNext.IsZero(), "the new leader scaled")
	assert.True(t, firstOfNext.After(lastOfKilled), "the new leader acts only after the old one's last change")
}

// checkBilledOnce reads the spend the meters of the replicas wrote for
// e2eService into the -db (one record per flushed segment, its ID
// "meter/<service>/<from>-<to>" in Unix nanoseconds) and checks that no
// instant was billed twice: the segments do not overlap. The time between
// the killed meter's last flush and the takeover is billed by neither;
// it is at most the lease's TTL and a few flush intervals.
func checkBilledOnce(t *testing.T, spend spendQuery, ttl time.Duration) {
	t.Helper()
	conn, err := sql.Open(spend.driver, spend.dsn)
	require.NoError(t, err)
	defer conn.Close()
	rows, err := conn.Query(spend.query, e2eService)
	require.NoError(t, err)
	defer rows.Close()
	type segment struct{ from, to, cents int64 }
	var segs []segment
	for rows.Next() {
		var id string
		var cents int64
		require.NoError(t, rows.Scan(&id, &cents))
		span, ok := strings.CutPrefix(id, "meter/"+e2eService+"/")
		require.True(t, ok, "a meter record: %s", id)
		a, b, ok := strings.Cut(span, "-")
		require.True(t, ok, id)
		from, err1 := strconv.ParseInt(a, 10, 64)
		to, err2 := strconv.ParseInt(b, 10, 64)
		require.NoError(t, errors.Join(err1, err2), id)
		require.Less(t, from, to, id)
		segs = append(segs, segment{from, to, cents})
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, segs, "the meters billed the service")
	slices.SortFunc(segs, func(a, b segment) int { return cmp.Compare(a.from, b.from) })
	var billed, gaps, longest time.Duration
	var cents int64
	for i, s := range segs {
		billed += time.Duration(s.to - s.from)
		cents += s.cents
		if i == 0 {
			continue
		}
		prev := segs[i-1]
		require.GreaterOrEqual(t, s.from, prev.to, "replica-time billed twice: %d-%d and %d-%d", prev.from, prev.to, s.from, s.to)
		gap := time.Duration(s.from - prev.to)
		gaps += gap
		longest = max(longest, gap)
	}
	t.Logf("metered %d segments, %v billed for $%d.%02d, %v unbilled (longest gap %v, at the handoff)",
		len(segs), billed.Round(time.Millisecond), cents/100, cents%100, gaps.Round(time.Millisecond), longest.Round(time.Millisecond))
	assert.Less(t, longest, ttl+5*time.Second, "the meter's handoff leaves at most a lease's TTL and a few flushes unbilled")
	// 2 to 10 replicas at a dollar per replica-second, give or take the
	// rounding to cents of each flush.
	perReplica := billed.Seconds() * 100
	assert.GreaterOrEqual(t, float64(cents), 2*perReplica-float64(len(segs)), "at least 2 replicas billed")
	assert.LessOrEqual(t, float64(cents), 10*perReplica+float64(len(segs)), "at most 10 replicas billed, never twice")
}
