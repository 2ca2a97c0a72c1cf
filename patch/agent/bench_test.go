package agent_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/hms-platform/mgmt/patch"
	"github.com/hms-platform/mgmt/patch/agent"
)

// BenchmarkHandleMessage applies a two-key patch to a small config file:
// merge, atomic config write (fsync file and directory), state file writes
// (the same), SHA-256 of the result; the reload is a no-op. Each
// iteration is a new patch; the previous one is reverted first, untimed,
// so that the agent holds one live patch as in steady operation.
func BenchmarkHandleMessage(b *testing.B) {
	f := newFixture(b, baseConfig)
	f.opts.Reload = agent.ReloaderFunc(func(context.Context) error { return nil })
	a := f.agent(b)
	ctx := context.Background()
	var i, seq int64
	for b.Loop() {
		i++
		if i > 1 {
			b.StopTimer()
			seq++
			ack, err := a.HandleMessage(ctx, revertMsg(strconv.FormatInt(seq, 10), i-1))
			if err != nil || ack.Status != patch.AckApplied {
				b.Fatal(err, ack.Error)
			}
			b.StartTimer()
		}
		seq++
		ack, err := a.HandleMessage(ctx, applyMsg(strconv.FormatInt(seq, 10), i, patch.Changes{"rate_limit_rps": i, "limits.cpu": "1500m"}))
		if err != nil || ack.Status != patch.AckApplied {
			b.Fatal(err, ack.Error)
		}
	}
}

// BenchmarkMergeYAML is the merge alone, in memory.
func BenchmarkMergeYAML(b *testing.B) {
	changes := patch.Changes{"rate_limit_rps": int64(200), "limits.cpu": "1500m"}
	for b.Loop() {
		if _, err := agent.MergeYAML([]byte(baseConfig), changes); err != nil {
			b.Fatal(err)
		}
	}
}
