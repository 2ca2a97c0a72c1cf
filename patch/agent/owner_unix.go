//go:build unix

package agent

import (
	"os"
	"syscall"
)

// keepOwner gives f the owner and group of the file at path, when there
// is one and the process may (a root sidecar editing a file owned by the
// service's user). Failures are ignored: the mode is what matters.
func keepOwner(f *os.File, path string) {
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != os.Geteuid() || int(st.Gid) != os.Getegid()) {
		_ = f.Chown(int(st.Uid), int(st.Gid))
	}
}
