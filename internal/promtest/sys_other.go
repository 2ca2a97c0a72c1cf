//go:build !linux

package promtest

import "syscall"

// sysProcAttr runs Prometheus in a process group of its own. Without a
// parent-death signal, a server whose test binary died is left running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
