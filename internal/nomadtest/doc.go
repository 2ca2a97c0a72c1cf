// Package nomadtest runs a throw-away Nomad server for a package's tests.
//
// One server serves a whole test binary: Main wraps TestMain, starts the
// server the first time a test asks for it, and stops it and removes its
// data directory when the tests end:
//
//	var srv *nomadtest.Server
//
//	func TestMain(m *testing.M) { nomadtest.Main(m, func(s *nomadtest.Server) { srv = s }) }
//
//	func TestX(t *testing.T) {
//		addr := srv.Address(t) // http://127.0.0.1:PORT
//		…
//	}
//
// Start(t) is the one-test form: a server of its own, stopped at the end
// of t. Tests sharing a server keep apart by using a Nomad namespace, or
// job IDs, of their own.
//
// # Finding Nomad
//
// The binary comes from $NOMAD_BIN when set, else from the cache that
// scripts/nomad.sh builds into
// (${XDG_CACHE_HOME:-$HOME/.cache}/hms-mgmt/bin/nomad-1.10.0), else from
// "nomad" on PATH. When none is found, a test asking for the server is
// skipped with a message saying how to build it (`make test` does, via
// scripts/nomad.sh) — unless CI=true, where it fails. Any other start-up
// failure fails the test, with the agent's log in the message.
//
// # The server
//
// `nomad agent` runs server-only — server { enabled = true,
// bootstrap_expect = 1 }, client { enabled = false } — because the client
// part does not start in the build scripts/nomad.sh makes, and the tests
// need none: jobs register, counts change and scaling events are
// recorded, but no allocation ever runs. It binds and advertises
// 127.0.0.1 only, on free HTTP, RPC and Serf ports (chosen by binding
// port 0; on a collision it retries with others), with its data_dir in a
// directory made by os.MkdirTemp ("nomadtest-*") in /dev/shm when that is
// a writable directory (no disk syncs: a scale request takes about 4 ms
// instead of 9 here), else in os.TempDir(); ACLs off, no update
// check, no Consul or Vault. The server is ready when it has elected
// itself leader (GET /v1/status/leader) and answers GET /v1/jobs.
//
// # Clean-up
//
// Stop (called by Main after the tests, and by Start's cleanup) interrupts
// the agent, kills it if it has not exited within a few seconds, and
// removes the directory, also when tests failed. If the test binary dies
// instead (a panic in a test, a timeout, a signal), the kernel kills the
// agent (the parent-death signal, on Linux) and the next Start removes
// directories whose test binary is gone.
//
// Server's methods are safe for concurrent use.
package nomadtest
