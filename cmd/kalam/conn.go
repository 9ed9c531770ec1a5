package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
)

// connFlags are the flags every client command shares. Secrets come from
// the environment by default so they stay out of shell history and ps.
type connFlags struct {
	url       *string
	user      *string
	namespace *string
	verbose   *bool
}

const defaultURL = "http://127.0.0.1:2900"

func addConnFlags(fs *flag.FlagSet) *connFlags {
	return &connFlags{
		url:       fs.String("url", envOr("KALAM_URL", defaultURL), "server base `URL` ($KALAM_URL)"),
		user:      fs.String("user", envOr("KALAM_USER", "root"), "user `name` for basic auth ($KALAM_USER); the password is read from $KALAM_PASSWORD"),
		namespace: fs.String("namespace", envOr("KALAM_NAMESPACE", ""), "default `namespace` for unqualified tables ($KALAM_NAMESPACE)"),
		verbose:   fs.Bool("v", false, "log the client's debug records to stderr (secrets are never logged)"),
	}
}

// credentials explains where auth comes from: $KALAM_TOKEN (a JWT), else
// the user with $KALAM_PASSWORD.
func (f *connFlags) provider() (auth.Provider, error) {
	if tok := os.Getenv("KALAM_TOKEN"); tok != "" {
		return auth.JWT(tok), nil
	}
	pw, ok := os.LookupEnv("KALAM_PASSWORD")
	if !ok {
		return nil, errors.New("no credentials: set KALAM_TOKEN to a JWT, or KALAM_PASSWORD for --user (kalam serve prints root's password)")
	}
	return auth.Basic(*f.user, pw), nil
}

// config builds the client configuration for these flags.
func (f *connFlags) config(stderr io.Writer) (kalam.Config, error) {
	p, err := f.provider()
	if err != nil {
		return kalam.Config{}, err
	}
	cfg := kalam.Config{URL: *f.url, Auth: p, Namespace: *f.namespace}
	if *f.verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return cfg, nil
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

// usageFunc prints a command's usage text and flags.
func usageFunc(fs *flag.FlagSet, stderr io.Writer, text string) func() {
	return func() {
		fmt.Fprintln(stderr, text+"\n\nFlags:")
		fs.PrintDefaults()
	}
}
