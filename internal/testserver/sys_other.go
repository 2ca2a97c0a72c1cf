//go:build !linux

package testserver

import "syscall"

// setDeathSignal does nothing: without a parent-death signal, a server
// whose test binary died is left running.
func setDeathSignal(*syscall.SysProcAttr, syscall.Signal) {}
