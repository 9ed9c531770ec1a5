package fsm

import (
	"errors"
	"testing"
	"time"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/transport/wire"
)

// The server refusing the current token over HTTP (a 401 to a query) fires
// TokenRefused. These tests follow each case through the effects: the
// refused token never reaches the wire again, and the work either waits for
// the provider's new token or fails at once with ErrCredentialsRejected.

func refused401() *QueryError {
	return &QueryError{Status: 401, Code: wire.CodeInvalidCredentials, Message: "Invalid credentials"}
}

// refusedGuard watches every step of h and fails the test when an
// HTTPQuery or Authenticate effect carries tok.
type refusedGuard struct {
	h   *harness
	tok string
}

func (g refusedGuard) step(in Input) []Effect {
	g.h.t.Helper()
	return g.check(g.h.step(in))
}

func (g refusedGuard) stepErr(in Input) ([]Effect, error) {
	g.h.t.Helper()
	effs, err := g.h.stepErr(in)
	return g.check(effs), err
}

func (g refusedGuard) check(effs []Effect) []Effect {
	g.h.t.Helper()
	for _, eff := range effs {
		switch eff := eff.(type) {
		case HTTPQuery:
			if eff.Token.Reveal() == g.tok {
				g.h.t.Fatalf("query %d sent with the refused token", eff.ID)
			}
		case Authenticate:
			if eff.Token.Reveal() == g.tok {
				g.h.t.Fatalf("authenticate on epoch %d with the refused token", eff.Epoch)
			}
		}
	}
	return effs
}

func withProvider(t *testing.T) *harness {
	h := newHarness(t, Config{HasProvider: true, Namespace: "app", Seed: 7})
	rc := must[ResolveCredentials](h, h.step(Start{}))
	h.step(CredentialsResolved{Req: rc.Req, Credentials: creds("tok-1", time.Hour)})
	h.state(StateAuthed)
	return h
}

func withoutProvider(t *testing.T) *harness {
	h := newHarness(t, Config{Namespace: "app", Seed: 7})
	h.step(Start{})
	h.step(SetCredentials{Credentials: creds("tok-1", time.Hour)})
	h.state(StateAuthed)
	return h
}

func queryDone(h *harness, effs []Effect, id uint64) QueryDone {
	h.t.Helper()
	for _, d := range all[QueryDone](effs) {
		if d.ID == id {
			return d
		}
	}
	h.t.Fatalf("no QueryDone for %d among %s", id, describe(effs))
	return QueryDone{}
}

func TestTokenRefusedWithProviderHoldsQueriesForTheNewToken(t *testing.T) {
	h := withProvider(t)
	h.step(Query{ID: 1, SQL: "SELECT 1"})
	h.step(Query{ID: 2, SQL: "SELECT 2"})

	g := refusedGuard{h, "tok-1"}
	effs := g.step(QueryResult{ID: 1, Err: refused401()})
	h.state(StateAuthed)
	if rc := must[ResolveCredentials](h, effs); rc.Reason != auth.ReasonRejected {
		t.Fatalf("reason = %v, want rejected", rc.Reason)
	}
	none[QueryDone](h, effs)
	sc := must[StateChanged](h, effs)
	if sc.Trigger != TriggerTokenRefused || sc.From != StateAuthed || sc.To != StateAuthed {
		t.Fatalf("transition = %+v, want the internal TokenRefused", sc)
	}

	// A new query waits; the second refusal of the same token asks nothing more.
	effs = g.step(Query{ID: 3, SQL: "SELECT 3"})
	none[HTTPQuery](h, effs)
	effs = g.step(QueryResult{ID: 2, Err: refused401()})
	none[ResolveCredentials](h, effs)
	none[QueryDone](h, effs)

	// The new token carries all three.
	rc := h.e.resolveReq
	effs = g.step(CredentialsResolved{Req: rc, Credentials: creds("tok-2", time.Hour)})
	qs := all[HTTPQuery](effs)
	if len(qs) != 3 {
		t.Fatalf("%d queries sent after the new token, want 3: %s", len(qs), describe(effs))
	}
	for _, q := range qs {
		if q.Token.Reveal() != "tok-2" {
			t.Fatalf("query %d not sent with the new token", q.ID)
		}
	}
}

func TestTokenRefusedWithoutProviderFailsQueriesAtOnce(t *testing.T) {
	h := withoutProvider(t)
	h.step(Query{ID: 1, SQL: "SELECT 1"})
	h.step(Query{ID: 2, SQL: "SELECT 2"})

	g := refusedGuard{h, "tok-1"}
	effs := g.step(QueryResult{ID: 1, Err: refused401()})
	h.state(StateUnauthed)
	if d := queryDone(h, effs, 1); !errors.Is(d.Err, auth.ErrRejected) {
		t.Fatalf("query 1 error = %v, want the server's refusal", d.Err)
	}
	none[ResolveCredentials](h, effs)
	if sc := must[StateChanged](h, effs); sc.Trigger != TriggerTokenRefused || sc.To != StateUnauthed {
		t.Fatalf("transition = %+v", sc)
	}

	// New work fails at once, and says why.
	_, err := g.stepErr(Query{ID: 3, SQL: "SELECT 3"})
	if !errors.Is(err, ErrCredentialsRejected) || !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("query after the refusal = %v, want ErrCredentialsRejected and ErrNoCredentials", err)
	}
	if _, err := g.stepErr(Connect{}); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("connect after the refusal = %v", err)
	}
	effs, err = g.stepErr(Subscribe{ID: "s1", SQL: "SELECT * FROM t", Wait: true})
	if err != nil {
		t.Fatalf("a waiting subscribe = %v", err)
	}
	none[Dial](h, effs)

	// The other query in flight with the token fails with its own answer.
	effs = g.step(QueryResult{ID: 2, Err: refused401()})
	queryDone(h, effs, 2)

	// The refused token is not taken back; a new one is.
	if _, err := g.stepErr(SetCredentials{Credentials: creds("tok-1", time.Hour)}); !errors.Is(err, ErrCredentialsRejected) {
		t.Fatalf("pushing the refused token again = %v", err)
	}
	effs = g.step(SetCredentials{Credentials: creds("tok-2", time.Hour)})
	must[Dial](h, effs)
	effs = g.step(Dialed{Epoch: h.e.Epoch()})
	if a := must[Authenticate](h, effs); a.Token.Reveal() != "tok-2" {
		t.Fatal("not authenticated with the new token")
	}
	effs = g.step(Query{ID: 4, SQL: "SELECT 4"})
	if q := must[HTTPQuery](h, effs); q.Token.Reveal() != "tok-2" {
		t.Fatal("query not sent with the new token")
	}
}

func TestTokenRefusedWithFinalProviderAnswerFailsAtOnce(t *testing.T) {
	h := withProvider(t)
	h.step(Query{ID: 1, SQL: "SELECT 1"})
	// The provider's last answer was final: it cannot be asked again.
	h.e.resolveBlocked = true

	g := refusedGuard{h, "tok-1"}
	effs := g.step(QueryResult{ID: 1, Err: refused401()})
	h.state(StateUnauthed)
	none[ResolveCredentials](h, effs)
	if d := queryDone(h, effs, 1); !errors.Is(d.Err, auth.ErrRejected) {
		t.Fatalf("query 1 error = %v", d.Err)
	}
	if _, err := g.stepErr(Query{ID: 2, SQL: "SELECT 2"}); !errors.Is(err, ErrCredentialsRejected) {
		t.Fatalf("query after the refusal = %v", err)
	}
	// FreshAuth lifts the block.
	effs = g.step(FreshAuth{})
	rc := must[ResolveCredentials](h, effs)
	g.step(CredentialsResolved{Req: rc.Req, Credentials: creds("tok-2", time.Hour)})
	h.state(StateAuthed)
	effs = g.step(Query{ID: 3, SQL: "SELECT 3"})
	if q := must[HTTPQuery](h, effs); q.Token.Reveal() != "tok-2" {
		t.Fatal("query not sent with the new token")
	}
}

func TestTokenRefusedWhileLiveWithProviderKeepsTheSocket(t *testing.T) {
	h := live(t, Config{HasProvider: true})
	h.step(Query{ID: 1, SQL: "SELECT 1"})
	g := refusedGuard{h, "tok-1"}
	effs := g.step(QueryResult{ID: 1, Err: refused401()})
	h.state(StateLive)
	must[ResolveCredentials](h, effs)
	none[CloseSocket](h, effs)
	none[QueryDone](h, effs)

	// Live changes keep flowing on the socket authenticated earlier.
	effs = g.step(FrameReceived{Epoch: h.e.Epoch(), Data: []byte(changeJSON("s1", "insert", 400))})
	must[Deliver](h, effs)

	effs = g.step(CredentialsResolved{Req: h.e.resolveReq, Credentials: creds("tok-2", time.Hour)})
	h.state(StateLive)
	if q := must[HTTPQuery](h, effs); q.ID != 1 || q.Token.Reveal() != "tok-2" {
		t.Fatalf("retry = %+v", q)
	}
	// The next socket presents the new token.
	g.step(SocketClosed{Epoch: h.e.Epoch(), Code: wire.CloseAbnormal})
	h.state(StateBackoff)
	effs = g.check(h.fire(TimerBackoff))
	must[Dial](h, effs)
	if a := must[Authenticate](h, g.step(Dialed{Epoch: h.e.Epoch()})); a.Token.Reveal() != "tok-2" {
		t.Fatal("redial not authenticated with the new token")
	}
}

func TestTokenRefusedWhileLiveWithoutProviderParksSubscriptions(t *testing.T) {
	h := live(t, Config{})
	epoch := h.e.Epoch()
	h.step(Query{ID: 1, SQL: "SELECT 1"})
	g := refusedGuard{h, "tok-1"}
	effs := g.step(QueryResult{ID: 1, Err: refused401()})
	h.state(StateUnauthed)
	if cs := must[CloseSocket](h, effs); cs.Epoch != epoch {
		t.Fatalf("closed epoch %d, want %d", cs.Epoch, epoch)
	}
	if ce := must[ConnectionEvent](h, effs); ce.Connected || ce.Recoverable {
		t.Fatalf("connection event = %+v, want lost and not recoverable by the client itself", ce)
	}
	queryDone(h, effs, 1)
	if subs := h.e.Subscriptions(); len(subs) != 1 || subs[0].Phase != "pending" {
		t.Fatalf("subscriptions = %+v, want s1 parked", subs)
	}

	// New credentials: the subscription resumes from where it was.
	effs = g.step(SetCredentials{Credentials: creds("tok-2", time.Hour)})
	must[Dial](h, effs)
	if a := must[Authenticate](h, g.step(Dialed{Epoch: h.e.Epoch()})); a.Token.Reveal() != "tok-2" {
		t.Fatal("not authenticated with the new token")
	}
	effs = g.check(h.frame(`{"type":"auth_success","user":"alice","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`))
	m := sent(h, must[Send](h, effs))
	if m.Subscription == nil || m.Subscription.Options == nil || m.Subscription.Options.From == nil || *m.Subscription.Options.From != 300 {
		t.Fatalf("resubscribe = %+v, want from 300", m.Subscription)
	}
}

func TestTokenRefusedDuringInFlightDial(t *testing.T) {
	for _, provider := range []bool{true, false} {
		for _, answered := range []bool{false, true} {
			name := "withoutProvider"
			if provider {
				name = "withProvider"
			}
			if answered {
				name += "/authenticating"
			} else {
				name += "/dialing"
			}
			t.Run(name, func(t *testing.T) {
				var h *harness
				if provider {
					h = withProvider(t)
				} else {
					h = withoutProvider(t)
				}
				h.step(Query{ID: 1, SQL: "SELECT 1"})
				// Without a provider only the application can bring a new
				// token: the subscription asks to wait for it (one that does
				// not ends: TestRefusalEndsPendingWork).
				effs := h.step(Subscribe{ID: "s1", SQL: "SELECT * FROM t", Wait: !provider})
				h.state(StateConnecting)
				epoch := must[Dial](h, effs).Epoch
				if answered {
					must[Authenticate](h, h.step(Dialed{Epoch: epoch}))
				}

				g := refusedGuard{h, "tok-1"}
				effs = g.step(QueryResult{ID: 1, Err: refused401()})
				if cs := must[CloseSocket](h, effs); cs.Epoch != epoch {
					t.Fatalf("closed epoch %d, want %d", cs.Epoch, epoch)
				}
				if provider {
					h.state(StateAuthed)
					must[ResolveCredentials](h, effs)
				} else {
					h.state(StateUnauthed)
					queryDone(h, effs, 1)
				}
				if !answered {
					// The dial completes late: it is closed, not authenticated.
					effs = g.step(Dialed{Epoch: epoch})
					none[Authenticate](h, effs)
					if cs := must[CloseSocket](h, effs); cs.Epoch != epoch {
						t.Fatalf("stale socket %d not closed", cs.Epoch)
					}
				} else {
					// The server's answer to the abandoned attempt changes nothing.
					g.step(FrameReceived{Epoch: epoch, Data: []byte(`{"type":"auth_success","user":"a","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`)})
					if h.e.State() == StateConnected || h.e.State() == StateLive {
						t.Fatalf("an abandoned attempt connected: %v", h.e.State())
					}
				}

				if provider {
					effs = g.step(CredentialsResolved{Req: h.e.resolveReq, Credentials: creds("tok-2", time.Hour)})
				} else {
					effs = g.step(SetCredentials{Credentials: creds("tok-2", time.Hour)})
				}
				d := must[Dial](h, effs)
				if d.Epoch == epoch {
					t.Fatal("redial reused the abandoned epoch")
				}
				if provider {
					if q := must[HTTPQuery](h, effs); q.Token.Reveal() != "tok-2" {
						t.Fatal("retry not sent with the new token")
					}
				}
				if a := must[Authenticate](h, g.step(Dialed(d))); a.Token.Reveal() != "tok-2" {
					t.Fatal("not authenticated with the new token")
				}
			})
		}
	}
}

func TestRefusalOfARetriedQueryMarksTheNewTokenRefused(t *testing.T) {
	h := withProvider(t)
	h.step(Query{ID: 1, SQL: "SELECT 1"})
	effs := h.step(QueryResult{ID: 1, Err: refused401()})
	rc := must[ResolveCredentials](h, effs)
	effs = h.step(CredentialsResolved{Req: rc.Req, Credentials: creds("tok-2", time.Hour)})
	if q := must[HTTPQuery](h, effs); q.Token.Reveal() != "tok-2" {
		t.Fatal("retry not sent with the new token")
	}

	// The retry is refused too: the query fails (one retry only), and the
	// new token is as dead as the old one.
	g := refusedGuard{h, "tok-2"}
	effs = g.step(QueryResult{ID: 1, Err: refused401()})
	if d := queryDone(h, effs, 1); !errors.Is(d.Err, auth.ErrRejected) {
		t.Fatalf("query 1 error = %v", d.Err)
	}
	if rc := must[ResolveCredentials](h, effs); rc.Reason != auth.ReasonRejected {
		t.Fatalf("reason = %v, want rejected", rc.Reason)
	}
	h.state(StateAuthed)

	// Neither a query nor a dial presents tok-2 meanwhile.
	effs = g.step(Query{ID: 2, SQL: "SELECT 2"})
	none[HTTPQuery](h, effs)
	effs = g.step(Connect{})
	none[Dial](h, effs)

	// The provider hands back tok-2: refused, query 2 fails, nothing dials.
	effs = g.step(CredentialsResolved{Req: h.e.resolveReq, Credentials: creds("tok-2", time.Hour)})
	h.state(StateUnauthed)
	if p := must[Problem](h, effs); !errors.Is(p.Err, ErrCredentialsRejected) {
		t.Fatalf("problem = %v", p.Err)
	}
	if d := queryDone(h, effs, 2); !errors.Is(d.Err, ErrNoCredentials) {
		t.Fatalf("query 2 error = %v", d.Err)
	}
	none[Dial](h, effs)
}

func TestRefusalOfAReplacedTokenRetriesWithTheCurrentOne(t *testing.T) {
	h := withProvider(t)
	h.step(Query{ID: 1, SQL: "SELECT 1"})
	// A proactive refresh brings tok-2 while query 1 is out with tok-1.
	h.fire(TimerRefresh)
	h.step(CredentialsResolved{Req: h.e.resolveReq, Credentials: creds("tok-2", time.Hour)})

	effs := h.step(QueryResult{ID: 1, Err: refused401()})
	none[ResolveCredentials](h, effs) // tok-2 was never refused
	none[StateChanged](h, effs)
	if q := must[HTTPQuery](h, effs); q.ID != 1 || q.Token.Reveal() != "tok-2" {
		t.Fatalf("retry = %+v", q)
	}
}

func TestAuthErrorWithoutProviderFailsQueriesWithRejected(t *testing.T) {
	h := withoutProvider(t)
	effs := h.step(Subscribe{ID: "s1", SQL: "SELECT * FROM t"})
	must[Dial](h, effs)
	h.step(Dialed{Epoch: h.e.Epoch()})
	h.frame(`{"type":"auth_error","message":"Invalid credentials"}`)
	h.state(StateUnauthed)
	if _, err := h.stepErr(Query{ID: 1, SQL: "SELECT 1"}); !errors.Is(err, ErrCredentialsRejected) || !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("query after auth_error = %v", err)
	}
}
