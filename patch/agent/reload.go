package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// Reloader makes the service read its config file again after the agent
// rewrote it. An error means the service may not run the new config: the
// agent restores the previous file and acknowledges FAILED.
type Reloader interface {
	Reload(ctx context.Context) error
}

// ReloaderFunc adapts a function to Reloader.
type ReloaderFunc func(ctx context.Context) error

// Reload calls f.
func (f ReloaderFunc) Reload(ctx context.Context) error { return f(ctx) }

// SignalReloader returns a Reloader that sends sig (SIGHUP when 0) to
// process pid, as the seed's `pkill -HUP nginx` does. A signal that cannot
// be delivered (the process is gone, or belongs to another user) is a
// reload error. Delivery does not prove the service accepted the config:
// use CommandReloader with a command that checks, when the service has one.
func SignalReloader(pid int, sig syscall.Signal) (Reloader, error) {
	if pid <= 0 {
		return nil, mgmt.Invalid("reload.pid", "%d is not a process ID", pid)
	}
	if sig == 0 {
		sig = syscall.SIGHUP
	}
	return ReloaderFunc(func(ctx context.Context) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return signal(pid, sig)
	}), nil
}

// PIDFileReloader returns a Reloader that reads a process ID from the file
// at path (as nginx and most daemons write one) at each reload and sends
// sig (SIGHUP when 0) to it. A missing or malformed file is a reload error.
func PIDFileReloader(path string, sig syscall.Signal) (Reloader, error) {
	if path == "" {
		return nil, mgmt.Invalid("reload.pidfile", "is required")
	}
	if sig == 0 {
		sig = syscall.SIGHUP
	}
	return ReloaderFunc(func(ctx context.Context) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("reading pid file: %w", err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 {
			return fmt.Errorf("pid file %s does not hold a process ID", path)
		}
		return signal(pid, sig)
	}), nil
}

func signal(pid int, sig syscall.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return fmt.Errorf("reload: process %d: %w", pid, err)
	}
	defer p.Release()
	if err := p.Signal(sig); err != nil {
		return fmt.Errorf("reload: sending %v to process %d: %w", sig, pid, err)
	}
	return nil
}

// CommandError is a reload command that failed. Output holds the end of
// what it wrote (stdout and stderr); it is logged at debug level only and
// kept out of acknowledgements, as it may quote the config.
type CommandError struct {
	Argv   []string
	Err    error
	Output string
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("reload command %q: %v", strings.Join(e.Argv, " "), e.Err)
}

func (e *CommandError) Unwrap() error { return e.Err }

// maxOutput bounds the command output a CommandError keeps.
const maxOutput = 4096

// CommandReloader returns a Reloader that runs argv (no shell), such as
// []string{"nginx", "-s", "reload"}, and fails when it exits non-zero or
// runs longer than timeout (then it is killed). A timeout of 0 means 30
// seconds.
func CommandReloader(argv []string, timeout time.Duration) (Reloader, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, mgmt.Invalid("reload.command", "is empty")
	}
	if timeout < 0 {
		return nil, mgmt.Invalid("reload.timeout", "%v is negative", timeout)
	}
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	argv = append([]string(nil), argv...)
	return ReloaderFunc(func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		var out tailBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.WaitDelay = time.Second
		err := cmd.Run()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %v: %w", timeout, err)
		}
		return &CommandError{Argv: argv, Err: err, Output: out.String()}
	}), nil
}

// tailBuffer keeps the last maxOutput bytes written to it.
type tailBuffer struct{ b bytes.Buffer }

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > maxOutput {
		p = p[len(p)-maxOutput:]
	}
	if over := t.b.Len() + len(p) - maxOutput; over > 0 {
		t.b.Next(over)
	}
	t.b.Write(p)
	return n, nil
}

func (t *tailBuffer) String() string { return t.b.String() }
