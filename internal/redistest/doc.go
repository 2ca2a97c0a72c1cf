// Package redistest runs a throw-away redis-server for tests.
//
// Start is the one-test form: a server of its own, stopped (and its
// directory removed) when the test ends:
//
//	srv := redistest.Start(t, redistest.Config{})
//	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr()}) // 127.0.0.1:PORT
//
// A package with many tests shares one server instead: Main wraps
// TestMain, starts the server the first time a test asks for it, and stops
// it when the tests end. Each test takes a logical database of its own
// (NewDB, SELECT n; flushed and handed back when the test ends), so tests
// never see each other's keys:
//
//	var srv *redistest.Server
//
//	func TestMain(m *testing.M) { redistest.Main(m, redistest.Config{}, func(s *redistest.Server) { srv = s }) }
//
//	func TestX(t *testing.T) {
//		db := srv.NewDB(t)
//		rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), DB: db})
//		…
//	}
//
// # Finding Redis
//
// The binary comes from $REDISTEST_BIN when set, else
// /usr/bin/redis-server (Debian's package), else redis-server on PATH.
// When none is found the test is skipped with a message saying how to
// install it (`make test` does, via scripts/debs.sh; or `apt-get install
// redis-server`) — unless CI=true, where it fails. Any other start-up
// failure fails the test, with the server's log in the message.
//
// # The server
//
// redis-server runs in the foreground (--daemonize no) in a directory made
// by os.MkdirTemp ("redistest-*", its --dir), listening on 127.0.0.1 only
// (--bind 127.0.0.1, --protected-mode yes) on a free port (bind port 0,
// then hand it over; on a collision it retries with another), so it never
// collides with a system Redis on 6379. Persistence is the append-only
// file alone: --appendonly yes with --appendfsync Config.AppendFsync
// ("everysec" by default: a write is in the kernel's page cache when Redis
// answers, so it survives the server being killed, and on disk within
// about a second; "always" fsyncs before answering), and no RDB snapshots
// (--save ""). It has Config.Databases logical databases (1024 by
// default) for NewDB, and a listen backlog of 4096 (--tcp-backlog, capped
// by net.core.somaxconn) for tests that open a thousand connections at once. Start-up returns once PING answers PONG (after the
// AOF is loaded).
//
// # Crashes and restarts
//
// Kill stops the server with SIGKILL (a crash) and Shutdown with SIGTERM
// (Redis flushes the AOF and exits); both keep the directory and the port,
// and Restart starts the server again on the same port with the same
// directory, so it reloads what the AOF holds. Clients see connection
// errors in between.
//
// # Clean-up
//
// Stop (called by Main after the tests, and by Start's cleanup) sends
// SIGTERM, then SIGKILL to the process group after a grace period, and
// removes the directory. If the test binary dies instead (a panic, a
// timeout, a signal), the kernel kills the server (the parent-death signal,
// on Linux) and the next server removes directories whose test binary and
// server are both gone.
//
// Server's methods are safe for concurrent use.
package redistest
