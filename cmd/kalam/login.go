package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/transport/httpapi"
)

// loginCommand logs in once and caches the tokens (not the password).
func (a *app) loginCommand() *cobra.Command {
	var pwStdin bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "log in and cache the tokens, so later commands need no password",
		Long: `Logs in with the user's password and caches the access and refresh tokens
in a file only you can read (mode 0600) under $XDG_STATE_HOME/kalam (or
~/.local/state/kalam). Later commands for the same URL and user use them and
refresh them as the client library does. The password is never written.

The password comes from a prompt on a terminal, $KALAM_PASSWORD, or one line
of standard input with --password-stdin.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.conn.resolve(); err != nil {
				return err
			}
			pw, err := a.loginPassword(pwStdin)
			if err != nil {
				return err
			}
			hc, err := httpapi.New(a.conn.url, nil)
			if err != nil {
				return usageErr("URL must start with http:// or https://")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			creds, err := hc.Login(ctx, a.conn.user, auth.NewSecret(pw))
			if err != nil {
				return err
			}
			cache, err := openTokenCache()
			if err != nil {
				return err
			}
			if err := cache.put(a.conn.url, a.conn.user, tokenEntry{Access: creds.AccessToken.Reveal(), Refresh: creds.RefreshToken.Reveal()}); err != nil {
				return fmt.Errorf("caching the tokens: %w", err)
			}
			fmt.Fprintf(a.io.out, "Logged in as %s at %s. Tokens cached in %s (mode 0600); the password was not stored.\n", a.conn.user, a.conn.url, cache.path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input")
	return cmd
}

func (a *app) loginPassword(fromStdin bool) (string, error) {
	switch {
	case fromStdin:
		line, err := bufio.NewReader(a.io.in).ReadString('\n')
		if err != nil && line == "" {
			return "", usageErr("--password-stdin: no password on standard input")
		}
		return strings.TrimRight(line, "\r\n"), nil
	case os.Getenv("KALAM_PASSWORD") != "":
		return os.Getenv("KALAM_PASSWORD"), nil
	case a.io.inTerminal:
		return a.promptPassword()
	}
	return "", fmt.Errorf("%w for user %q: set $KALAM_PASSWORD, use --password-stdin, or run on a terminal", errNoCredentials, a.conn.user)
}

// logoutCommand forgets a cached login.
func (a *app) logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "forget the cached tokens of --url and --user",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.conn.resolve(); err != nil {
				return err
			}
			cache, err := openTokenCache()
			if err != nil {
				return err
			}
			err = cache.remove(a.conn.url, a.conn.user)
			if errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintf(a.io.out, "No cached login for %s at %s.\n", a.conn.user, a.conn.url)
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.io.out, "Forgot the cached login of %s at %s.\n", a.conn.user, a.conn.url)
			return nil
		},
	}
}

// healthCommand asks the server's /health; it needs no credentials.
func (a *app) healthCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "health",
		Short: "check that the server answers (GET /health; no credentials needed)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.conn.resolve(); err != nil {
				return err
			}
			hc, err := httpapi.New(a.conn.url, nil)
			if err != nil {
				return usageErr("URL must start with http:// or https://")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			h, err := hc.Health(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.io.out, "%s: %s (version %s, API %s)\n", a.conn.url, h.Status, h.Version, h.APIVersion)
			return nil
		},
	}
}

// versionString is the module version and the VCS revision the binary was
// built from, as the Go toolchain recorded them.
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "kalam (no build information)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	rev, modified, when := "", false, ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		case "vcs.time":
			when = s.Value
		}
	}
	out := "kalam " + v + " (" + bi.GoVersion
	switch {
	case rev == "":
		out += ", revision unknown: built without VCS information"
	default:
		out += ", revision " + rev
		if modified {
			out += " with local changes"
		}
		if when != "" {
			out += ", committed " + when
		}
	}
	return out + ")"
}
