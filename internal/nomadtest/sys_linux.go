package nomadtest

import "syscall"

// sysProcAttr runs the agent in a process group of its own and has the
// kernel kill it when the test binary dies without stopping it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
