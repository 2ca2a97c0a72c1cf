//go:build unix

package jobs

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// LocalOptions configure NewLocalRunner.
type LocalOptions struct {
	// MaxOutput bounds the bytes of stdout and of stderr kept per attempt
	// (default 1 MiB); the rest is counted and dropped.
	MaxOutput int
	// Dir is the working directory of the commands (default: the
	// process's).
	Dir string
	// Env is the environment of the commands (default: empty, so that
	// the host's secrets are not handed to every job). Give PATH here.
	Env []string
}

// LocalRunner runs a job's Command as a process of this host, the
// embedded default runner. Each attempt runs in a process group of its
// own (Setpgid); when the attempt's context ends, and again once the
// command exits, the whole group is killed (SIGKILL to -pgid), so that
// nothing a job started outlives its attempt. Image is ignored.
type LocalRunner struct {
	opts LocalOptions
}

// NewLocalRunner returns a LocalRunner.
func NewLocalRunner(opts LocalOptions) (*LocalRunner, error) {
	if opts.MaxOutput < 0 {
		return nil, mgmt.Invalid("maxOutput", "must be ≥ 0, got %d", opts.MaxOutput)
	}
	if opts.MaxOutput == 0 {
		opts.MaxOutput = 1 << 20
	}
	if opts.Dir != "" {
		if st, err := os.Stat(opts.Dir); err != nil || !st.IsDir() {
			return nil, mgmt.Invalid("dir", "%q is not a directory", opts.Dir)
		}
	}
	opts.Env = append([]string{}, opts.Env...)
	return &LocalRunner{opts: opts}, nil
}

var _ JobRunner = (*LocalRunner)(nil)

// Run implements JobRunner.
func (l *LocalRunner) Run(ctx context.Context, req RunRequest) (RunResult, error) {
	res := RunResult{ExitCode: -1}
	if len(req.Job.Command) == 0 {
		return res, mgmt.Invalid("command", "is required")
	}
	if err := ctx.Err(); err != nil {
		return res, mgmt.Unavailable("run %s: not started: %w", req.RunID, err)
	}
	stdout := &boundedBuffer{max: l.opts.MaxOutput}
	stderr := &boundedBuffer{max: l.opts.MaxOutput}
	cmd := exec.Command(req.Job.Command[0], req.Job.Command[1:]...)
	cmd.Dir = l.opts.Dir
	cmd.Env = l.opts.Env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A grandchild that keeps the output pipes open is killed with the
	// group; WaitDelay only bounds the copy should one escape the group.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return res, mgmt.Invalid("command[0]", "could not start %q: %v", req.Job.Command[0], err)
	}
	pgid := cmd.Process.Pid
	var (
		once   sync.Once
		killed bool
	)
	kill := func() { once.Do(func() { killed = true; _ = syscall.Kill(-pgid, syscall.SIGKILL) }) }
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
			kill()
		case <-done:
		}
	}()
	err := cmd.Wait()
	close(done)
	<-stopped
	// Whatever the command left behind in its group goes with it.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	res.Stdout, res.StdoutTruncated = stdout.buf, stdout.dropped > 0
	res.Stderr, res.StderrTruncated = stderr.buf, stderr.dropped > 0
	if killed {
		return res, mgmt.Unavailable("run %s: stopped: %w", req.RunID, context.Cause(ctx))
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			res.ExitCode = ee.ExitCode()
			return res, mgmt.Errorf(mgmt.KindInternal, "", "run %s: %v", req.RunID, err)
		}
		return res, mgmt.Errorf(mgmt.KindInternal, "", "run %s: %w", req.RunID, err)
	}
	res.ExitCode = 0
	return res, nil
}
