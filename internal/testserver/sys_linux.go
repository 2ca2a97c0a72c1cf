package testserver

import "syscall"

// setDeathSignal has the kernel send sig to the process when the test
// binary dies. Go sets it after changing the credentials, which would
// otherwise clear it.
func setDeathSignal(a *syscall.SysProcAttr, sig syscall.Signal) { a.Pdeathsig = sig }
