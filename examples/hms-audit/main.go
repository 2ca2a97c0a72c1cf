// Command hms-audit checks the audit chain (package auditlog) that a host
// keeps in its SQLite database, and makes the key that signs its
// checkpoints.
//
//	go run ./examples/hms-audit keygen -out audit.key
//	go run ./examples/hms-audit verify -db /var/lib/hms/sys.db -pubkey audit.key.pub
//	go run ./examples/hms-audit verify -postgres "$MGMT_POSTGRES_DSN" -pubkey audit.key.pub
//
// keygen writes an Ed25519 key pair: FILE, the private key, PEM of type
// "PRIVATE KEY" holding PKCS #8 (mode 0600), and FILE.pub, the public key,
// PEM of type "PUBLIC KEY" holding PKIX (SubjectPublicKeyInfo) — the forms
// of `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout`. It
// refuses to overwrite either.
//
// verify walks the chain from seq 1 (auditlog.Verify) and prints one line:
// "ok: …" and exit status 0, or "BROKEN: <kind> entry at seq N: …" and
// exit status 1, kind one of modified, deleted, inserted, reordered,
// truncated, bad-signature (a checkpoint). Exit status 2: the command
// could not check (usage, a missing file, a read error). It opens the
// database as the hosts do (sqlite.Open or postgres.Open, which bring an
// older schema up to date) and only reads the audit tables.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/hms-platform/mgmt/auditlog"
	"github.com/hms-platform/mgmt/backends/postgres"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/examples/internal/host"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage:
  hms-audit keygen -out FILE                 write an Ed25519 key pair: FILE and FILE.pub (PEM)
  hms-audit verify -db PATH -pubkey FILE     verify the audit chain in a SQLite database
  hms-audit verify -postgres DSN -pubkey FILE            … or in a PostgreSQL database
`

// run runs the command of args and returns the exit status: 0 ok, 1 a
// broken chain, 2 anything else.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("hms-audit "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var err error
	code := 0
	switch args[0] {
	case "keygen":
		out := fs.String("out", "", "the private key's file; the public key goes to FILE.pub")
		if fs.Parse(args[1:]) != nil {
			return 2
		}
		if *out == "" || fs.NArg() > 0 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		err = host.WriteKeyPair(*out)
		if err == nil {
			fmt.Fprintf(stdout, "wrote %s (private, keep it secret) and %s.pub (public, for verify)\n", *out, *out)
		}
	case "verify":
		db := fs.String("db", "", "the SQLite database file")
		dsn := fs.String("postgres", "", "the PostgreSQL database (a DSN), instead of -db")
		pubkey := fs.String("pubkey", "", "the public key (PEM, PKIX), from keygen")
		if fs.Parse(args[1:]) != nil {
			return 2
		}
		if (*db == "") == (*dsn == "") || *pubkey == "" || fs.NArg() > 0 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		var rep auditlog.Report
		rep, err = verify(ctx, *db, *dsn, *pubkey)
		if err == nil {
			fmt.Fprintln(stdout, rep)
			if !rep.OK() {
				code = 1
			}
		}
	default:
		fmt.Fprint(stderr, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "hms-audit:", err)
		return 2
	}
	return code
}

func verify(ctx context.Context, db, dsn, pubFile string) (auditlog.Report, error) {
	pub, err := host.ReadPublicKey(pubFile)
	if err != nil {
		return auditlog.Report{}, err
	}
	if dsn != "" {
		s, err := postgres.Open(ctx, postgres.Options{DSN: dsn})
		if err != nil {
			return auditlog.Report{}, err
		}
		defer s.Close()
		return auditlog.Verify(ctx, s.Audit(), pub)
	}
	// Open would create a missing file, and an empty chain verifies.
	if st, err := os.Stat(db); err != nil {
		return auditlog.Report{}, err
	} else if !st.Mode().IsRegular() {
		return auditlog.Report{}, errors.New(db + ": not a regular file")
	}
	s, err := sqlite.Open(ctx, sqlite.Options{Path: db})
	if err != nil {
		return auditlog.Report{}, err
	}
	defer s.Close()
	return auditlog.Verify(ctx, s.Audit(), pub)
}
