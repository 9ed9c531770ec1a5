package fsm

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam/auth"
)

// Every waiting call ends: these tests follow the engine through each way
// work can be left waiting and check that it ends with a typed error, or
// keeps something in flight that can complete it (the harness checks
// CheckLiveness after every step).

const authOKAlice = `{"type":"auth_success","user":"alice","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`

func ended(h *harness, effs []Effect, sub string) Event {
	h.t.Helper()
	for _, d := range all[Deliver](effs) {
		if d.Sub == sub && (d.Event.Kind == EventEnded || d.Event.Kind == EventError) {
			return d.Event
		}
	}
	h.t.Fatalf("subscription %s did not end among %s", sub, describe(effs))
	return Event{}
}

func notEnded(h *harness, effs []Effect, sub string) {
	h.t.Helper()
	for _, d := range all[Deliver](effs) {
		if d.Sub == sub && (d.Event.Kind == EventEnded || d.Event.Kind == EventError) {
			h.t.Fatalf("subscription %s ended: %v", sub, d.Event.Err)
		}
	}
}

// A provider that refuses for good (a wrong password with Basic) ends the
// pending Live and Query in the same step, with ErrCredentialsRejected, and
// nothing asks the provider again on its own.
func TestWrongPasswordEndsWaitingWork(t *testing.T) {
	h := newHarness(t, Config{HasProvider: true, Namespace: "app", Seed: 1})
	rc := must[ResolveCredentials](h, h.step(Start{}))
	h.step(Subscribe{ID: "s1", SQL: "SELECT * FROM t"})
	h.step(Subscribe{ID: "w", SQL: "SELECT * FROM t", Wait: true})
	h.step(Query{ID: 1, SQL: "SELECT 1"})

	wrong := fmt.Errorf("auth: basic login: %w", auth.ErrRejected)
	effs := h.step(CredentialsFailed{Req: rc.Req, Err: wrong, Retryable: false})
	h.state(StateUnauthed)
	ev := ended(h, effs, "s1")
	if !errors.Is(ev.Err, ErrCredentialsRejected) || !errors.Is(ev.Err, auth.ErrRejected) {
		t.Fatalf("Live ended with %v, want ErrCredentialsRejected wrapping the provider's error", ev.Err)
	}
	if !strings.Contains(ev.Err.Error(), "credentials rejected") {
		t.Fatalf("message %q does not name the cause", ev.Err)
	}
	if d := queryDone(h, effs, 1); !errors.Is(d.Err, ErrCredentialsRejected) {
		t.Fatalf("Query ended with %v, want ErrCredentialsRejected", d.Err)
	}
	notEnded(h, effs, "w") // asked to wait for the application's credentials

	// New work fails at once with the same cause.
	if _, err := h.stepErr(Query{ID: 2, SQL: "SELECT 2"}); !errors.Is(err, ErrCredentialsRejected) {
		t.Fatalf("Query after the refusal = %v", err)
	}
	if _, err := h.stepErr(Subscribe{ID: "s2", SQL: "SELECT * FROM t"}); !errors.Is(err, ErrCredentialsRejected) {
		t.Fatalf("Live after the refusal = %v", err)
	}
	// No retry storm: no timer would ask the provider again.
	if _, ok := h.timers[TimerResolveRetry]; ok {
		t.Fatal("a refused provider is asked again on a timer")
	}
	// The application fixes it: the waiting subscription goes on.
	effs = h.step(SetCredentials{Credentials: creds("tok-2", time.Hour)})
	must[Dial](h, effs)
}

// Without a provider, auth_error ends the subscriptions the server never
// acknowledged; an acknowledged one stays parked for SetCredentials.
func TestRefusalEndsPendingWork(t *testing.T) {
	h := live(t, Config{Seed: 1}) // s1 acknowledged and live
	effs := h.step(Subscribe{ID: "s2", SQL: "SELECT * FROM t"})
	must[Send](h, effs)
	h.step(Disconnect{})
	h.step(Connect{})
	h.step(Dialed{Epoch: h.e.Epoch()})
	effs = h.frame(`{"type":"auth_error","message":"Invalid credentials"}`)
	h.state(StateUnauthed)
	if ev := ended(h, effs, "s2"); !errors.Is(ev.Err, ErrCredentialsRejected) {
		t.Fatalf("s2 ended with %v", ev.Err)
	}
	notEnded(h, effs, "s1")
	if tr := must[StateChanged](h, effs); !errors.Is(tr.Reason, ErrCredentialsRejected) || tr.Code != 1008 {
		t.Fatalf("transition %+v does not say the credentials were rejected (1008)", tr)
	}
}

// A static token refused over HTTP (no provider) ends the pending Live.
func TestStaticTokenRefusedOverHTTPEndsPendingLive(t *testing.T) {
	h := withoutProvider(t)
	h.step(Query{ID: 1, SQL: "SELECT 1"})
	h.step(Subscribe{ID: "s1", SQL: "SELECT * FROM t"})
	effs := h.step(QueryResult{ID: 1, Err: refused401()})
	h.state(StateUnauthed)
	if ev := ended(h, effs, "s1"); !errors.Is(ev.Err, ErrCredentialsRejected) {
		t.Fatalf("s1 ended with %v", ev.Err)
	}
	if d := queryDone(h, effs, 1); !errors.Is(d.Err, auth.ErrRejected) {
		t.Fatalf("query 1 = %v", d.Err)
	}
}

// After repeated socket refusals the provider is asked after a delay; a
// Query does not wait it out: it asks the provider at once.
func TestQueryDoesNotWaitOutTheProviderBackoff(t *testing.T) {
	h := newHarness(t, Config{HasProvider: true, Namespace: "app", Seed: 3, BackoffMin: time.Second})
	rc := must[ResolveCredentials](h, h.step(Start{}))
	h.step(CredentialsResolved{Req: rc.Req, Credentials: creds("tok-1", time.Hour)})
	h.step(Subscribe{ID: "s1", SQL: "SELECT * FROM t", Wait: true})
	for i, tok := range []string{"tok-1", "tok-2"} {
		h.step(Dialed{Epoch: h.e.Epoch()})
		effs := h.frame(`{"type":"auth_error","message":"Invalid credentials"}`)
		if i == 0 {
			rc = must[ResolveCredentials](h, effs) // the first refusal asks at once
			g := refusedGuard{h, tok}
			g.step(CredentialsResolved{Req: rc.Req, Credentials: creds("tok-2", time.Hour)})
			continue
		}
		none[ResolveCredentials](h, effs) // a repeated refusal backs off
	}
	if _, ok := h.timers[TimerResolveRetry]; !ok {
		t.Fatal("no resolve delay after repeated refusals")
	}
	g := refusedGuard{h, "tok-2"}
	effs := g.step(Query{ID: 1, SQL: "SELECT 1"})
	if rc := must[ResolveCredentials](h, effs); rc.Reason != auth.ReasonRejected {
		t.Fatalf("reason %v", rc.Reason)
	}
	must[CancelTimer](h, effs)
	effs = g.step(CredentialsResolved{Req: h.e.resolveReq, Credentials: creds("tok-3", time.Hour)})
	if q := must[HTTPQuery](h, effs); q.ID != 1 || q.Token.Reveal() != "tok-3" {
		t.Fatalf("query sent as %+v", q)
	}
}

func dialFails(h *harness) []Effect {
	h.t.Helper()
	return h.step(DialFailed{Epoch: h.e.Epoch(), Err: errors.New("connection refused")})
}

// GiveUpAttempts: the n-th failed attempt in a row ends the waiting work
// with a *GiveUpError naming the attempts and the last failure, and the
// client stops dialing until new work arrives.
func TestGiveUpAfterAttempts(t *testing.T) {
	h := newHarness(t, Config{Namespace: "app", Seed: 5, GiveUpAttempts: 3})
	h.step(SetCredentials{Credentials: creds("tok-1", time.Hour)})
	h.step(Subscribe{ID: "s1", SQL: "SELECT * FROM t"})
	h.now = time.Second
	dialFails(h)
	h.state(StateBackoff)
	h.fire(TimerBackoff)
	dialFails(h)
	h.fire(TimerBackoff)
	effs := dialFails(h)
	h.state(StateAuthed)
	var ge *GiveUpError
	ev := ended(h, effs, "s1")
	if !errors.As(ev.Err, &ge) || !errors.Is(ev.Err, ErrGaveUp) {
		t.Fatalf("s1 ended with %v, want a *GiveUpError", ev.Err)
	}
	if ge.Attempts != 3 || ge.Last == nil || !strings.Contains(ge.Last.Error(), "connection refused") || ge.Elapsed <= 0 {
		t.Fatalf("give-up says %+v", ge)
	}
	ps := all[Problem](effs) // the attempt's own failure, then the give-up
	if p := ps[len(ps)-1]; p.Recoverable || !errors.Is(p.Err, ErrGaveUp) {
		t.Fatalf("problem %+v", p)
	}
	tr := all[StateChanged](effs)
	if last := tr[len(tr)-1]; last.Trigger != TriggerGiveUp || !errors.Is(last.Reason, ErrGaveUp) {
		t.Fatalf("transition %+v", last)
	}
	for _, tm := range []Timer{TimerBackoff, TimerGiveUp, TimerConnect} {
		if _, ok := h.timers[tm]; ok {
			t.Fatalf("timer %v still armed after giving up", tm)
		}
	}
	// New work starts a fresh round.
	must[Dial](h, h.step(Subscribe{ID: "s2", SQL: "SELECT * FROM t"}))
}

// GiveUpAfter: the window ends the attempts even during a long backoff.
func TestGiveUpAfterWindow(t *testing.T) {
	h := newHarness(t, Config{Namespace: "app", Seed: 5, GiveUpAfter: 2 * time.Second, BackoffMin: 10 * time.Second, BackoffMax: 20 * time.Second})
	h.step(SetCredentials{Credentials: creds("tok-1", time.Hour)})
	h.step(Subscribe{ID: "s1", SQL: "SELECT * FROM t"})
	h.step(Query{ID: 7, SQL: "SELECT 1"}) // runs over HTTP: not waiting on the socket
	dialFails(h)
	h.state(StateBackoff)
	if st := h.timers[TimerGiveUp]; st.At != 2*time.Second {
		t.Fatalf("give-up window armed at %v, want 2s", st.At)
	}
	effs := h.fire(TimerGiveUp)
	h.state(StateAuthed)
	var ge *GiveUpError
	if ev := ended(h, effs, "s1"); !errors.As(ev.Err, &ge) || ge.Elapsed != 2*time.Second || ge.Attempts != 1 {
		t.Fatalf("s1 ended with %v (%+v)", ev.Err, ge)
	}
	none[QueryDone](h, effs)
}

// A provider that stays unreachable (retryable failures): the policy ends
// the subscription waiting for credentials.
func TestGiveUpOnAnUnreachableProvider(t *testing.T) {
	h := newHarness(t, Config{HasProvider: true, Namespace: "app", Seed: 5, GiveUpAttempts: 2})
	rc := must[ResolveCredentials](h, h.step(Start{}))
	h.step(Subscribe{ID: "s1", SQL: "SELECT * FROM t"})
	down := errors.New("dial tcp: connection refused")
	h.step(CredentialsFailed{Req: rc.Req, Err: down, Retryable: true})
	rc = must[ResolveCredentials](h, h.fire(TimerResolveRetry))
	effs := h.step(CredentialsFailed{Req: rc.Req, Err: down, Retryable: true})
	var ge *GiveUpError
	if ev := ended(h, effs, "s1"); !errors.As(ev.Err, &ge) || ge.Attempts != 2 || !errors.Is(ge, down) {
		t.Fatalf("s1 ended with %v", ev.Err)
	}
	if _, ok := h.timers[TimerResolveRetry]; ok {
		t.Fatal("the provider is still retried after giving up")
	}
}

// The default keeps trying: no give-up timer, no end.
func TestNoGiveUpByDefault(t *testing.T) {
	h := newHarness(t, Config{Namespace: "app", Seed: 5})
	h.step(SetCredentials{Credentials: creds("tok-1", time.Hour)})
	h.step(Subscribe{ID: "s1", SQL: "SELECT * FROM t"})
	for range 20 {
		notEnded(h, dialFails(h), "s1")
		h.fire(TimerBackoff)
	}
	if _, ok := h.timers[TimerGiveUp]; ok {
		t.Fatal("give-up window armed without a policy")
	}
}

// Every state change says why: a lost socket reports its reason, close
// code, the attempt and the delay the backoff timer is armed with.
func TestTransitionsSayWhy(t *testing.T) {
	h := live(t, Config{Seed: 9})
	effs := h.step(SocketClosed{Epoch: h.e.Epoch(), Code: 1011, Reason: "internal error"})
	tr := must[StateChanged](h, effs)
	var ce *CloseError
	if tr.To != StateBackoff || !errors.As(tr.Reason, &ce) || ce.Code != 1011 || tr.Code != 1011 || tr.Attempt != 1 {
		t.Fatalf("transition %+v", tr)
	}
	if st := h.timers[TimerBackoff]; tr.RetryIn <= 0 || st.At != h.now+tr.RetryIn {
		t.Fatalf("RetryIn %v, backoff armed at %v (now %v)", tr.RetryIn, st.At, h.now)
	}
	tr = must[StateChanged](h, h.fire(TimerBackoff))
	if tr.To != StateConnecting || tr.Attempt != 2 || tr.Reason != nil {
		t.Fatalf("redial %+v", tr)
	}
	tr = must[StateChanged](h, h.fire(TimerConnect))
	if !errors.Is(tr.Reason, ErrConnectTimeout) || tr.Attempt != 2 {
		t.Fatalf("timeout %+v", tr)
	}
}

// A subscription whose SQL qualifies its table needs no client namespace;
// an unqualified one is refused with a message that says what to do.
func TestQualifiedSQLCarriesItsNamespace(t *testing.T) {
	h := newHarness(t, Config{Seed: 1})
	h.step(SetCredentials{Credentials: creds("tok-1", time.Hour)})
	_, err := h.stepErr(Subscribe{ID: "u", SQL: "SELECT * FROM orders"})
	if !errors.Is(err, ErrNoNamespace) || !strings.Contains(err.Error(), "qualify every table") {
		t.Fatalf("unqualified = %v", err)
	}
	h.step(Subscribe{ID: "q", SQL: "SELECT * FROM shop.orders WHERE id > 1"})
	h.step(Subscribe{ID: "w", SQL: "SELECT * FROM orders", Wait: true})
	h.step(Dialed{Epoch: h.e.Epoch()})
	effs := h.frame(authOKAlice)
	h.state(StateLive)
	sends := all[Send](effs)
	if len(sends) != 1 || !strings.Contains(string(sends[0].Data), `"sql":"SELECT * FROM shop.orders WHERE id \u003e 1"`) && !strings.Contains(string(sends[0].Data), `"sql":"SELECT * FROM shop.orders WHERE id > 1"`) {
		t.Fatalf("sent %s", describe(effs))
	}
	// The unqualified one goes once a namespace is set.
	if s := must[Send](h, h.step(SetNamespace{Namespace: "app"})); !strings.Contains(string(s.Data), "app.orders") {
		t.Fatalf("sent %s", s.Data)
	}
}

func TestQualifiedNamespace(t *testing.T) {
	for sql, want := range map[string]string{
		"SELECT * FROM shop.orders":                                           "shop",
		"select * from shop.orders o where o.id > 1":                          "shop",
		"SELECT * FROM shop.a JOIN shop.b ON a.id = b.id":                     "shop",
		"SELECT * FROM shop.a, crm.b":                                         "shop",
		"SELECT * FROM \"shop\".\"orders\"":                                   "shop",
		"SELECT * FROM (SELECT * FROM shop.a) x":                              "shop",
		"SELECT * FROM orders":                                                "",
		"SELECT * FROM shop.a JOIN b ON a.id = b.id":                          "",
		"SELECT * FROM shop.a, b":                                             "",
		"SELECT 1":                                                            "",
		"SELECT 'FROM x' FROM orders":                                         "",
		"SELECT * FROM shop.orders -- FROM x\nWHERE id IN (SELECT id FROM y)": "",
	} {
		ns, ok := qualifiedNamespace(sql)
		if ok != (want != "") || ok && ns != want {
			t.Errorf("qualifiedNamespace(%q) = %q %t, want %q", sql, ns, ok, want)
		}
	}
	// SQL in which no table can be found goes as it is: the server judges
	// it, and its error names what is wrong.
	for sql, own := range map[string]bool{"SELEKT * FORM orders": true, "SELECT 1": true, "SELECT * FROM orders": false, "SELECT * FROM shop.orders": true} {
		if _, got := ownNamespace(sql); got != own {
			t.Errorf("ownNamespace(%q) = %t, want %t", sql, got, own)
		}
	}
}

// A refusal the engine did not expect is not dropped: it fails the
// invariants and is reported.
func TestUnexpectedRefusalFailsInvariants(t *testing.T) {
	e := New(Config{})
	e.out = e.out[:0]
	e.must(TriggerAuthOK, nil, 0) // no row in Unauthed
	if err := e.CheckInvariants(); err == nil || !strings.Contains(err.Error(), "AuthOK") {
		t.Fatalf("CheckInvariants = %v", err)
	}
	if _, ok := find[Problem](e.out); !ok {
		t.Fatal("no Problem reported")
	}
}

// CheckLiveness finds a subscription left with nothing on its way.
func TestLivenessFindsAStuckSubscription(t *testing.T) {
	h := newHarness(t, Config{Namespace: "app", Seed: 1})
	h.step(SetCredentials{Credentials: creds("tok-1", time.Hour)})
	h.step(Subscribe{ID: "s1", SQL: "SELECT * FROM t"})
	h.step(DialFailed{Epoch: h.e.Epoch(), Err: errors.New("refused")})
	if err := h.e.CheckLiveness(); err != nil {
		t.Fatalf("backoff armed, yet %v", err)
	}
	h.e.cancel(TimerBackoff) // what a bug would do
	if err := h.e.CheckLiveness(); err == nil || !strings.Contains(err.Error(), `"s1"`) {
		t.Fatalf("CheckLiveness = %v", err)
	}
}

// Disconnect during an outage is the application's choice: the give-up
// window does not end the subscriptions it keeps registered.
func TestDisconnectStopsTheGiveUpWindow(t *testing.T) {
	h := newHarness(t, Config{Namespace: "app", Seed: 5, GiveUpAfter: 2 * time.Second})
	h.step(SetCredentials{Credentials: creds("tok-1", time.Hour)})
	h.step(Subscribe{ID: "s1", SQL: "SELECT * FROM t"})
	dialFails(h)
	must[CancelTimer](h, h.step(Disconnect{}))
	if _, ok := h.timers[TimerGiveUp]; ok {
		t.Fatal("give-up window still armed after Disconnect")
	}
	h.state(StateAuthed)
	// Connect starts a fresh round, with its own window.
	must[Dial](h, h.step(Connect{}))
	notEnded(h, dialFails(h), "s1")
	if st := h.timers[TimerGiveUp]; st.At != h.now+2*time.Second {
		t.Fatalf("window armed at %v, want %v", st.At, h.now+2*time.Second)
	}
}
