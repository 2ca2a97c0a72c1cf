//go:build !linux

package pgtest

import "syscall"

// sysProcAttr runs a program as as (when set) in a process group of its
// own. Without a parent-death signal, a server whose test binary died is
// left running.
func sysProcAttr(as *owner) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if as != nil {
		a.Credential = &syscall.Credential{Uid: as.uid, Gid: as.gid}
	}
	return a
}
