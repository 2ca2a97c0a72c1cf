//go:build !linux

package nomadtest

import "syscall"

// sysProcAttr runs the agent in a process group of its own. Without a
// parent-death signal, an agent whose test binary died is left running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
