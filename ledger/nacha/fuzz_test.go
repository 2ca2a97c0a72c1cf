package nacha_test

import (
	"bytes"
	"testing"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger/nacha"
)

// FuzzParseReturns feeds the return-file parser arbitrary bytes: it never
// panics, every error is KindInvalid, and what it accepts is well formed.
func FuzzParseReturns(f *testing.F) {
	f.Add(returnFile(f, returned{code: "R01", originalTrace: "021000020000001", amount: 100, rdfi: "122105278"}))
	f.Add(returnFile(f,
		returned{code: "R02", originalTrace: "021000020000001", amount: 250_00, rdfi: "011000015"},
		returned{code: "R03", originalTrace: "021000020000007", amount: 1, rdfi: "011000015"}))
	f.Add(returnFile(f, returned{code: "R01", originalTrace: "021000020000001", amount: 100, rdfi: "122105278"})[:300]) // truncated
	f.Add([]byte{})
	f.Add([]byte("101 021000021 1221052782611251000A094101ODFI                   RDFI                           \n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rets, err := nacha.ParseReturns(bytes.NewReader(data), 1<<20)
		if err != nil {
			if k := mgmt.KindOf(err); k != mgmt.KindInvalid {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		if len(rets) == 0 {
			t.Fatal("no error and no returns")
		}
		for _, r := range rets {
			if len(r.OriginalTrace) != 15 || r.Amount <= 0 || r.Amount > nacha.MaxEntryAmount {
				t.Fatalf("accepted a bad return %+v", r)
			}
			if _, err := nacha.LedgerCode(r.ReturnCode); err != nil {
				t.Fatalf("accepted return code %q", r.ReturnCode)
			}
		}
	})
}
