package auditlog_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auditlog"
)

func Example() {
	ctx := context.Background()
	pub, priv, _ := ed25519.GenerateKey(nil)
	store := &auditlog.Memory{} // or backends/sqlite: store.Audit()

	l, err := auditlog.New(ctx, auditlog.Options{Store: store, Key: priv, CheckpointEvery: 2})
	if err != nil {
		panic(err)
	}
	for _, who := range []string{"ana", "ben", "cy"} {
		l.Audit(ctx, mgmt.AuditEvent{At: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC), Actor: who,
			Action: "patch.approve", Resource: "patch/784", Outcome: "APPROVED"})
	}
	if err := l.Close(ctx); err != nil { // stores what is buffered, signs the head
		panic(err)
	}

	rep, _ := auditlog.Verify(ctx, store, pub)
	fmt.Println(rep.OK(), rep.Entries, "entries")

	store.Tamper(func(rs []auditlog.Record, cps []auditlog.Checkpoint) ([]auditlog.Record, []auditlog.Checkpoint) {
		rs[1].Data = []byte(`{"actor":"mallory"}`)
		return rs, cps
	})
	rep, _ = auditlog.Verify(ctx, store, pub)
	fmt.Println(rep.Break.Kind, rep.Break.Seq)
	// Output:
	// true 3 entries
	// modified 2
}
