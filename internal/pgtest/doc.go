// Package pgtest runs a throw-away PostgreSQL server for a package's tests.
//
// One server serves a whole test binary: Main wraps TestMain, starts the
// server the first time a test asks for a database, and stops it and
// removes its data directory when the tests end. Each test gets a database
// of its own, created from template0, so tests never see each other's data:
//
//	var srv *pgtest.Server
//
//	func TestMain(m *testing.M) { pgtest.Main(m, func(s *pgtest.Server) { srv = s }) }
//
//	func TestX(t *testing.T) {
//		dsn := srv.NewDatabase(t) // postgres://postgres@127.0.0.1:PORT/…?sslmode=disable
//		…
//	}
//
// Start(t) is the one-test form: a server of its own, stopped at the end
// of t.
//
// # Finding PostgreSQL
//
// The binaries (initdb and postgres, PostgreSQL 13 or newer) come from
// $PGTEST_BINDIR when set, else from the newest
// /usr/lib/postgresql/<version>/bin (Debian's layout), else from PATH.
// When none is found, a test asking for a database is skipped with a
// message saying how to install it (`make test` does, via scripts/debs.sh;
// or `apt-get install postgresql`) — unless CI=true, where it fails. Any
// other start-up failure fails the test, with the server's log in the
// message.
//
// # The server
//
// initdb runs with trust authentication for the user "postgres", UTF-8 and
// the C locale, in a directory made by os.MkdirTemp ("pgtest-*"). The
// server listens on 127.0.0.1 only, on a free port (chosen by binding port
// 0; on a collision it retries with another), with its unix socket in that
// directory, so it never collides with a system cluster on 5432. Durability
// settings keep PostgreSQL's defaults (fsync on, synchronous_commit on), so
// what the tests and benchmarks measure is durable ingest; only initdb's
// own final sync of the fresh cluster is skipped (--no-sync).
// max_connections is 200, as several test pools may be open at once.
//
// As root (initdb and postgres refuse to run as root) the directory is
// handed to the "postgres" user and both programs run with its uid and gid.
//
// # Clean-up
//
// Stop (called by Main after the tests, and by Start's cleanup) shuts the
// server down immediately and removes the directory, also when tests
// failed. If the test binary dies instead (a panic in a test, a timeout, a
// signal), the kernel stops the server (the parent-death signal, on Linux)
// and the next Start removes directories whose test binary and server are
// both gone.
//
// Server's methods are safe for concurrent use.
package pgtest
