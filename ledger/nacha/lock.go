package nacha

import "context"

// Locker is a FileSink that processes share and that serializes their
// settlements: [Settler.Settle] holds its lock while it reads the
// recorded files and records new ones, so that two processes settling
// over one sink never put a transfer in two files. A sink without it
// must have one settler at a time.
type Locker interface {
	// Lock waits for the sink's lock, or for ctx to end, and returns the
	// function that releases it.
	Lock(ctx context.Context) (unlock func(), err error)
}
