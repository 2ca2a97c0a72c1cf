package budgettest

import (
	"strconv"
	"testing"
	"time"

	"github.com/hms-platform/mgmt/budget"
)

// BenchBatch is the batch size of BenchmarkAddSpend.
const BenchBatch = 1000

// BenchmarkAddSpend measures how fast the store that open returns ingests
// spend: each iteration adds one batch of BenchBatch new records, each
// with three labels and the derived fiscalYear, already normalized, later
// in time than the batch before, of 20 services. It reports records/s;
// setting the IDs and times of each batch is timed too, as a producer's
// would be.
//
// A backend's benchmark calls it:
//
//	func BenchmarkAddSpend(b *testing.B) { budgettest.BenchmarkAddSpend(b, openStore) }
func BenchmarkAddSpend(b *testing.B, open func(b *testing.B) budget.Store) {
	s := open(b)
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Error("Close:", err)
		}
	})
	ctx := b.Context()
	tmpl := make([]budget.Record, BenchBatch)
	for i := range tmpl {
		tmpl[i] = rec("tmpl/"+strconv.Itoa(i), "svc-"+strconv.Itoa(i%20), int64(1+i*7919%100_000), base,
			"agency", "hhs", "program", "program-"+strconv.Itoa(i%5), "env", "prod")
	}
	recs, err := budget.NormalizeAll(tmpl)
	if err != nil {
		b.Fatal(err)
	}
	// Record times advance as in production, a millisecond apart (a
	// million records stay in one fiscal year).
	start := recs[0].At
	var id []byte
	total := 0
	b.ReportAllocs()
	for b.Loop() {
		for i := range recs {
			id = strconv.AppendInt(append(id[:0], "bench/"...), int64(total+i), 10)
			recs[i].ID = string(id)
			recs[i].At = start.Add(time.Duration(total+i) * time.Millisecond)
		}
		n, err := s.AddSpend(ctx, recs)
		if err != nil {
			b.Fatal("AddSpend:", err)
		}
		if n != len(recs) {
			b.Fatalf("AddSpend added %d of %d new records", n, len(recs))
		}
		total += n
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "records/s")
}
