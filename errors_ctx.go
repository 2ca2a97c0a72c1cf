package mgmt

import "context"

var (
	errDeadline = context.DeadlineExceeded
	errCanceled = context.Canceled
)
