// Package storeopen opens the store that --db names, for every command: a
// postgres:// or postgresql:// URL is a PostgreSQL database (core/pgstore),
// anything else the path of a bbolt file (core/boltstore).
package storeopen

import (
	"context"
	"net/url"
	"strings"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
	"github.com/deputyhq/deputy/core/pgstore"
)

// IsPostgres reports whether db is a PostgreSQL URL rather than a file path.
func IsPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// Open opens the store db names. A bbolt file is created when missing; a
// PostgreSQL database must exist, and its schema is brought up to date. The
// pool size of a PostgreSQL store is the URL's pool_max_conns, or
// pgstore.DefaultMaxConns.
func Open(ctx context.Context, db string) (core.Store, error) {
	if IsPostgres(db) {
		return pgstore.Open(ctx, db, pgstore.Options{})
	}
	return boltstore.Open(db, boltstore.Options{})
}

// Redacted is db fit for logs and messages: a URL's password is replaced by
// "xxxxx" (a query's password parameters, sslpassword included, are
// dropped), a path is as it is.
func Redacted(db string) string {
	if !IsPostgres(db) {
		return db
	}
	u, err := url.Parse(db)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	q, dropped := u.Query(), false
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") { // password, sslpassword
			q.Del(k)
			dropped = true
		}
	}
	if dropped {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
