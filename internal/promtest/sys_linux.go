package promtest

import "syscall"

// sysProcAttr runs Prometheus in a process group of its own and has the
// kernel send it SIGTERM when the test binary dies without stopping it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
