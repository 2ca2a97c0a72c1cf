package host

import (
	"net/url"
	"strings"
)

// IsPostgres reports whether a -db value names a PostgreSQL database (a
// postgres:// or postgresql:// URL) rather than a SQLite file.
func IsPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// ShownDB is a -db value as logs and errors show it: a PostgreSQL URL
// without its password.
func ShownDB(db string) string {
	if !IsPostgres(db) {
		return db
	}
	u, err := url.Parse(db)
	if err != nil {
		return "postgres://(unparsable URL, not shown)"
	}
	return u.Redacted()
}
