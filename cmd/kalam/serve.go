package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/kalamgo/kalam/kalamtest"
)

// userFlags collects repeated --user name:password[:role] values.
type userFlags []kalamtest.User

func (u *userFlags) String() string { return fmt.Sprintf("%d user(s)", len(*u)) }

func (u *userFlags) Set(v string) error {
	name, rest, ok := strings.Cut(v, ":")
	if !ok || name == "" || rest == "" {
		return errors.New("want name:password[:role]")
	}
	pw, role := rest, ""
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		switch r := rest[i+1:]; r {
		case "user", "service", "dba", "system":
			pw, role = rest[:i], r
		}
	}
	*u = append(*u, kalamtest.User{Name: name, Password: pw, Role: role})
	return nil
}

// runServe runs a kalamtest server until ctx ends (SIGINT/SIGTERM), then
// shuts it down gracefully.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kalam serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:2900", "listen address `host:port`")
	rootPW := fs.String("root-password", "", "root's password (default: $KALAM_ROOT_PASSWORD, else generated and printed once)")
	dataDir := fs.String("data-dir", "", "keep the database in this `directory` (default: in memory)")
	accessTTL := fs.Duration("access-ttl", 0, "access-token lifetime (default 24h; refresh tokens live 7 times longer)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	grace := fs.Duration("shutdown-timeout", 5*time.Second, "how long a graceful shutdown may take")
	sec := addSecurityFlags(fs, &kalamtest.Config{})
	var users userFlags
	fs.Var(&users, "user", "seed a user, `name:password[:role]` (repeatable; role defaults to user)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: kalam serve [flags]\n\nRuns a local KalamDB-compatible server for development and tests.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kalam serve: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "kalam serve: bad --log-level %q\n", *logLevel)
		return errUsage
	}
	pw := *rootPW
	if pw == "" {
		pw = os.Getenv("KALAM_ROOT_PASSWORD")
	}
	cfg := kalamtest.Config{
		Addr:           *addr,
		RootPassword:   pw,
		DataDir:        *dataDir,
		JWTSecret:      os.Getenv("KALAM_JWT_SECRET"),
		AccessTokenTTL: *accessTTL,
		Users:          users,
		Logger:         slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	sec.apply(&cfg)
	srv, err := kalamtest.Start(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "kalam serve: KalamDB-compatible development server\n")
	fmt.Fprintf(stdout, "  http: %s\n", srv.URL)
	fmt.Fprintf(stdout, "  ws:   %s\n", srv.WSURL())
	if pw == "" {
		// Printed once, to stdout only; the logger never sees it.
		fmt.Fprintf(stdout, "  root password: %s (generated)\n", srv.RootPassword())
	}
	sec.announce(stdout, srv)
	fmt.Fprintf(stdout, "Press Ctrl+C to stop.\n")

	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	fmt.Fprintf(stdout, "kalam serve: stopped\n")
	return nil
}
