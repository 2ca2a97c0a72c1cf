package apitest

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// RunFunc is an example binary's run: it serves until ctx ends, calling
// ready with the listening address once it accepts connections.
type RunFunc func(ctx context.Context, args []string, stderr io.Writer, ready func(net.Addr)) error

// Host is a binary's run serving in the test's process.
type Host struct {
	// URL is "http://" and the listening address.
	URL string
	// Stderr is what the binary wrote to stderr.
	Stderr *SyncBuffer

	t      testing.TB
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// StartHost runs run with args on a goroutine and waits until it serves;
// it fails t, with the binary's stderr, when run returns first. When t
// ends the host is stopped, if Stop was not called, and an error run
// returned fails t.
func StartHost(t testing.TB, run RunFunc, args ...string) *Host {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := &Host{Stderr: &SyncBuffer{}, t: t, cancel: cancel, done: make(chan error, 1)}
	addrc := make(chan net.Addr, 1)
	go func() { h.done <- run(ctx, args, h.Stderr, func(a net.Addr) { addrc <- a }) }()
	select {
	case a := <-addrc:
		h.URL = "http://" + a.String()
	case err := <-h.done:
		cancel()
		t.Fatalf("run returned before serving: %v\n%s", err, h.Stderr.String())
	}
	t.Cleanup(func() {
		if err := h.Stop(); err != nil {
			t.Errorf("run: %v\n%s", err, h.Stderr.String())
		}
	})
	return h
}

// Stop cancels run's context, as SIGINT does, and returns run's error; it
// fails the test when run has not returned within 15 s. Later calls
// return the same error.
func (h *Host) Stop() error {
	h.once.Do(func() {
		h.cancel()
		select {
		case h.err = <-h.done:
		case <-time.After(15 * time.Second):
			h.t.Fatal("run did not return after the context was cancelled")
		}
	})
	return h.err
}
