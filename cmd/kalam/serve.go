package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kalamgo/kalam/kalamtest"
)

// userFlags collects repeated --user name:password[:role] values.
type userFlags []kalamtest.User

func (u *userFlags) String() string {
	if len(*u) == 0 {
		return ""
	}
	return fmt.Sprintf("%d user(s)", len(*u))
}
func (u *userFlags) Type() string { return "name:password[:role]" }

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

// Files kept in --data-dir next to the database, mode 0600.
const (
	rootPasswordFile = "root-password"
	jwtSecretFile    = "jwt-secret"
)

func (a *app) serveCommand() *cobra.Command {
	var (
		cfg      kalamtest.Config
		rootPW   string
		logLevel string
		grace    time.Duration
		users    userFlags
		sec      *securityFlags
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "run a local KalamDB-compatible server (kalamtest) for development and tests",
		Long: `Runs a local KalamDB-compatible server on SQLite, for development and tests.

Root's password comes from --root-password, else $KALAM_ROOT_PASSWORD, else it
is generated. With --data-dir a generated password (and the key that signs
tokens) is saved in that directory, readable by you only (mode 0600), so it
stays the same across restarts and cached logins keep working. The start banner
prints "export" lines to paste into another shell.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usageErr("bad --log-level %q: use debug, info, warn or error", logLevel)
			}
			if !cmd.Flags().Changed("log-level") && a.conn.verbose {
				level = slog.LevelDebug
			}
			cfg.Users = users
			cfg.Logger = slog.New(slog.NewTextHandler(a.io.err, &slog.HandlerOptions{Level: level}))
			return a.serve(cmd.Context(), cfg, sec, rootPW, grace)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", "127.0.0.1:2900", "listen address host:port")
	f.StringVar(&rootPW, "root-password", "", "root's password (default: $KALAM_ROOT_PASSWORD, else the one saved in --data-dir, else generated)")
	f.StringVar(&cfg.DataDir, "data-dir", "", "keep the database (and a generated password) in this directory (default: in memory)")
	f.DurationVar(&cfg.AccessTokenTTL, "access-ttl", 0, "access-token lifetime (default 24h; refresh tokens live 7 times longer)")
	f.StringVar(&logLevel, "log-level", "warn", "server log level: debug, info, warn or error (-v: debug)")
	f.DurationVar(&grace, "shutdown-timeout", 5*time.Second, "how long a graceful shutdown may take")
	f.Var(&users, "user", "seed a user, name:password[:role] (repeatable; role defaults to user)")

	// Flags of other parts of the server, on the standard library's flag
	// package, plug in here: one line each, then they join the command.
	goFlags := flag.NewFlagSet("serve", flag.ContinueOnError)
	addCORSFlags(goFlags, &cfg)
	addLimitFlags(goFlags, &cfg)
	sec = addSecurityFlags(goFlags, &cfg)
	f.AddGoFlagSet(goFlags)
	return cmd
}

// serve runs a kalamtest server until ctx ends (SIGINT/SIGTERM), then shuts
// it down gracefully.
func (a *app) serve(ctx context.Context, cfg kalamtest.Config, sec *securityFlags, rootPW string, grace time.Duration) error {
	source := ""
	if rootPW != "" {
		source = "flag"
	} else {
		if rootPW = os.Getenv("KALAM_ROOT_PASSWORD"); rootPW != "" {
			source = "env"
		}
	}
	if cfg.JWTSecret == "" {
		cfg.JWTSecret = os.Getenv("KALAM_JWT_SECRET")
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return fmt.Errorf("cannot create --data-dir: %w", err)
		}
		if rootPW == "" {
			pw, saved, err := keptSecret(filepath.Join(cfg.DataDir, rootPasswordFile), 12)
			if err != nil {
				return err
			}
			rootPW, source = pw, map[bool]string{true: "saved", false: "new"}[saved]
		}
		if cfg.JWTSecret == "" {
			s, _, err := keptSecret(filepath.Join(cfg.DataDir, jwtSecretFile), 32)
			if err != nil {
				return err
			}
			cfg.JWTSecret = s
		}
	}
	cfg.RootPassword = rootPW
	sec.apply(&cfg)
	srv, err := kalamtest.Start(cfg)
	if err != nil {
		return err
	}
	a.banner(srv, cfg, source, sec)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	fmt.Fprintf(a.io.out, "kalam serve: stopped\n")
	return nil
}

// banner tells where the server is and how to reach it. Root's password is
// printed to stdout only, never logged.
func (a *app) banner(srv *kalamtest.Server, cfg kalamtest.Config, source string, sec *securityFlags) {
	w := a.io.out
	fmt.Fprintf(w, "kalam serve: KalamDB-compatible development server\n")
	fmt.Fprintf(w, "  http: %s\n", srv.URL)
	fmt.Fprintf(w, "  ws:   %s\n", srv.WSURL())
	if cfg.DataDir == "" {
		fmt.Fprintf(w, "  data: in memory (gone when the server stops; --data-dir DIR keeps it)\n")
	} else {
		fmt.Fprintf(w, "  data: %s\n", cfg.DataDir)
	}
	pwFile := filepath.Join(cfg.DataDir, rootPasswordFile)
	switch source {
	case "new":
		fmt.Fprintf(w, "Root's password was generated and saved in %s (mode 0600): restarts with this --data-dir keep it.\n", pwFile)
	case "saved":
		fmt.Fprintf(w, "Root's password is the one saved in %s.\n", pwFile)
	case "":
		fmt.Fprintf(w, "Root's password was generated for this run (--data-dir DIR keeps one across restarts).\n")
	}
	sec.announce(w, srv)
	fmt.Fprintf(w, "To use it from another shell:\n")
	fmt.Fprintf(w, "export KALAM_URL=%s KALAM_USER=root KALAM_PASSWORD=%s\n", srv.URL, shellQuote(srv.RootPassword()))
	fmt.Fprintf(w, "Press Ctrl+C to stop.\n")
}

// keptSecret returns the secret stored in path, or creates one of n random
// bytes (hex) there with mode 0600. saved reports that it existed.
func keptSecret(path string, n int) (secret string, saved bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, true, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("cannot read %s: %w", path, err)
	}
	raw := make([]byte, n)
	if _, err := rand.Read(raw); err != nil {
		return "", false, err
	}
	s := hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("cannot save %s: %w", path, err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return "", false, err
	}
	return s, false, f.Close()
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r == '/' || r == ':' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
