package apitest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// ChildMain, called first thing in a host package's TestMain, makes the
// test binary the host itself when the environment variable env holds its
// arguments (one per line): it runs run, prints "listening ADDR" on
// stdout once it serves, and exits when stdin closes (its test ended) if
// nobody killed it first. Otherwise it returns and the tests run.
func ChildMain(env string, run RunFunc) {
	args := os.Getenv(env)
	if args == "" {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	err := run(ctx, strings.Split(args, "\n"), os.Stderr, func(a net.Addr) { fmt.Println("listening", a) })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Child is a host running in a process of its own (ChildMain), for tests
// that kill it.
type Child struct {
	Cmd *exec.Cmd
	// URL is "http://" and the address it listens on.
	URL    string
	Stderr *SyncBuffer
	stdin  io.Closer
}

// StartChild starts the test binary as the host with args (through the
// variable env that TestMain hands to ChildMain) and returns once it
// serves. The test's end stops it, and shows its stderr when the test
// failed.
func StartChild(t *testing.T, env string, args []string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"="+strings.Join(args, "\n"))
	c := &Child{Cmd: cmd, Stderr: &SyncBuffer{}}
	cmd.Stderr = c.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.stdin = stdin
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("the child's stderr:\n%s", c.Stderr)
		}
	})
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatalf("the child did not start: %s", c.Stderr)
	}
	addr, ok := strings.CutPrefix(sc.Text(), "listening ")
	if !ok {
		t.Fatalf("the child printed %q", sc.Text())
	}
	c.URL = "http://" + addr
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return c
}

// Kill sends SIGKILL (no shutdown, no deferred code, no Close) and waits
// for the process to end.
func (c *Child) Kill() {
	_ = c.Cmd.Process.Signal(syscall.SIGKILL)
	_ = c.Cmd.Wait()
}

// Stop closes the child's stdin, which makes it shut down gracefully, and
// waits for it to exit.
func (c *Child) Stop() {
	c.stdin.Close()
	_ = c.Cmd.Wait()
}
