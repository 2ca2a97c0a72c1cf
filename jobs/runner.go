package jobs

import (
	"context"
	"time"
)

// RunRequest is one attempt of a run, as a JobRunner receives it.
type RunRequest struct {
	Job         Job // a copy: the runner may keep it
	RunID       string
	Attempt     int // 1, 2, …
	ScheduledAt time.Time
}

// RunResult is what an attempt produced. Stdout and Stderr hold at most
// the runner's output bound; Truncated says some was dropped.
type RunResult struct {
	ExitCode        int // -1 when the process did not exit on its own
	Stdout, Stderr  []byte
	StdoutTruncated bool
	StderrTruncated bool
}

// JobRunner executes one attempt of a run: the local process runner
// (NewLocalRunner, the default), and container runners behind the same
// seam: backends/kubernetes (batch/v1 Jobs) and backends/nomad (batch
// jobs). The conformance suite is
// jobs/jobstest.RunRunner.
//
// Run returns when the attempt has ended and nothing it started is left
// running: its error is nil only for a command that ran and exited 0; a
// non-zero exit is an error with the result's ExitCode set; when ctx ends
// (timeout, cancellation, Replace) Run stops the attempt — the whole of
// it, children included — and returns an error wrapping ctx's. Output
// gathered so far is returned with any error. A JobRunner is safe for
// concurrent use.
type JobRunner interface {
	Run(ctx context.Context, req RunRequest) (RunResult, error)
}

// RunnerFunc adapts a function to a JobRunner.
type RunnerFunc func(ctx context.Context, req RunRequest) (RunResult, error)

// Run calls f.
func (f RunnerFunc) Run(ctx context.Context, req RunRequest) (RunResult, error) { return f(ctx, req) }

// boundedBuffer keeps the first max bytes written to it and counts the
// rest.
type boundedBuffer struct {
	max     int
	buf     []byte
	dropped int64
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	room := b.max - len(b.buf)
	if room > 0 {
		n := min(room, len(p))
		b.buf = append(b.buf, p[:n]...)
		b.dropped += int64(len(p) - n)
	} else {
		b.dropped += int64(len(p))
	}
	return len(p), nil
}
