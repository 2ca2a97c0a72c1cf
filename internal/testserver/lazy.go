package testserver

import (
	"errors"
	"sync"
	"testing"
)

// Lazy is the life of a server that starts on first use and stops once:
// the part of a harness's Server that does not depend on the server.
// Make it with NewLazy; its methods are safe for concurrent use.
type Lazy struct {
	name         string
	notInstalled error
	start, stop  func() error

	once     sync.Once
	startErr error

	mu      sync.Mutex // serialises start and stop
	stopped bool
}

// NewLazy returns a Lazy whose first Ready calls start and whose first
// Stop calls stop (after start, if that has begun). start must undo what
// it did before it fails. name (the harness's) prefixes errors; a start
// error that wraps notInstalled makes Require skip the test outside CI.
func NewLazy(name string, notInstalled error, start, stop func() error) *Lazy {
	return &Lazy{name: name, notInstalled: notInstalled, start: start, stop: stop}
}

// Ready starts the server if it is not running yet and reports the
// start-up error, the same one every time.
func (l *Lazy) Ready() error {
	l.once.Do(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if !l.stopped {
			l.startErr = l.start()
		}
	})
	if l.startErr != nil {
		return l.startErr
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return errors.New(l.name + ": the server is stopped")
	}
	return nil
}

// Require starts the server if it is not running yet. When it is not
// installed it skips t (fails it under CI=true; see Unavailable); any
// other start-up failure fails t.
func (l *Lazy) Require(t testing.TB) {
	t.Helper()
	err := l.Ready()
	if err == nil {
		return
	}
	if errors.Is(err, l.notInstalled) {
		Unavailable(t, err)
	} else {
		t.Fatal(err)
	}
}

// Stop stops the server; later calls, and Ready, do nothing more. A
// server stopped before it started never starts.
func (l *Lazy) Stop() error {
	l.once.Do(func() { l.startErr = errors.New(l.name + ": the server was stopped before it started") })
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return nil
	}
	l.stopped = true
	return l.stop()
}

// StopOnCleanup has stop called when t ends, failing t if it fails.
func StopOnCleanup(t testing.TB, stop func() error) {
	t.Helper()
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
}
