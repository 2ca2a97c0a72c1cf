package pgtest

import "syscall"

// sysProcAttr runs a program as as (when set) in a process group of its
// own, and has the kernel send it SIGQUIT (postgres: immediate shutdown)
// when the test binary dies without stopping it. Go sets the parent-death
// signal after changing the credentials, which would otherwise clear it.
func sysProcAttr(as *owner) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGQUIT}
	if as != nil {
		a.Credential = &syscall.Credential{Uid: as.uid, Gid: as.gid}
	}
	return a
}
