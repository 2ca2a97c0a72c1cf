//go:build unix

package nacha

import (
	"context"
	"os"
	"path/filepath"
	"syscall"

	mgmt "github.com/hms-platform/mgmt"
)

// lockName is the lock file of a DirSink: not a valid file name, so List
// never shows it.
const lockName = ".lock"

var _ Locker = (*DirSink)(nil)

// Lock takes an exclusive flock(2) on the directory's lock file, which
// serializes the processes settling over the directory on one machine
// (and on network file systems that carry flock, such as NFSv4).
func (d *DirSink) Lock(ctx context.Context) (func(), error) {
	f, err := os.OpenFile(filepath.Join(d.dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, mgmt.Errorf(mgmt.KindUnavailable, "dir", "opening the settlement directory's lock: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }()
	select {
	case err := <-done:
		if err != nil {
			f.Close()
			return nil, mgmt.Errorf(mgmt.KindUnavailable, "dir", "locking the settlement directory: %w", err)
		}
		return func() { f.Close() }, nil // closing the file releases the lock
	case <-ctx.Done():
		// The flock may still be granted: release it then.
		go func() {
			<-done
			f.Close()
		}()
		return nil, mgmt.Errorf(mgmt.KindUnavailable, "", "nacha: waiting for the settlement directory's lock: %w", ctx.Err())
	}
}
