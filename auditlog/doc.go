// Package auditlog keeps every mgmt.AuditEvent in one tamper-evident
// trail: the entries are chained by SHA-256, stored durably behind the
// Store seam (backends/sqlite, or Memory in tests), and signed with
// Ed25519 in checkpoints every N entries or T of time. Verify walks a
// stored chain in one streaming pass and names the first break.
//
// # The chain
//
// Entry n (Seq from 1) holds the canonical encoding of its event
// (Canonical) and
//
//	Hash(n) = SHA-256(Hash(n-1) || Canonical(event) || uint64be(n))
//
// with Hash(0) the 32 zero bytes. PrevHash and Seq are of fixed length, so
// the hashed bytes split one way only. A Checkpoint signs (Ed25519) the
// message of CheckpointMessage: a fixed prefix, the seq, the chain's hash
// at that seq and the checkpoint's time. The chain up to the last
// checkpoint cannot be changed, shortened or reordered without the
// private key; entries after it are protected by the links alone (an
// attacker with write access can rewrite that tail), until the next
// checkpoint.
//
// # Writing
//
// Log is an mgmt.Auditor. Audit puts the event in a bounded buffer and
// returns; one goroutine takes what is buffered (up to MaxBatch), chains
// it and stores it in one Store.Append (one transaction: group commit),
// and signs a checkpoint when due. When the buffer is full, the policy
// (Options.Full) applies: Block (the default) waits up to BlockFor, then
// drops the event, counts it (Log.Dropped) and logs it at level Error;
// Drop drops at once, counted and logged the same way. Close flushes what
// is buffered and signs a last checkpoint.
//
// # Concurrency
//
// Log's methods are safe for concurrent use. Verify only reads.
//
//	l, err := auditlog.New(ctx, auditlog.Options{Store: store, Key: priv})
//	if err != nil {
//		return err
//	}
//	defer l.Close(ctx)
//	l.Audit(ctx, mgmt.AuditEvent{Actor: "alice", Action: "patch.approve", …})
//	…
//	rep, err := auditlog.Verify(ctx, store, pub)
//	if err == nil && rep.Break != nil {
//		fmt.Println("first break:", rep.Break) // e.g. "modified entry at seq 42: …"
//	}
package auditlog
