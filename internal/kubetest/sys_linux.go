package kubetest

import "syscall"

// sysProcAttr runs a server in a process group of its own and has the
// kernel kill it when the test binary dies without stopping it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
