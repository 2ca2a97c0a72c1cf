package ledgerhttp_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	mgmt "github.com/hms-platform/mgmt"
)

// FuzzTransfer posts arbitrary bodies to POST /ach/transfer: the answer is
// a JSON 201 or a 4xx naming a field, never a 5xx; a refused body stores
// nothing, and an accepted one moves exactly the amount its text says.
func FuzzTransfer(f *testing.F) {
	for _, s := range []string{
		`{"from": "Treasury", "to": "GPO", "amount": 250000}`,
		`{"from": "Treasury", "to": "Treasury Ops", "amount": 12.50}`,
		`{"from": "Treasury", "to": "GPO", "amount": 1e5}`,
		`{"from": "Treasury", "to": "GPO", "amount": "100"}`,
		`{"from": "Treasury", "to": "GPO", "amount": 100.001}`,
		`{"from": "Treasury", "to": "GPO", "amount": -0.00}`,
		`{"from": "Treasury", "to": "GPO", "amount": 99999999999999999999}`,
		`{"from": "Treasury", "to": "GPO", "amount": 1, "amount": 2}`,
		`{"from": "Treasury", "to": "GPO", "Amount": 1}`,
		`{"from": "Treasury", "to": "GPO", "amount": 1, "code": 70000}`,
		`{"from": "Treasury", "to": "\ud800", "amount": 1}`,
		`[{"from": "Treasury"}]`,
		`{"from": "Treasury", "to": "GPO", "amount": 1}{}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		e := newEnv(t, envOptions{})
		count := func() int {
			n := 0
			for _, id := range []uint64{fundingID, treasuryID, gpoID, opsID} {
				n += e.transferCount(t, id)
			}
			return n
		}
		before := count()
		w := e.raw(t, "POST", "/ach/transfer", body, "ana")
		if w.Code >= 500 {
			t.Fatalf("%q: %d %s", body, w.Code, w.Body)
		}
		var answer struct {
			ID     string
			Amount json.Number
			Error  *struct{ Kind, Field, Message string }
		}
		dec := json.NewDecoder(strings.NewReader(w.Body.String()))
		dec.UseNumber()
		if err := dec.Decode(&answer); err != nil {
			t.Fatalf("%q: %d, not JSON: %s", body, w.Code, w.Body)
		}
		after := count()
		if w.Code/100 != 2 {
			if answer.Error == nil || answer.Error.Message == "" || !utf8.ValidString(answer.Error.Message) {
				t.Fatalf("%q: %d without an error that says why: %s", body, w.Code, w.Body)
			}
			if after != before {
				t.Fatalf("%q: refused (%d) but stored a transfer", body, w.Code)
			}
			return
		}
		if after != before+2 { // one transfer: in two accounts' histories
			t.Fatalf("%q: %d but %d transfers stored", body, w.Code, after-before)
		}
		want, err := mgmt.ParseDollars(answer.Amount.String())
		if err != nil || want <= 0 {
			t.Fatalf("%q: accepted with amount %q (%v)", body, answer.Amount, err)
		}
		id, err := strconv.ParseUint(answer.ID, 10, 64)
		if err != nil {
			t.Fatalf("%q: ID %q: %v", body, answer.ID, err)
		}
		got, err := e.l.LookupTransfers(context.Background(), []uint64{id})
		if err != nil || len(got) != 1 {
			t.Fatalf("%q: transfer %d not found (%v)", body, id, err)
		}
		if got[0].Amount != want {
			t.Fatalf("%q: the ledger moved %v, the answer says %v", body, got[0].Amount, want)
		}
	})
}
