package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/internal/apitest"
	"github.com/hms-platform/mgmt/internal/pgtest"
	"github.com/hms-platform/mgmt/internal/redistest"
	"github.com/hms-platform/mgmt/patch"
)

// replica is one hms-mgt process (run in this one) of several on one -db.
type replica struct{ *apitest.Host }

func startReplica(t *testing.T, db, redisAddr string) *replica {
	t.Helper()
	return &replica{apitest.StartHost(t, run, "-dev", "-addr", "127.0.0.1:0", "-db", db, "-redis", redisAddr,
		"-interval", "50ms", "-lease-ttl", "3s")}
}

func (r *replica) leading() bool {
	s := r.Stderr.String()
	return strings.LastIndex(s, `msg=leading`) > strings.LastIndex(s, `msg="not leading"`)
}

// submit posts a patch of ARTIST_REGISTRY_API for IACB with changes (a
// JSON object), live for the next hour.
func (r *replica) submit(t *testing.T, changes string) int64 {
	t.Helper()
	return r.submitFor(t, "ARTIST_REGISTRY_API", "IACB", ">=2.1.0", changes)
}

// submitFor posts a patch of service for tenant, live for the next hour.
func (r *replica) submitFor(t *testing.T, service, tenant, versions, changes string) int64 {
	t.Helper()
	now := time.Now().UTC()
	body := fmt.Sprintf(`{"service": %q, "version_selector": %q, "changes": %s,
	  "tenant": %q, "window": {"start": %q, "end": %q}}`, service, versions, changes, tenant,
		now.Add(-time.Minute).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
	res, err := http.Post(r.URL+"/api/patch", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer res.Body.Close()
	var out struct {
		PatchID int64 `json:"patch_id"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	require.Equal(t, http.StatusCreated, res.StatusCode)
	return out.PatchID
}

// waitPublished waits until the loop has handled patch id (it is no longer
// queued or approved).
func (r *replica) waitPublished(t *testing.T, id int64, msg string) {
	t.Helper()
	require.Eventually(t, func() bool {
		s := r.status(t, id)
		return s != patch.Queued && s != patch.Approved
	}, 30*time.Second, 20*time.Millisecond, msg)
}

func (r *replica) status(t *testing.T, id int64) patch.Status {
	t.Helper()
	res, err := http.Get(fmt.Sprintf("%s/api/patch/%d", r.URL, id))
	require.NoError(t, err)
	defer res.Body.Close()
	var out struct {
		Status patch.Status `json:"status"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return out.Status
}

// TestReplicasOneLoop runs three hms-mgt replicas on one SQLite file and
// one Redis: all serve requests, one runs the patch loop. A patch
// submitted to a replica that does not lead is published once, by the
// leader. When the leader shuts down, another takes over and publishes the
// next patch, once.
func TestReplicasOneLoop(t *testing.T) {
	t.Parallel()
	checkOneLoop(t, filepath.Join(t.TempDir(), "mgt.db"))
}

// TestReplicasOneLoopPostgres is TestReplicasOneLoop on PostgreSQL, with a
// password in the -db URL that no log line shows.
func TestReplicasOneLoopPostgres(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Start(t) // trust authentication: the password is not checked
	dsn = strings.Replace(dsn, "postgres://postgres@", "postgres://postgres:s3cret-pw@", 1)
	for _, r := range checkOneLoop(t, dsn) {
		assert.NotContains(t, r.Stderr.String(), "s3cret-pw")
		assert.Contains(t, r.Stderr.String(), "postgres:xxxxx@127.0.0.1")
	}
}

func checkOneLoop(t *testing.T, db string) []*replica {
	srv := redistest.Start(t, redistest.Config{})
	var rs []*replica
	for range 3 {
		rs = append(rs, startReplica(t, db, srv.Addr()))
	}
	most := 0 // replicas seen leading at once
	leader := func() int {
		t.Helper()
		var idx int
		require.Eventually(t, func() bool {
			n := 0
			for i, r := range rs {
				if r.leading() {
					n++
					idx = i
				}
			}
			most = max(most, n)
			return n == 1
		}, 30*time.Second, 10*time.Millisecond)
		require.Equal(t, 1, most, "two replicas led at once")
		return idx
	}
	first := leader()
	follower := rs[(first+1)%len(rs)]

	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	published := func(tenant string) []int64 {
		t.Helper()
		msgs, err := rdb.XRange(context.Background(), "cfg::"+tenant, "-", "+").Result()
		require.NoError(t, err)
		var ids []int64
		for _, m := range msgs {
			var x struct {
				Patch struct {
					ID int64 `json:"id"`
				} `json:"patch"`
			}
			require.Len(t, m.Values, 1)
			var raw string
			for _, v := range m.Values {
				raw, _ = v.(string)
			}
			require.NoError(t, json.Unmarshal([]byte(raw), &x), "%v", m.Values)
			ids = append(ids, x.Patch.ID)
		}
		return ids
	}

	// probe publishes a patch of another tenant through replica r: once it
	// is out, the leader's loop has run rounds after everything published
	// before it, each of which could have published that again.
	var probes []int64
	probe := func(r *replica, changes string) {
		t.Helper()
		p := r.submitFor(t, "BOOSTER_SCHEDULING", "CDC", ">=1.4.0", changes)
		r.waitPublished(t, p, "the leader did not publish a probe patch")
		probes = append(probes, p)
	}

	id := follower.submit(t, `{"rate_limit_rps": 200}`)
	follower.waitPublished(t, id, "the leader did not publish a patch submitted to a follower")
	// Two later rounds, started from two replicas: nobody publishes it again.
	probe(follower, `{"reminder_hours": 12}`)
	probe(rs[(first+2)%len(rs)], `{"sms_enabled": false}`)
	assert.Equal(t, []int64{id}, published("IACB"))
	assert.Equal(t, probes, published("CDC"))

	require.NoError(t, rs[first].Stop())
	second := leader()
	require.NotEqual(t, first, second)
	id2 := rs[second].submit(t, `{"log_level": "debug"}`)
	rs[second].waitPublished(t, id2, "the new leader did not publish")
	probe(rs[second], `{"replicas": 5}`)
	assert.Equal(t, []int64{id, id2}, published("IACB"))
	assert.Equal(t, probes, published("CDC"))
	leader()
	return rs
}
