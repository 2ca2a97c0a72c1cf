package logship

import "context"

// Outcome is what a sink says of one record it was sent.
type Outcome int

// The outcomes of one record.
const (
	// Delivered: stored (for Elasticsearch, a 201, or a 409 on create:
	// a document with our own _id is there already).
	Delivered Outcome = iota
	// RetryLater: a transient refusal (429, 5xx): send this record again,
	// alone, after a backoff.
	RetryLater
	// Rejected: never deliverable as it is (other 4xx): dead-letter it.
	Rejected
	// TooLarge: the request was too large (413): send the record again
	// in a smaller batch.
	TooLarge
)

func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case RetryLater:
		return "retry"
	case Rejected:
		return "dead"
	case TooLarge:
		return "split"
	}
	return "unknown"
}

// Result is the outcome of one record of a Send.
type Result struct {
	Outcome Outcome
	Status  int    // the HTTP status of the item, when there is one
	Reason  string // why, for RetryLater, Rejected and TooLarge
}

// Sink delivers records to a log store.
type Sink interface {
	// Send delivers rs and returns one Result per record, in order. An
	// error means the request as a whole failed (network, timeout, a
	// response that cannot be read): every record is retried. A request
	// refused as too large is not an error: every Result says TooLarge.
	Send(ctx context.Context, rs []Record) ([]Result, error)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(ctx context.Context, rs []Record) ([]Result, error)

// Send calls f.
func (f SinkFunc) Send(ctx context.Context, rs []Record) ([]Result, error) { return f(ctx, rs) }
