package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/internal/apitest"
	"github.com/hms-platform/mgmt/internal/pgtest"
)

// childEnv makes the test binary an hms-svc process with the arguments in
// the variable, for the restart test (apitest.ChildMain).
const childEnv = "HMS_SVC_CHILD_ARGS"

func TestMain(m *testing.M) {
	apitest.ChildMain(childEnv, run)
	os.Exit(m.Run())
}

type ruleStatus struct {
	RuleID       string `json:"ruleId"`
	Replicas     int32  `json:"replicas"`
	Metric       *float64
	Evaluations  int64 `json:"evaluations"`
	LastDecision *struct {
		At     time.Time `json:"at"`
		Reason string    `json:"reason"`
	} `json:"lastDecision"`
	History []struct {
		At time.Time `json:"at"`
	} `json:"history"`
}

func getStatus(t *testing.T, base, id string) (int, ruleStatus) {
	t.Helper()
	code, _, body := apitest.Call(t, "GET", base+"/rules/"+id+"/status", "", "")
	var st ruleStatus
	if code == http.StatusOK {
		require.NoError(t, json.Unmarshal([]byte(body), &st), body)
	}
	return code, st
}

// TestRestartKeepsRules: hms-svc on a SQLite -db, and on a PostgreSQL
// one, is killed with SIGKILL after its rules have scaled; restarted on
// the same database, it has every rule, with its ID, version and recent
// history, and goes on from there; a rule created after the restart gets
// a new ID and shows real numbers on its first status poll.
func TestRestartKeepsRules(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		restartKeepsRules(t, filepath.Join(t.TempDir(), "hms-svc.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		restartKeepsRules(t, pgtest.Start(t))
	})
}

func restartKeepsRules(t *testing.T, db string) {
	// -status-every 20ms: every tick saves every status, so that the
	// counts go on after the restart (with the default, a status whose
	// decision did not change is saved every 30 s: its history is back at
	// once, its evaluation count as of that save).
	args := []string{"-addr", "127.0.0.1:0", "-dev", "-interval", "20ms", "-trace", "constant:640",
		"-db", db, "-lease-ttl", "300ms", "-status-every", "20ms"}
	c := apitest.StartChild(t, childEnv, args)
	code, _, body := apitest.Call(t, "POST", c.URL+"/autoscale-rules", seedRule, "")
	require.Equal(t, http.StatusCreated, code, body)
	code, _, body = apitest.Call(t, "POST", c.URL+"/autoscale-rules",
		`{"service": "loan-status-api", "minReplicas": 2, "maxReplicas": 10, "trigger": {"metric": "http_rps", "target": 100}}`, "")
	require.Equal(t, http.StatusCreated, code, body)
	code, _, body = apitest.Call(t, "PUT", c.URL+"/autoscale-rules/AR-2",
		`{"service": "loan-status-api", "minReplicas": 2, "maxReplicas": 12, "trigger": {"metric": "http_rps", "target": 100}}`, "")
	require.Equal(t, http.StatusOK, code, body)
	var before ruleStatus
	require.Eventually(t, func() bool {
		_, before = getStatus(t, c.URL, "AR-1")
		return len(before.History) > 0 && before.Replicas > 4
	}, 20*time.Second, 10*time.Millisecond, "the controller scales eligibility-api up (640 rps > 500)")
	// A tick saves the statuses once it has evaluated every rule: one
	// more evaluation means the tick that decided this one is saved.
	require.Eventually(t, func() bool {
		_, st := getStatus(t, c.URL, "AR-1")
		return st.Evaluations > before.Evaluations
	}, 20*time.Second, 10*time.Millisecond)
	c.Kill()

	c = apitest.StartChild(t, childEnv, args)
	code, _, body = apitest.Call(t, "GET", c.URL+"/autoscale-rules", "", "")
	require.Equal(t, http.StatusOK, code)
	var list struct {
		Rules []struct {
			ID          string `json:"id"`
			Version     int64  `json:"version"`
			Service     string `json:"service"`
			MaxReplicas int32  `json:"maxReplicas"`
		} `json:"rules"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &list), body)
	require.Len(t, list.Rules, 2, "every rule is back: %s", body)
	assert.Equal(t, "AR-1", list.Rules[0].ID)
	assert.Equal(t, "eligibility-api", list.Rules[0].Service)
	assert.Equal(t, "AR-2", list.Rules[1].ID)
	assert.Equal(t, int64(2), list.Rules[1].Version)
	assert.Equal(t, int32(12), list.Rules[1].MaxReplicas)

	code, after := getStatus(t, c.URL, "AR-1")
	require.Equal(t, http.StatusOK, code)
	require.NotEmpty(t, after.History, "the history is back")
	assert.True(t, after.History[0].At.Equal(before.History[0].At), "the same history")
	assert.GreaterOrEqual(t, after.Evaluations, before.Evaluations)

	code, _, body = apitest.Call(t, "POST", c.URL+"/autoscale-rules",
		`{"service": "student-aid-portal", "minReplicas": 2, "maxReplicas": 10, "trigger": {"metric": "http_rps", "target": 100}}`, "")
	require.Equal(t, http.StatusCreated, code, body)
	assert.Contains(t, body, `"ruleId":"AR-3"`)
	code, fresh := getStatus(t, c.URL, "AR-3")
	require.Equal(t, http.StatusOK, code)
	// 6 as read at creation, or more if a tick scaled it since.
	assert.GreaterOrEqual(t, fresh.Replicas, int32(6), "student-aid-portal's real count, never 0")
	assert.NotNil(t, fresh.Metric, "and its metric")
}
