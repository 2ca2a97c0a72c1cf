//go:build !linux

package kubetest

import "syscall"

// sysProcAttr runs a server in a process group of its own. Without a
// parent-death signal, servers whose test binary died are left running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
