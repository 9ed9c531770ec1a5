package auth_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/kalamgo/kalam/auth"
)

// fakeEndpoint records calls and answers with canned results.
type fakeEndpoint struct {
	login, refresh       auth.Credentials
	loginErr, refreshErr error
	calls                []string
	gotUser              string
	gotPassword, gotRT   auth.Secret
}

func (f *fakeEndpoint) Login(ctx context.Context, user string, password auth.Secret) (auth.Credentials, error) {
	f.calls = append(f.calls, "login")
	f.gotUser, f.gotPassword = user, password
	if err := ctx.Err(); err != nil {
		return auth.Credentials{}, err
	}
	return f.login, f.loginErr
}

func (f *fakeEndpoint) Refresh(ctx context.Context, rt auth.Secret) (auth.Credentials, error) {
	f.calls = append(f.calls, "refresh")
	f.gotRT = rt
	if err := ctx.Err(); err != nil {
		return auth.Credentials{}, err
	}
	return f.refresh, f.refreshErr
}

// rejection is what the HTTP transport returns for a 401: an error matching
// ErrRejected (and ErrTokenExpired for TOKEN_EXPIRED).
type rejection struct{ expired bool }

func (r rejection) Error() string { return "server said 401" }
func (r rejection) Is(target error) bool {
	return target == auth.ErrRejected || (r.expired && target == auth.ErrTokenExpired)
}

var errNetwork = errors.New("connection refused")

func creds(access, refresh string) auth.Credentials {
	return auth.Credentials{AccessToken: auth.NewSecret(access), RefreshToken: auth.NewSecret(refresh), Lifetime: time.Hour}
}

var (
	loggedIn  = creds("access-from-login", "refresh-from-login")
	refreshed = creds("access-from-refresh", "refresh-from-refresh")
	current   = creds("access-current", "refresh-current")
	noRT      = creds("access-current", "")
)

type providerCase struct {
	name      string
	reason    auth.Reason
	current   auth.Credentials
	ep        *fakeEndpoint // nil: Request.Endpoint is nil
	cancelled bool
	want      auth.Credentials
	wantErr   []error // every one must match errors.Is
	wantCalls []string
	wantRT    string // refresh token presented, when a refresh happened
}

func runProviderCases(t *testing.T, p auth.Provider, cases []providerCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancelled {
				cancel()
			}
			req := auth.Request{Reason: tc.reason, Current: tc.current}
			if tc.ep != nil {
				req.Endpoint = tc.ep
			}
			got, err := p.Credentials(ctx, req)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("got %v, want an error", got)
				}
				for _, want := range tc.wantErr {
					if !errors.Is(err, want) {
						t.Errorf("err = %v, want it to match %v", err, want)
					}
				}
				var pe *auth.ProviderError
				if !errors.As(err, &pe) {
					t.Errorf("err = %T, want *auth.ProviderError", err)
				}
				if got.Usable() {
					t.Errorf("usable credentials returned with an error")
				}
			} else if err != nil {
				t.Fatalf("Credentials: %v", err)
			}
			if !sameCreds(got, tc.want) {
				t.Errorf("got %v (token %q), want %v (token %q)", got, got.AccessToken.Reveal(), tc.want, tc.want.AccessToken.Reveal())
			}
			var calls []string
			if tc.ep != nil {
				calls = tc.ep.calls
				if tc.wantRT != "" && tc.ep.gotRT.Reveal() != tc.wantRT {
					t.Errorf("refresh token presented = %q, want %q", tc.ep.gotRT.Reveal(), tc.wantRT)
				}
			}
			if !slices.Equal(calls, tc.wantCalls) {
				t.Errorf("endpoint calls = %v, want %v", calls, tc.wantCalls)
			}
		})
	}
}

func sameCreds(a, b auth.Credentials) bool {
	return a.AccessToken.Equal(b.AccessToken) && a.RefreshToken.Equal(b.RefreshToken) &&
		a.Lifetime == b.Lifetime && a.User == b.User && a.Role == b.Role && a.Anonymous == b.Anonymous
}

func TestBasic(t *testing.T) {
	ok := func() *fakeEndpoint { return &fakeEndpoint{login: loggedIn, refresh: refreshed} }
	refreshFails := func(err error) *fakeEndpoint {
		return &fakeEndpoint{login: loggedIn, refreshErr: err}
	}
	runProviderCases(t, auth.Basic("alice", "Secret123!"), []providerCase{
		{name: "initial logs in", reason: auth.ReasonInitial, ep: ok(), want: loggedIn, wantCalls: []string{"login"}},
		{name: "initial without endpoint", reason: auth.ReasonInitial, wantErr: []error{auth.ErrNoEndpoint}},
		{name: "initial login refused", reason: auth.ReasonInitial, ep: &fakeEndpoint{loginErr: rejection{}},
			wantErr: []error{auth.ErrRejected}, wantCalls: []string{"login"}},
		{name: "initial login network error", reason: auth.ReasonInitial, ep: &fakeEndpoint{loginErr: errNetwork},
			wantErr: []error{errNetwork}, wantCalls: []string{"login"}},
		{name: "refresh uses the refresh token", reason: auth.ReasonRefresh, current: current, ep: ok(),
			want: refreshed, wantCalls: []string{"refresh"}, wantRT: "refresh-current"},
		{name: "rejected uses the refresh token", reason: auth.ReasonRejected, current: current, ep: ok(),
			want: refreshed, wantCalls: []string{"refresh"}, wantRT: "refresh-current"},
		{name: "refresh without a refresh token logs in", reason: auth.ReasonRefresh, current: noRT, ep: ok(),
			want: loggedIn, wantCalls: []string{"login"}},
		{name: "rejected without a refresh token logs in", reason: auth.ReasonRejected, current: noRT, ep: ok(),
			want: loggedIn, wantCalls: []string{"login"}},
		{name: "refresh token refused: log in", reason: auth.ReasonRefresh, current: current, ep: refreshFails(rejection{}),
			want: loggedIn, wantCalls: []string{"refresh", "login"}},
		{name: "refresh token expired: log in", reason: auth.ReasonRejected, current: current, ep: refreshFails(rejection{expired: true}),
			want: loggedIn, wantCalls: []string{"refresh", "login"}},
		{name: "refresh network error: no login", reason: auth.ReasonRefresh, current: current, ep: refreshFails(errNetwork),
			wantErr: []error{errNetwork}, wantCalls: []string{"refresh"}},
		{name: "refresh and login both refused", reason: auth.ReasonRejected, current: current,
			ep: &fakeEndpoint{refreshErr: rejection{}, loginErr: rejection{}}, wantErr: []error{auth.ErrRejected}, wantCalls: []string{"refresh", "login"}},
		{name: "refresh without endpoint", reason: auth.ReasonRefresh, current: current, wantErr: []error{auth.ErrNoEndpoint}},
		{name: "reconnect keeps current", reason: auth.ReasonReconnect, current: current, ep: ok(), want: current},
		{name: "reconnect keeps current without endpoint", reason: auth.ReasonReconnect, current: current, want: current},
		{name: "reconnect with nothing logs in", reason: auth.ReasonReconnect, ep: ok(), want: loggedIn, wantCalls: []string{"login"}},
		{name: "reconnect from anonymous logs in", reason: auth.ReasonReconnect, current: auth.Credentials{Anonymous: true}, ep: ok(),
			want: loggedIn, wantCalls: []string{"login"}},
		{name: "unknown reason logs in", reason: auth.Reason(99), ep: ok(), want: loggedIn, wantCalls: []string{"login"}},
		{name: "cancelled context: no call", reason: auth.ReasonInitial, ep: ok(), cancelled: true,
			wantErr: []error{context.Canceled}},
		{name: "cancelled context on refresh: no call", reason: auth.ReasonRefresh, current: current, ep: ok(), cancelled: true,
			wantErr: []error{context.Canceled}},
	})
}

func TestBasicSendsUserAndPassword(t *testing.T) {
	ep := &fakeEndpoint{login: loggedIn}
	if _, err := auth.Basic("alice", "Secret123!").Credentials(context.Background(), auth.Request{Endpoint: ep}); err != nil {
		t.Fatal(err)
	}
	if ep.gotUser != "alice" || ep.gotPassword.Reveal() != "Secret123!" {
		t.Errorf("login got %q / %q", ep.gotUser, ep.gotPassword.Reveal())
	}
}

// TestBasicCancelledDuringRefresh checks that a refusal seen after the
// context ended does not go on to log in.
func TestBasicCancelledDuringRefresh(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ep := &cancellingEndpoint{cancel: cancel}
	_, err := auth.Basic("alice", "pw").Credentials(ctx, auth.Request{Reason: auth.ReasonRefresh, Current: current, Endpoint: ep})
	if !errors.Is(err, context.Canceled) || ep.logins != 0 {
		t.Errorf("err = %v, logins = %d", err, ep.logins)
	}
}

type cancellingEndpoint struct {
	cancel context.CancelFunc
	logins int
}

func (c *cancellingEndpoint) Login(context.Context, string, auth.Secret) (auth.Credentials, error) {
	c.logins++
	return loggedIn, nil
}

func (c *cancellingEndpoint) Refresh(context.Context, auth.Secret) (auth.Credentials, error) {
	c.cancel()
	return auth.Credentials{}, rejection{}
}

func TestJWT(t *testing.T) {
	now := time.Now()
	fresh := tokenAt("alice", now.Add(-time.Minute), time.Hour)
	stale := tokenAt("alice", now.Add(-2*time.Hour), time.Hour)
	freshCreds := auth.Credentials{AccessToken: auth.NewSecret(fresh), Lifetime: time.Hour, User: "alice", Role: "user"}
	staleCreds := auth.Credentials{AccessToken: auth.NewSecret(stale), Lifetime: time.Hour, User: "alice", Role: "user"}
	other := creds("some-other-token", "")

	t.Run("fresh", func(t *testing.T) {
		runProviderCases(t, auth.JWT(fresh), []providerCase{
			{name: "initial", reason: auth.ReasonInitial, want: freshCreds},
			{name: "initial ignores endpoint", reason: auth.ReasonInitial, ep: &fakeEndpoint{}, want: freshCreds},
			{name: "reconnect returns current", reason: auth.ReasonReconnect, current: freshCreds, want: freshCreds},
			{name: "reconnect with nothing", reason: auth.ReasonReconnect, want: freshCreds},
			{name: "refresh has nothing new", reason: auth.ReasonRefresh, current: freshCreds, ep: &fakeEndpoint{},
				wantErr: []error{auth.ErrNotRefreshable}},
			{name: "rejected, not expired", reason: auth.ReasonRejected, current: freshCreds, ep: &fakeEndpoint{},
				wantErr: []error{auth.ErrRejected}},
			{name: "rejected while holding another token", reason: auth.ReasonRejected, current: other, want: freshCreds},
			{name: "cancelled", reason: auth.ReasonInitial, cancelled: true, wantErr: []error{context.Canceled}},
		})
	})
	t.Run("expired", func(t *testing.T) {
		runProviderCases(t, auth.JWT(stale), []providerCase{
			{name: "initial still hands it out", reason: auth.ReasonInitial, want: staleCreds},
			{name: "rejected, expired", reason: auth.ReasonRejected, current: staleCreds, wantErr: []error{auth.ErrTokenExpired}},
		})
	})
	t.Run("malformed", func(t *testing.T) {
		runProviderCases(t, auth.JWT("not-a-jwt"), []providerCase{
			{name: "initial", reason: auth.ReasonInitial, wantErr: []error{auth.ErrMalformedToken}},
			{name: "rejected", reason: auth.ReasonRejected, wantErr: []error{auth.ErrMalformedToken}},
		})
	})
	t.Run("with refresh", func(t *testing.T) {
		withRT := freshCreds
		withRT.RefreshToken = auth.NewSecret("static-refresh")
		runProviderCases(t, auth.JWTWithRefresh(fresh, "static-refresh"), []providerCase{
			{name: "initial", reason: auth.ReasonInitial, want: withRT},
			{name: "refresh with current refresh token", reason: auth.ReasonRefresh, current: current,
				ep: &fakeEndpoint{refresh: refreshed}, want: refreshed, wantCalls: []string{"refresh"}, wantRT: "refresh-current"},
			{name: "refresh falls back to own refresh token", reason: auth.ReasonRefresh, current: freshCreds,
				ep: &fakeEndpoint{refresh: refreshed}, want: refreshed, wantCalls: []string{"refresh"}, wantRT: "static-refresh"},
			{name: "rejected refreshes", reason: auth.ReasonRejected, current: withRT,
				ep: &fakeEndpoint{refresh: refreshed}, want: refreshed, wantCalls: []string{"refresh"}, wantRT: "static-refresh"},
			{name: "refresh refused", reason: auth.ReasonRejected, current: withRT,
				ep: &fakeEndpoint{refreshErr: rejection{}}, wantErr: []error{auth.ErrRejected}, wantCalls: []string{"refresh"}},
			{name: "refresh without endpoint", reason: auth.ReasonRefresh, current: withRT, wantErr: []error{auth.ErrNoEndpoint}},
			{name: "reconnect returns current", reason: auth.ReasonReconnect, current: refreshed, want: refreshed},
		})
	})
}

func TestDynamic(t *testing.T) {
	tok := tokenAt("dyn", time.Now(), 10*time.Minute)
	parsed := auth.Credentials{AccessToken: auth.NewSecret(tok), Lifetime: 10 * time.Minute, User: "dyn", Role: "user"}
	var seen []auth.Reason
	ret := func(c auth.Credentials, err error) auth.Provider {
		return auth.Dynamic(func(ctx context.Context, req auth.Request) (auth.Credentials, error) {
			seen = append(seen, req.Reason)
			return c, err
		})
	}
	runProviderCases(t, ret(auth.Credentials{AccessToken: auth.NewSecret(tok)}, nil), []providerCase{
		{name: "claims fill lifetime and labels", reason: auth.ReasonInitial, want: parsed},
		{name: "asked on reconnect", reason: auth.ReasonReconnect, current: current, want: parsed},
		{name: "same token after rejection", reason: auth.ReasonRejected, current: parsed, wantErr: []error{auth.ErrRejected}},
		{name: "cancelled: not called", reason: auth.ReasonInitial, cancelled: true, wantErr: []error{context.Canceled}},
	})
	if !slices.Equal(seen, []auth.Reason{auth.ReasonInitial, auth.ReasonReconnect, auth.ReasonRejected}) {
		t.Errorf("fn saw reasons %v", seen)
	}
	given := auth.Credentials{AccessToken: auth.NewSecret("opaque"), Lifetime: time.Minute, User: "u", Role: "r"}
	runProviderCases(t, ret(given, nil), []providerCase{
		{name: "given values kept", reason: auth.ReasonInitial, want: given},
		{name: "opaque token passed on", reason: auth.ReasonRefresh, want: given},
	})
	runProviderCases(t, ret(auth.Credentials{Anonymous: true}, nil), []providerCase{
		{name: "anonymous passes", reason: auth.ReasonRejected, want: auth.Credentials{Anonymous: true}},
	})
	runProviderCases(t, ret(auth.Credentials{}, nil), []providerCase{
		{name: "nothing usable", reason: auth.ReasonInitial, wantErr: []error{auth.ErrNoCredentials}},
	})
	runProviderCases(t, ret(auth.Credentials{}, errNetwork), []providerCase{
		{name: "fn error wrapped", reason: auth.ReasonInitial, wantErr: []error{errNetwork}},
	})
	runProviderCases(t, auth.Dynamic(nil), []providerCase{
		{name: "nil fn", reason: auth.ReasonInitial, wantErr: []error{auth.ErrNoCredentials}},
	})
}

func TestTokenFunc(t *testing.T) {
	tok := tokenAt("tf", time.Now(), 5*time.Minute)
	parsed := auth.Credentials{AccessToken: auth.NewSecret(tok), Lifetime: 5 * time.Minute, User: "tf", Role: "user"}
	ret := func(s string, err error) auth.Provider {
		return auth.TokenFunc(func(ctx context.Context) (string, error) { return s, err })
	}
	runProviderCases(t, ret(tok, nil), []providerCase{
		{name: "parsed", reason: auth.ReasonInitial, want: parsed},
		{name: "reconnect", reason: auth.ReasonReconnect, current: parsed, want: parsed},
		{name: "same token after rejection", reason: auth.ReasonRejected, current: parsed, wantErr: []error{auth.ErrRejected}},
		{name: "cancelled", reason: auth.ReasonInitial, cancelled: true, wantErr: []error{context.Canceled}},
	})
	runProviderCases(t, ret("", nil), []providerCase{{name: "empty", reason: auth.ReasonInitial, wantErr: []error{auth.ErrNoCredentials}}})
	runProviderCases(t, ret("garbage", nil), []providerCase{{name: "not a jwt", reason: auth.ReasonInitial, wantErr: []error{auth.ErrMalformedToken}}})
	runProviderCases(t, ret("", errNetwork), []providerCase{{name: "fn error", reason: auth.ReasonInitial, wantErr: []error{errNetwork}}})
	runProviderCases(t, auth.TokenFunc(nil), []providerCase{{name: "nil fn", reason: auth.ReasonInitial, wantErr: []error{auth.ErrNoCredentials}}})
}

func TestAnonymous(t *testing.T) {
	anon := auth.Credentials{Anonymous: true}
	runProviderCases(t, auth.Anonymous(), []providerCase{
		{name: "initial", reason: auth.ReasonInitial, want: anon},
		{name: "refresh", reason: auth.ReasonRefresh, current: anon, want: anon},
		{name: "reconnect", reason: auth.ReasonReconnect, current: anon, want: anon},
		{name: "rejected", reason: auth.ReasonRejected, current: anon, wantErr: []error{auth.ErrRejected}},
		{name: "cancelled", reason: auth.ReasonInitial, cancelled: true, wantErr: []error{context.Canceled}},
	})
}

func TestResolvesOnReconnect(t *testing.T) {
	fn := func(context.Context, auth.Request) (auth.Credentials, error) { return auth.Credentials{}, nil }
	for _, tc := range []struct {
		name string
		p    auth.Provider
		want bool
	}{
		{"basic", auth.Basic("u", "p"), false},
		{"jwt", auth.JWT("x"), false},
		{"jwt with refresh", auth.JWTWithRefresh("x", "y"), false},
		{"anonymous", auth.Anonymous(), false},
		{"dynamic", auth.Dynamic(fn), true},
		{"token func", auth.TokenFunc(func(context.Context) (string, error) { return "", nil }), true},
		{"provider func", auth.ProviderFunc(fn), false},
	} {
		if got := auth.ResolvesOnReconnect(tc.p); got != tc.want {
			t.Errorf("%s: ResolvesOnReconnect = %v, want %v", tc.name, got, tc.want)
		}
	}
}
