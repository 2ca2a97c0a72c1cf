// Package logship ships structured logs and audit events to a search
// cluster, at least once, through a durable and bounded queue.
//
// Producers (Handler, an slog.Handler; Auditor, an mgmt.Auditor) add
// Records to a Buffer, which enqueues them into a Queue (MemQueue here,
// the SQLite one in backends/sqlite) and applies the full policy when the
// queue's row or byte bound is reached: DropNewest (count, and one log
// line per N drops to a fallback handler) or Block up to a deadline, then
// drop. Nothing is ever held in memory past the queue's bounds and no
// drop is silent.
//
// A Shipper reads due batches from the queue, sends them to a Sink
// (backends/bulk: Elasticsearch, OpenSearch, VictoriaLogs) and settles
// each record by its own outcome: delivered records are acked; records
// refused for a while (429, 5xx) are retried alone, with exponential
// backoff and jitter on the injected clock; records refused for good
// (other 4xx) go to the dead letters with the reason; a 413 halves the
// batch; a failed request retries every record of it. Stats count per
// record.
//
// Concurrency: Buffer, Handler, Auditor and the queues are safe for
// concurrent use; a queue has one Shipper, whose Run runs in one
// goroutine.
package logship
