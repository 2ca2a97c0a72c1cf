package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/apitest"
	"github.com/hms-platform/mgmt/internal/pgtest"
)

// childEnv makes the test binary an hms-sys process with the arguments in
// the variable, for the crash tests (apitest.ChildMain).
const childEnv = "HMS_SYS_CHILD_ARGS"

func TestMain(m *testing.M) {
	apitest.ChildMain(childEnv, run)
	os.Exit(m.Run())
}

const (
	crashClients = 64
	crashPer     = 40 // transfers per client
)

func crashKey(c, k int) string { return fmt.Sprintf("crash-%d-%d", c, k) }

// crashAmount is client c's k-th amount, in cents: $1.01 to $97.97.
func crashAmount(c, k int) mgmt.Money { return mgmt.Money(101 + (c*crashPer+k)%97*101) }

type answer struct {
	status int
	id     string
}

var crashHTTP = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: crashClients}}

func postTransfer(base, key string, amount mgmt.Money) (answer, error) {
	body := fmt.Sprintf(`{"from": "Treasury", "to": "GPO", "amount": %s}`, amount)
	req, err := http.NewRequest("POST", base+"/ach/transfer", strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	res, err := crashHTTP.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return answer{}, err
	}
	var v struct{ ID, Status string }
	if res.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, &v); err != nil {
			return answer{}, fmt.Errorf("%d %s: %w", res.StatusCode, b, err)
		}
		if v.Status != "posted" {
			return answer{}, fmt.Errorf("%d %s: not posted", res.StatusCode, b)
		}
	}
	return answer{status: res.StatusCode, id: v.ID}, nil
}

// testCrash loads hms-sys over the ledger storage of ledgerArgs from 64
// clients, kills it with SIGKILL mid-load, restarts it and resubmits
// everything: each transfer acknowledged before the kill answers as the
// same transfer (exists), every other one is created once, the money adds
// up and no account breaks its flags.
func testCrash(t *testing.T, ledgerArgs ...string) {
	args := append([]string{"-addr", "127.0.0.1:0", "-dev", "-seed-accounts", "-budget-db", ":memory:",
		"-approval-policy", "false", "-log-level", "error", "-settlement-dir", t.TempDir(), "-settle-every", "0",
		"-job-outputs", t.TempDir()}, ledgerArgs...)
	c := apitest.StartChild(t, childEnv, args)

	var (
		mu     sync.Mutex
		acked  = map[string]answer{}
		n      atomic.Int64
		killAt = int64(crashClients * crashPer / 3)
		wg     sync.WaitGroup
	)
	for cl := range crashClients {
		wg.Go(func() {
			for k := range crashPer {
				a, err := postTransfer(c.URL, crashKey(cl, k), crashAmount(cl, k))
				if err != nil {
					return // the host is gone
				}
				if a.status != http.StatusCreated {
					t.Errorf("transfer %s: status %d before the crash", crashKey(cl, k), a.status)
					return
				}
				mu.Lock()
				acked[crashKey(cl, k)] = a
				mu.Unlock()
				if n.Add(1) == killAt {
					c.Kill()
				}
			}
		})
	}
	wg.Wait()
	_ = c.Cmd.Wait()
	require.GreaterOrEqual(t, len(acked), int(killAt), "transfers acknowledged before the kill")
	require.Less(t, len(acked), crashClients*crashPer, "the kill came mid-load")
	t.Logf("%d of %d transfers acknowledged before SIGKILL", len(acked), crashClients*crashPer)

	c = apitest.StartChild(t, childEnv, args)
	ids := map[string]string{} // transfer ID → key
	var total mgmt.Money
	var exists, created int
	for cl := range crashClients {
		for k := range crashPer {
			key := crashKey(cl, k)
			a, err := postTransfer(c.URL, key, crashAmount(cl, k))
			require.NoError(t, err)
			if first, ok := acked[key]; ok {
				require.Equal(t, http.StatusOK, a.status, "%s was acknowledged: a resubmit is exists", key)
				require.Equal(t, first.id, a.id, "%s: the same transfer", key)
			} else {
				require.Contains(t, []int{http.StatusCreated, http.StatusOK}, a.status, key)
			}
			if a.status == http.StatusOK {
				exists++
			} else {
				created++
			}
			require.NotContains(t, ids, a.id, "transfer IDs are distinct")
			ids[a.id] = key
			total += crashAmount(cl, k)
		}
	}
	t.Logf("after the restart: %d exists, %d created", exists, created)

	// Each transfer is in the ledger once: GPO's credits are their sum,
	// and Treasury's history holds each ID once.
	seen := map[string]int{}
	after := ""
	for {
		var page struct {
			Transfers []struct{ ID, Kind string }
			Next      string
		}
		get(t, c.URL+"/ach/accounts/GPO/transfers?limit=1000"+after, &page)
		for _, x := range page.Transfers {
			seen[x.ID]++
		}
		if page.Next == "" {
			break
		}
		after = "&after=" + page.Next
	}
	for id, key := range ids {
		assert.Equal(t, 1, seen[id], "transfer %s (%s) is in GPO's history once", id, key)
	}
	var sum mgmt.Money
	for _, name := range []string{"Treasury Funding", "Treasury", "GPO"} {
		var a struct {
			Flags   []string
			Balance struct{ DebitsPending, DebitsPosted, CreditsPending, CreditsPosted mgmt.Money }
		}
		get(t, c.URL+"/ach/accounts/"+strings.ReplaceAll(name, " ", "%20"), &a)
		b := a.Balance
		sum += b.CreditsPosted - b.DebitsPosted
		assert.Zero(t, b.DebitsPending+b.CreditsPending, "%s: nothing pending", name)
		if name == "GPO" {
			assert.Equal(t, total, b.CreditsPosted, "GPO received every transfer once")
		}
		for _, f := range a.Flags {
			if f == "debits_must_not_exceed_credits" {
				assert.LessOrEqual(t, b.DebitsPosted+b.DebitsPending, b.CreditsPosted, "%s keeps its flag", name)
			}
		}
	}
	assert.Zero(t, sum, "Σ of all balances is 0")
}

func get(t *testing.T, url string, v any) {
	t.Helper()
	res, err := crashHTTP.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, "%s: %s", url, b)
	require.NoError(t, json.Unmarshal(b, v), "%s", b)
}

func TestCrashSQLite(t *testing.T) {
	t.Parallel()
	testCrash(t, "-ledger-db", filepath.Join(t.TempDir(), "ledger.db"))
}

func TestCrashPostgres(t *testing.T) {
	t.Parallel()
	testCrash(t, "-postgres", pgtest.Start(t))
}
