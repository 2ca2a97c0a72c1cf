// Package testserver holds what the real-server test harnesses (pgtest,
// nomadtest, promtest) share: finding out whether a missing server should
// skip or fail a test, free ports, a server's log, its temporary directory
// and the clean-up of directories left by a test binary that died, running
// the server process so that it dies with the test binary, and TestMain.
//
// # Missing servers
//
// A harness whose server binary is not installed calls Unavailable: the
// test is skipped with the error, saying how to make it a failure, unless
// CI=true (InCI), where it fails.
//
// # Processes
//
// Start runs a server in a process group of its own (Setpgid), optionally
// as another user (Options.Credential), and on Linux with a parent-death
// signal (Options.DeathSignal), so the kernel stops the server when the
// test binary dies without stopping it. Process.Stop sends
// Options.StopSignal, waits up to a grace period, then sends SIGKILL to
// the process group.
//
// # Directories
//
// MkdirTemp makes a server's directory and records the test binary's pid
// in it (OwnerFile). Sweep removes the directories matching a glob whose
// recorded test binary has gone.
//
// # Lazy servers
//
// Lazy is the life of a server shared by a package's tests: it starts on
// first use (Ready, Require), once, and stops once (Stop); a harness's
// Server embeds it and supplies start and stop. Teardown stops a server's
// process and removes its directory.
//
// # TestMain
//
// Main runs a package's tests, stops the server when they end or on
// SIGINT/SIGTERM, and prints the end of the server's log when they fail.
package testserver
