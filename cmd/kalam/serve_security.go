package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/kalamgo/kalam/kalamtest"
)

// securityFlags are the `kalam serve` flags of docs/SECURITY.md: the admin
// endpoint (off unless asked for) and the SQL resource limits.
type securityFlags struct {
	admin      bool
	adminToken string
	o          *kalamtest.Config
}

// addSecurityFlags registers the security flags on fs; their values land
// in o (the limits at once, the admin settings through apply).
func addSecurityFlags(fs *flag.FlagSet, o *kalamtest.Config) *securityFlags {
	f := &securityFlags{o: o}
	fs.BoolVar(&f.admin, "admin", false, "serve the fault/admin endpoint /_kalamtest/ (loopback only, token required)")
	fs.StringVar(&f.adminToken, "admin-token", "", "the admin endpoint's token (default: $KALAM_ADMIN_TOKEN, else generated and printed once)")
	fs.DurationVar(&o.StatementTimeout, "statement-timeout", kalamtest.DefaultStatementTimeout, "cancel an SQL statement that runs longer (negative: never)")
	fs.Int64Var(&o.SQLMemoryLimit, "sql-memory-limit", kalamtest.DefaultSQLMemoryLimit, "most memory SQLite may use, in `bytes` (negative: no limit)")
	fs.IntVar(&o.MaxValueBytes, "max-value-bytes", kalamtest.DefaultMaxValueBytes, "largest string or blob an SQL statement may build, in `bytes`")
	return f
}

// apply copies the admin settings and the limits into cfg.
func (f *securityFlags) apply(cfg *kalamtest.Config) {
	cfg.DisableAdmin = !f.admin
	cfg.AdminToken = f.adminToken
	if cfg.AdminToken == "" {
		cfg.AdminToken = os.Getenv("KALAM_ADMIN_TOKEN")
	}
	cfg.StatementTimeout, cfg.SQLMemoryLimit, cfg.MaxValueBytes = f.o.StatementTimeout, f.o.SQLMemoryLimit, f.o.MaxValueBytes
}

// announce prints the admin endpoint's state once, to stdout only (the
// logger never sees the token).
func (f *securityFlags) announce(stdout io.Writer, srv *kalamtest.Server) {
	if !f.admin {
		fmt.Fprintf(stdout, "  admin: off (--admin turns on %s/_kalamtest/)\n", srv.URL)
		return
	}
	if f.adminToken == "" && os.Getenv("KALAM_ADMIN_TOKEN") == "" {
		fmt.Fprintf(stdout, "  admin: %s/_kalamtest/ token: %s (generated; send it as X-Kalamtest-Admin)\n", srv.URL, srv.AdminToken())
		return
	}
	fmt.Fprintf(stdout, "  admin: %s/_kalamtest/ (token as given; send it as X-Kalamtest-Admin)\n", srv.URL)
}
