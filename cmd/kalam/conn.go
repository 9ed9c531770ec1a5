package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
)

const defaultURL = "http://127.0.0.1:2900"

// connFlags are the connection flags every client command shares. Each
// setting comes from its flag, else its environment variable, else the
// profile, else the default. Secrets never come from a flag's default, so
// they stay out of "--help" output.
type connFlags struct {
	url, user, namespace, profile, token string
	verbose                              bool
	fs                                   *pflag.FlagSet
	resolved                             bool
}

func (f *connFlags) register(fs *pflag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.url, "url", "", "server base URL ($KALAM_URL, else the profile's, else "+defaultURL+")")
	fs.StringVarP(&f.user, "user", "u", "", "user name ($KALAM_USER, else the profile's, else root)")
	fs.StringVarP(&f.namespace, "namespace", "n", "", "namespace for unqualified tables ($KALAM_NAMESPACE, else the profile's)")
	fs.StringVarP(&f.profile, "profile", "P", "", "use this saved profile (\"kalam profile --help\"; $KALAM_PROFILE)")
	fs.StringVar(&f.token, "token", "", "access token (JWT) to use instead of a password ($KALAM_TOKEN)")
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "log the client's debug records to stderr (secrets are never logged)")
}

// resolve fills in url, user and namespace from the environment and the
// profile. It is idempotent.
func (f *connFlags) resolve() error {
	if f.resolved {
		return nil
	}
	f.resolved = true
	name := f.profile
	if name == "" {
		name = os.Getenv("KALAM_PROFILE")
	}
	var p profile
	if name != "" || f.anyUnset() {
		profiles, err := loadProfiles()
		if err != nil {
			return err
		}
		switch pr, ok := profiles[name]; {
		case ok:
			p = pr
		case name != "":
			return usageErr("no profile %q: create it with \"kalam profile set %s --url URL --user NAME\"", name, name)
		default:
			p = profiles["default"]
		}
	}
	f.url = first(f.url, os.Getenv("KALAM_URL"), p.URL, defaultURL)
	f.user = first(f.user, os.Getenv("KALAM_USER"), p.User, "root")
	f.namespace = first(f.namespace, os.Getenv("KALAM_NAMESPACE"), p.Namespace)
	f.token = first(f.token, os.Getenv("KALAM_TOKEN"))
	return checkURL(f.url)
}

func (f *connFlags) anyUnset() bool {
	return f.url == "" || f.user == "" || f.namespace == ""
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// checkURL says in plain words what is wrong with a server URL.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return usageErr("URL must start with http:// or https:// (got %q)", redactURL(raw))
	}
	if u.User != nil {
		return usageErr("URL must not contain a user or password: use --user and $KALAM_PASSWORD or --token")
	}
	if u.Host == "" {
		return usageErr("URL has no host (got %q)", raw)
	}
	return nil
}

// redactURL drops anything that could be a password from a URL before it is
// echoed back.
func redactURL(raw string) string {
	if i := strings.Index(raw, "@"); i >= 0 {
		if j := strings.Index(raw, "://"); j >= 0 && j < i {
			return raw[:j+3] + "…" + raw[i:]
		}
		return "…" + raw[i:]
	}
	return raw
}

var (
	errNoCredentials  = errors.New("no credentials")
	errSessionExpired = errors.New("the cached login has expired")
)

// provider picks the credentials: a token, a cached login, $KALAM_PASSWORD,
// or a prompt on a terminal, in that order.
func (a *app) provider() (auth.Provider, error) {
	f := &a.conn
	if f.token != "" {
		return auth.JWT(f.token), nil
	}
	cache, err := openTokenCache()
	if err != nil {
		return nil, err
	}
	pw, havePW := os.LookupEnv("KALAM_PASSWORD")
	if e, ok := cache.get(f.url, f.user); ok {
		sp := &sessionProvider{user: f.user, cache: cache, url: f.url, entry: e}
		if havePW {
			sp.password = auth.NewSecret(pw)
		}
		return sp, nil
	}
	if !havePW && a.io.inTerminal {
		pw, err = a.promptPassword()
		if err != nil {
			return nil, err
		}
		havePW = true
	}
	if !havePW {
		return nil, fmt.Errorf("%w for user %q: set $KALAM_PASSWORD or $KALAM_TOKEN, or run \"kalam login\" once", errNoCredentials, f.user)
	}
	return auth.Basic(f.user, pw), nil
}

// promptPassword reads a password from the terminal without echo.
func (a *app) promptPassword() (string, error) {
	fmt.Fprintf(a.io.err, "Password for %s at %s: ", a.conn.user, a.conn.url)
	b, err := term.ReadPassword(a.io.inFd)
	fmt.Fprintln(a.io.err)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	return string(b), nil
}

// config builds the client configuration.
func (a *app) config() (kalam.Config, error) {
	if err := a.conn.resolve(); err != nil {
		return kalam.Config{}, err
	}
	p, err := a.provider()
	if err != nil {
		return kalam.Config{}, err
	}
	cfg := kalam.Config{URL: a.conn.url, Auth: p, Namespace: a.conn.namespace}
	if a.conn.verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(a.io.err, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return cfg, nil
}

// client builds a client for the connection flags.
func (a *app) client() (*kalam.Client, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	return kalam.New(cfg)
}

// sessionProvider serves a login cached by "kalam login": it hands out the
// cached tokens, refreshes them at the token service like auth.Basic does,
// and writes the new ones back. When the refresh token is refused it logs in
// again if it has a password, else it asks for "kalam login". The password
// is only ever held in memory.
//
// The shell's \live runs a second client on the same provider, so calls
// are serialized.
type sessionProvider struct {
	mu        sync.Mutex
	user, url string
	password  auth.Secret
	cache     *tokenCache
	entry     tokenEntry
}

func (p *sessionProvider) Credentials(ctx context.Context, req auth.Request) (auth.Credentials, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if req.Reason == auth.ReasonInitial || (req.Reason == auth.ReasonReconnect && !req.Current.Usable()) {
		creds, err := auth.FromTokens(p.entry.Access, p.entry.Refresh)
		if err == nil {
			if c, perr := auth.ParseClaims(p.entry.Access); perr == nil && !c.ExpiredAt(timeNow()) {
				return creds, nil
			}
		}
	}
	if req.Reason == auth.ReasonReconnect && req.Current.Usable() {
		return req.Current, nil
	}
	if req.Endpoint == nil {
		return auth.Credentials{}, auth.ErrNoEndpoint
	}
	refresh := req.Current.RefreshToken
	if refresh.IsZero() {
		refresh = auth.NewSecret(p.entry.Refresh)
	}
	var creds auth.Credentials
	var err error
	if !refresh.IsZero() {
		creds, err = req.Endpoint.Refresh(ctx, refresh)
	} else {
		err = auth.ErrRejected
	}
	if err != nil && errors.Is(err, auth.ErrRejected) {
		if p.password.IsZero() {
			_ = p.cache.remove(p.url, p.user)
			return auth.Credentials{}, fmt.Errorf("%w for user %q: run \"kalam login\" again", errSessionExpired, p.user)
		}
		creds, err = req.Endpoint.Login(ctx, p.user, p.password)
	}
	if err != nil {
		return auth.Credentials{}, err
	}
	p.save(creds)
	return creds, nil
}

func (p *sessionProvider) save(creds auth.Credentials) {
	e := tokenEntry{Access: creds.AccessToken.Reveal(), Refresh: creds.RefreshToken.Reveal()}
	if e.Refresh == "" {
		e.Refresh = p.entry.Refresh
	}
	p.entry = e
	if p.cache != nil {
		_ = p.cache.put(p.url, p.user, e) // a cache that cannot be written costs a login later, nothing more
	}
}
