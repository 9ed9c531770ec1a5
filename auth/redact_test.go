package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam/auth"
)

var (
	rawAccess   = mint(hs256, aliceClaims)
	rawRefresh  = mint(hs256, `{"sub":"alice","iss":"kalamdb","exp":1778000400,"iat":1777971600,"role":"user","token_type":"refresh"}`)
	rawPassword = "Secret123!-correct-horse"
	allSecrets  = []string{rawAccess, rawRefresh, rawPassword}
)

func secretCreds() auth.Credentials {
	return auth.Credentials{
		AccessToken:  auth.NewSecret(rawAccess),
		RefreshToken: auth.NewSecret(rawRefresh),
		Lifetime:     time.Hour,
		User:         "alice",
		Role:         "user",
	}
}

// holders are values that carry secrets in every shape a program might
// print: bare, by pointer, in exported and unexported fields, in slices,
// arrays and maps.
func holders() map[string]any {
	pw := auth.NewSecret(rawPassword)
	c := secretCreds()
	type exported struct {
		Name  string
		Pass  auth.Secret
		Creds auth.Credentials
	}
	type unexported struct {
		name  string
		pass  auth.Secret
		creds auth.Credentials
		ptr   *auth.Credentials
	}
	type nested struct {
		Inner   exported
		inner   unexported
		List    []auth.Credentials
		ByName  map[string]auth.Secret
		private []auth.Secret
	}
	return map[string]any{
		"secret":             pw,
		"*secret":            &pw,
		"credentials":        c,
		"*credentials":       &c,
		"exported fields":    exported{"x", pw, c},
		"unexported fields":  unexported{"x", pw, c, &c},
		"*unexported fields": &unexported{"x", pw, c, &c},
		"nested": nested{
			Inner: exported{"x", pw, c}, inner: unexported{"x", pw, c, &c},
			List: []auth.Credentials{c, c}, ByName: map[string]auth.Secret{"pw": pw}, private: []auth.Secret{pw},
		},
		"[]secret":      []auth.Secret{pw, pw},
		"[2]secret":     [2]auth.Secret{pw, pw},
		"[]credentials": []auth.Credentials{c},
		"[]*creds":      []*auth.Credentials{&c},
		"map":           map[string]any{"pw": pw, "c": c},
		"[]any":         []any{pw, c, &c},
		"request":       auth.Request{Reason: auth.ReasonRejected, Current: c},
	}
}

var verbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "% x", "%d", "%10v", "%-40s", "%.3s", "%#q", "%t", "%p"}

func TestRedactionFmt(t *testing.T) {
	for name, v := range holders() {
		for _, verb := range verbs {
			out := fmt.Sprintf(verb, v)
			assertNoLeak(t, out, allSecrets...)
			if t.Failed() {
				t.Fatalf("%s with %s: %s", name, verb, out)
			}
		}
		for _, out := range []string{fmt.Sprint(v), fmt.Sprintln(v, v), fmt.Errorf("wrapped: %v", v).Error()} {
			assertNoLeak(t, out, allSecrets...)
		}
	}
}

func TestRedactionSecretOutput(t *testing.T) {
	s := auth.NewSecret(rawPassword)
	for verb, want := range map[string]string{
		"%v": auth.Redacted, "%s": auth.Redacted, "%q": `"[REDACTED]"`, "%#v": "auth.Secret([REDACTED])", "%x": auth.Redacted,
	} {
		if got := fmt.Sprintf(verb, s); got != want {
			t.Errorf("%s = %q, want %q", verb, got, want)
		}
	}
	if got := fmt.Sprint(auth.Secret{}); got != "" {
		t.Errorf("zero secret prints %q", got)
	}
	if !s.Equal(auth.NewSecret(rawPassword)) || s.Equal(auth.Secret{}) || !auth.NewSecret("").IsZero() || !(auth.Secret{}).Equal(auth.NewSecret("")) {
		t.Error("Equal/IsZero")
	}
	if s.Reveal() != rawPassword {
		t.Error("Reveal")
	}
}

func TestRedactionSlog(t *testing.T) {
	for _, handler := range []struct {
		name string
		new  func(*bytes.Buffer) slog.Handler
	}{
		{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
		{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
	} {
		t.Run(handler.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(handler.new(&buf))
			for name, v := range holders() {
				log.Info("msg", "value", v, slog.Any("any", v), slog.Group("g", "v", v))
				log.With("with", v).Warn(name)
			}
			log.Info("string forms", "s", auth.NewSecret(rawPassword).String(), "c", secretCreds().String())
			assertNoLeak(t, buf.String(), allSecrets...)
			if !strings.Contains(buf.String(), auth.Redacted) {
				t.Error("no redaction marker in the log: did anything get logged?")
			}
		})
	}
}

func TestRedactionJSON(t *testing.T) {
	for name, v := range holders() {
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		assertNoLeak(t, string(out), allSecrets...)
	}
	out, _ := json.Marshal(secretCreds())
	want := `{"user":"alice","role":"user","token":"[REDACTED]","refreshable":true,"lifetime_ns":3600000000000}`
	if string(out) != want {
		t.Errorf("credentials JSON = %s, want %s", out, want)
	}
	txt, _ := auth.NewSecret(rawPassword).MarshalText()
	if string(txt) != auth.Redacted {
		t.Errorf("MarshalText = %q", txt)
	}
}

// leakyEndpoint misbehaves: its errors quote the secrets it was given.
type leakyEndpoint struct{}

func (leakyEndpoint) Login(_ context.Context, user string, pw auth.Secret) (auth.Credentials, error) {
	return auth.Credentials{}, fmt.Errorf("login %s with %s refused: %w", user, pw.Reveal(), rejection{})
}

func (leakyEndpoint) Refresh(_ context.Context, rt auth.Secret) (auth.Credentials, error) {
	return auth.Credentials{}, fmt.Errorf("refresh with %s refused: %w", rt.Reveal(), rejection{})
}

func TestRedactionProviderErrors(t *testing.T) {
	cur := secretCreds()
	expiredTok := tokenAt("alice", time.Now().Add(-3*time.Hour), time.Hour)
	leakyFn := func(context.Context, auth.Request) (auth.Credentials, error) {
		return auth.Credentials{AccessToken: auth.NewSecret(rawAccess)}, fmt.Errorf("fetched %s but failed", rawAccess)
	}
	for _, tc := range []struct {
		name string
		p    auth.Provider
		req  auth.Request
	}{
		{"basic login", auth.Basic("alice", rawPassword), auth.Request{Endpoint: leakyEndpoint{}}},
		{"basic refresh then login", auth.Basic("alice", rawPassword), auth.Request{Reason: auth.ReasonRejected, Current: cur, Endpoint: leakyEndpoint{}}},
		{"basic without endpoint", auth.Basic("alice", rawPassword), auth.Request{Current: cur}},
		{"jwt rejected", auth.JWT(rawAccess), auth.Request{Reason: auth.ReasonRejected, Current: cur}},
		{"jwt refresh", auth.JWT(rawAccess), auth.Request{Reason: auth.ReasonRefresh, Current: cur}},
		{"jwt expired", auth.JWT(expiredTok), auth.Request{Reason: auth.ReasonRejected, Current: auth.Credentials{AccessToken: auth.NewSecret(expiredTok)}}},
		{"jwt malformed", auth.JWT(rawPassword), auth.Request{}},
		{"jwt with refresh", auth.JWTWithRefresh(rawAccess, rawRefresh), auth.Request{Reason: auth.ReasonRefresh, Current: cur, Endpoint: leakyEndpoint{}}},
		{"dynamic", auth.Dynamic(leakyFn), auth.Request{Current: cur}},
		{"dynamic same token", auth.Dynamic(func(context.Context, auth.Request) (auth.Credentials, error) { return cur, nil }),
			auth.Request{Reason: auth.ReasonRejected, Current: cur}},
		{"token func error", auth.TokenFunc(func(context.Context) (string, error) { return rawAccess, errors.New("bad " + rawAccess) }), auth.Request{}},
		{"token func malformed", auth.TokenFunc(func(context.Context) (string, error) { return rawPassword, nil }), auth.Request{}},
		{"anonymous", auth.Anonymous(), auth.Request{Reason: auth.ReasonRejected, Current: cur}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.p.Credentials(context.Background(), tc.req)
			if err == nil {
				t.Fatal("want an error")
			}
			secrets := append(allSecrets, expiredTok)
			for _, verb := range verbs {
				assertNoLeak(t, fmt.Sprintf(verb, err), secrets...)
			}
			assertNoLeak(t, err.Error(), secrets...)
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Error("x", "err", err)
			slog.New(slog.NewTextHandler(&buf, nil)).Error("x", "err", err)
			assertNoLeak(t, buf.String(), secrets...)
		})
	}
}
