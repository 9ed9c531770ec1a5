package fsm

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/transport/wire"
)

func TestLifecycleHappyPath(t *testing.T) {
	h := newHarness(t, Config{HasProvider: true})
	effs := h.step(Start{})
	rc := must[ResolveCredentials](h, effs)
	if rc.Reason != auth.ReasonInitial {
		t.Fatalf("reason = %v, want initial", rc.Reason)
	}
	h.state(StateUnauthed)

	effs = h.step(CredentialsResolved{Req: rc.Req, Credentials: creds("tok-1", time.Hour)})
	h.state(StateAuthed)
	none[Dial](h, effs) // lazy: no socket until something needs it
	if sc := must[StateChanged](h, effs); sc.From != StateUnauthed || sc.To != StateAuthed || sc.Trigger != TriggerCredentials {
		t.Fatalf("transition = %+v", sc)
	}

	// Live without a namespace is refused before anything is sent.
	effs, err := h.stepErr(Subscribe{ID: "s1", SQL: "SELECT * FROM orders"})
	if !errors.Is(err, ErrNoNamespace) {
		t.Fatalf("subscribe without namespace = %v, want ErrNoNamespace", err)
	}
	var te *TransitionError
	if !errors.As(err, &te) || te.Guard != "hasNamespace" {
		t.Fatalf("refusal %v does not name the guard", err)
	}
	none[Dial](h, effs)
	none[Send](h, effs)

	h.step(SetNamespace{Namespace: "app"})
	effs = h.step(Subscribe{ID: "s1", SQL: "SELECT * FROM orders WHERE status = 'open'", Options: &wire.SubscriptionOptions{}})
	dial := must[Dial](h, effs)
	h.state(StateConnecting)

	effs = h.step(Dialed(dial))
	a := must[Authenticate](h, effs)
	if a.Token.Reveal() != "tok-1" || a.Epoch != dial.Epoch {
		t.Fatalf("authenticate = epoch %d", a.Epoch)
	}
	if s := fmt.Sprintf("%v %+v %#v", a, a, a); strings.Contains(s, "tok-1") {
		t.Fatalf("Authenticate effect prints its token: %s", s)
	}
	none[Send](h, effs) // nothing but authenticate before auth_success

	effs = h.frame(`{"type":"auth_success","user":"alice","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`)
	h.state(StateLive)
	m := sent(h, must[Send](h, effs))
	if m.Type != "subscribe" || m.Subscription.ID != "s1" || m.Subscription.SQL != "SELECT * FROM app.orders WHERE status = 'open'" {
		t.Fatalf("subscribe = %+v", m.Subscription)
	}
	if m.Subscription.Options == nil || m.Subscription.Options.From != nil {
		t.Fatalf("first subscribe options = %+v", m.Subscription.Options)
	}
	if ce := must[ConnectionEvent](h, effs); !ce.Connected {
		t.Fatalf("connection event = %+v", ce)
	}

	effs = h.frame(ackJSON("s1", true, 200))
	if d := must[Deliver](h, effs); d.Event.Kind != EventSubscribed || len(d.Event.Schema) != 1 {
		t.Fatalf("ack delivered %+v", d.Event)
	}
	effs = h.frame(batchJSON("s1", 0, true, 100, 200))
	d := must[Deliver](h, effs)
	if d.Event.Kind != EventSnapshot || len(d.Event.Rows) != 2 || d.Event.Last || d.Event.Seq != 200 {
		t.Fatalf("batch 0 = %+v", d.Event)
	}
	nb := sent(h, must[Send](h, effs))
	if nb.Type != "next_batch" || nb.LastSeqID == nil || *nb.LastSeqID != 200 {
		t.Fatalf("next_batch = %+v", nb)
	}
	effs = h.frame(batchJSON("s1", 1, false, 300))
	if d := must[Deliver](h, effs); !d.Event.Last || d.Event.Seq != 300 {
		t.Fatalf("last batch = %+v", d.Event)
	}
	none[Send](h, effs)

	effs = h.frame(changeJSON("s1", "insert", 400))
	if d := must[Deliver](h, effs); d.Event.Kind != EventInsert || d.Event.Seq != 400 {
		t.Fatalf("insert = %+v", d.Event)
	}
	// A replay at or below the position is dropped.
	effs = h.frame(changeJSON("s1", "update", 400))
	none[Deliver](h, effs)
	effs = h.frame(changeJSON("s1", "delete", 500))
	if d := must[Deliver](h, effs); d.Event.Kind != EventDelete || len(d.Event.OldValues) != 1 {
		t.Fatalf("delete = %+v", d.Event)
	}
	if subs := h.e.Subscriptions(); len(subs) != 1 || subs[0].Position != 500 || subs[0].Phase != "live" {
		t.Fatalf("subscriptions = %+v", subs)
	}
}

func TestResumeAfterSocketLoss(t *testing.T) {
	h := live(t, Config{Seed: 7})
	h.frame(changeJSON("s1", "insert", 400))
	old := h.e.Epoch()

	effs := h.step(SocketClosed{Epoch: old, Code: 1006})
	h.state(StateBackoff)
	ce := must[ConnectionEvent](h, effs)
	if ce.Connected || !ce.Recoverable || ce.Code != 1006 {
		t.Fatalf("connection event = %+v", ce)
	}
	bt := h.timers[TimerBackoff]
	if d := bt.At - h.now; d < 500*time.Millisecond || d >= time.Second {
		t.Fatalf("first backoff %v outside [500ms, 1s)", d)
	}
	// Frames of the dead epoch are ignored.
	effs = h.step(FrameReceived{Epoch: old, Data: []byte(changeJSON("s1", "insert", 900))})
	none[Deliver](h, effs)

	effs = h.fire(TimerBackoff)
	dial := must[Dial](h, effs)
	if dial.Epoch != old+1 {
		t.Fatalf("epoch = %d, want %d", dial.Epoch, old+1)
	}
	// A late Dialed for the old epoch is closed, not used.
	effs = h.step(Dialed{Epoch: old})
	if cs := must[CloseSocket](h, effs); cs.Epoch != old {
		t.Fatalf("close of stale epoch = %+v", cs)
	}
	none[Authenticate](h, effs)

	h.step(Dialed(dial))
	effs = h.frame(`{"type":"auth_success","user":"alice","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`)
	m := sent(h, must[Send](h, effs))
	if m.Subscription == nil || m.Subscription.Options == nil || m.Subscription.Options.From == nil || *m.Subscription.Options.From != 400 {
		t.Fatalf("resubscribe = %+v", m.Subscription)
	}
	if m.Subscription.Options.LastRows != nil {
		t.Fatal("resume must not send last_rows")
	}
	effs = h.frame(ackJSON("s1", false, 600))
	d := must[Deliver](h, effs)
	if d.Event.Kind != EventResumed || d.Event.From != 400 || d.Event.Continuity != ContinuityNoDeletes {
		t.Fatalf("resume event = %+v", d.Event)
	}
	// The replay holds a row at the position (dropped) and a newer one.
	effs = h.frame(batchJSON("s1", 0, false, 400, 600))
	d = must[Deliver](h, effs)
	if len(d.Event.Rows) != 1 || d.Event.Seq != 600 {
		t.Fatalf("replay batch = %+v", d.Event)
	}
	// A successful reconnect resets the backoff attempts.
	if h.e.attempts != 0 {
		t.Fatalf("attempts = %d after reconnect", h.e.attempts)
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	e := New(Config{BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second, Seed: 1})
	seen := map[time.Duration]bool{}
	for n := range 40 {
		d := e.backoffDelay(n)
		ceil := min(time.Second, 100*time.Millisecond<<(min(n, 20)+1))
		if d < 100*time.Millisecond || d >= max(ceil, 100*time.Millisecond+1) {
			t.Fatalf("attempt %d: %v outside [100ms, %v)", n, d, ceil)
		}
		seen[d] = true
	}
	if len(seen) < 30 {
		t.Fatalf("only %d distinct delays in 40 draws: no jitter", len(seen))
	}
	// Same seed, same delays.
	a, b := New(Config{Seed: 9}), New(Config{Seed: 9})
	for n := range 10 {
		if a.backoffDelay(n) != b.backoffDelay(n) {
			t.Fatal("backoff is not reproducible from the seed")
		}
	}
}

func TestAuthRejectedRefreshesFirstAndNeverLoops(t *testing.T) {
	h := newHarness(t, Config{HasProvider: true, Namespace: "app", Seed: 3})
	rc := must[ResolveCredentials](h, h.step(Start{}))
	h.step(CredentialsResolved{Req: rc.Req, Credentials: creds("tok-1", time.Hour)})
	h.step(Subscribe{ID: "s1", SQL: "SELECT * FROM app.t"})
	h.step(Dialed{Epoch: h.e.Epoch()})
	h.frame(`{"type":"auth_success","user":"a","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`)
	h.frame(ackJSON("s1", false, 0))
	h.state(StateLive)

	// The server revokes: close 1008.
	effs := h.step(SocketClosed{Epoch: h.e.Epoch(), Code: 1008, Reason: "Authentication failed"})
	h.state(StateUnauthed)
	rc = must[ResolveCredentials](h, effs)
	if rc.Reason != auth.ReasonRejected {
		t.Fatalf("reason = %v, want rejected", rc.Reason)
	}
	none[Dial](h, effs)

	// The provider hands back the refused token: no dial, a clear problem, and
	// no new resolution until the application acts.
	effs = h.step(CredentialsResolved{Req: rc.Req, Credentials: creds("tok-1", time.Hour)})
	none[Dial](h, effs)
	none[ResolveCredentials](h, effs)
	if p := must[Problem](h, effs); !errors.Is(p.Err, ErrCredentialsRejected) {
		t.Fatalf("problem = %v", p.Err)
	}
	for range 5 {
		h.now += time.Minute
		effs = h.step(PongReceived{})
		none[Dial](h, effs)
		none[ResolveCredentials](h, effs)
	}
	if _, err := h.stepErr(SetCredentials{Credentials: creds("tok-1", time.Hour)}); !errors.Is(err, ErrCredentialsRejected) {
		t.Fatalf("pushing the refused token again = %v", err)
	}

	// New credentials: reconnect and resume.
	effs = h.step(SetCredentials{Credentials: creds("tok-2", time.Hour)})
	must[Dial](h, effs)
	h.step(Dialed{Epoch: h.e.Epoch()})

	// Refused again before any auth_success: the second refusal in a row
	// waits before asking the provider.
	effs = h.frame(`{"type":"auth_error","message":"Invalid credentials"}`)
	h.state(StateUnauthed)
	none[ResolveCredentials](h, effs)
	if _, ok := h.timers[TimerResolveRetry]; !ok {
		t.Fatalf("second refusal in a row did not back off; effects %s", describe(effs))
	}
	effs = h.fire(TimerResolveRetry)
	if rc := must[ResolveCredentials](h, effs); rc.Reason != auth.ReasonRejected {
		t.Fatalf("reason = %v", rc.Reason)
	}
}

func TestProactiveRefreshKeepsTheSocket(t *testing.T) {
	h := newHarness(t, Config{HasProvider: true, Namespace: "app"})
	rc := must[ResolveCredentials](h, h.step(Start{}))
	h.step(CredentialsResolved{Req: rc.Req, Credentials: creds("tok-1", 100*time.Second)})
	if at := h.timers[TimerRefresh].At; at != 90*time.Second {
		t.Fatalf("refresh armed at %v, want 90s (10%% margin)", at)
	}
	h.step(Subscribe{ID: "s1", SQL: "SELECT * FROM app.t"})
	h.step(Dialed{Epoch: h.e.Epoch()})
	h.frame(`{"type":"auth_success","user":"a","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`)
	h.state(StateLive)

	effs := h.fire(TimerRefresh)
	rc = must[ResolveCredentials](h, effs)
	if rc.Reason != auth.ReasonRefresh {
		t.Fatalf("reason = %v", rc.Reason)
	}
	h.state(StateLive)
	// A second refresh trigger while one is in flight asks nothing new.
	none[ResolveCredentials](h, h.step(FreshAuth{}))

	effs = h.step(CredentialsResolved{Req: rc.Req, Credentials: creds("tok-2", 100*time.Second)})
	h.state(StateLive)
	none[CloseSocket](h, effs)
	none[Dial](h, effs)
	if at := h.timers[TimerRefresh].At; at != 90*time.Second+90*time.Second {
		t.Fatalf("refresh re-armed at %v", at)
	}
	// The new token serves the next connection.
	h.step(SocketClosed{Epoch: h.e.Epoch(), Code: 1001})
	h.fire(TimerBackoff)
	effs = h.step(Dialed{Epoch: h.e.Epoch()})
	if a := must[Authenticate](h, effs); a.Token.Reveal() != "tok-2" {
		t.Fatal("reconnect did not use the refreshed token")
	}
}

func TestRefreshFailureAfterExpiryParksSubscriptions(t *testing.T) {
	h := newHarness(t, Config{HasProvider: true, Namespace: "app"})
	rc := must[ResolveCredentials](h, h.step(Start{}))
	h.step(CredentialsResolved{Req: rc.Req, Credentials: creds("tok-1", 100*time.Second)})
	h.step(Subscribe{ID: "s1", SQL: "SELECT * FROM app.t", Options: &wire.SubscriptionOptions{}})
	h.step(Dialed{Epoch: h.e.Epoch()})
	h.frame(`{"type":"auth_success","user":"a","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`)
	h.frame(ackJSON("s1", false, 50))
	h.frame(batchJSON("s1", 0, false, 50))

	rc = must[ResolveCredentials](h, h.fire(TimerRefresh))
	// Still valid: a failure keeps the token until it really expires.
	effs := h.step(CredentialsFailed{Req: rc.Req, Err: errors.New("network down"), Retryable: true})
	h.state(StateLive)
	none[CloseSocket](h, effs)
	if _, ok := h.timers[TimerResolveRetry]; !ok {
		t.Fatal("no retry armed after a retryable failure")
	}
	// The hard expiry passes while the retry fails again.
	h.now = 100 * time.Second
	rc = must[ResolveCredentials](h, h.fire(TimerResolveRetry))
	effs = h.step(CredentialsFailed{Req: rc.Req, Err: auth.ErrRejected, Retryable: false})
	h.state(StateUnauthed)
	must[CloseSocket](h, effs)
	none[Deliver](h, effs) // parked, not ended
	if subs := h.e.Subscriptions(); len(subs) != 1 || subs[0].Phase != "pending" || subs[0].Position != 50 {
		t.Fatalf("subscriptions = %+v", subs)
	}
	// Credentials come back: the subscription resumes from its position.
	effs = h.step(SetCredentials{Credentials: creds("tok-9", time.Hour)})
	must[Dial](h, effs)
	h.step(Dialed{Epoch: h.e.Epoch()})
	effs = h.frame(`{"type":"auth_success","user":"a","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`)
	m := sent(h, must[Send](h, effs))
	if m.Subscription.Options.From == nil || *m.Subscription.Options.From != 50 {
		t.Fatalf("resume from = %+v", m.Subscription.Options)
	}
}

func TestTokenExpiredQueryRefreshesAndRetriesOnce(t *testing.T) {
	h := newHarness(t, Config{HasProvider: true})
	rc := must[ResolveCredentials](h, h.step(Start{}))
	h.step(CredentialsResolved{Req: rc.Req, Credentials: creds("tok-1", time.Hour)})

	effs := h.step(Query{ID: 1, SQL: "SELECT 1"})
	q := must[HTTPQuery](h, effs)
	if q.Token.Reveal() != "tok-1" {
		t.Fatal("query not sent with the token")
	}
	effs = h.step(QueryResult{ID: 1, Err: &QueryError{Status: 401, Code: wire.CodeTokenExpired}})
	none[QueryDone](h, effs)
	rc = must[ResolveCredentials](h, effs)
	if rc.Reason != auth.ReasonRejected {
		t.Fatalf("reason = %v", rc.Reason)
	}
	effs = h.step(CredentialsResolved{Req: rc.Req, Credentials: creds("tok-2", time.Hour)})
	q = must[HTTPQuery](h, effs)
	if q.ID != 1 || q.Token.Reveal() != "tok-2" {
		t.Fatalf("retry = %d", q.ID)
	}
	// Refused again: no second retry.
	effs = h.step(QueryResult{ID: 1, Err: &QueryError{Status: 401, Code: wire.CodeTokenExpired}})
	done := must[QueryDone](h, effs)
	if !errors.Is(done.Err, auth.ErrTokenExpired) {
		t.Fatalf("query error = %v", done.Err)
	}
}

func TestUseNamespaceIsTrackedClientSide(t *testing.T) {
	h := newHarness(t, Config{})
	h.step(SetCredentials{Credentials: creds("t", 0)})
	h.step(Query{ID: 1, SQL: "USE NAMESPACE shop;"})
	if h.e.Namespace() != "" {
		t.Fatal("namespace switched before the server accepted it")
	}
	h.step(QueryResult{ID: 1, Response: &wire.SQLResponse{Status: "success"}})
	if h.e.Namespace() != "shop" {
		t.Fatalf("namespace = %q", h.e.Namespace())
	}
	q := must[HTTPQuery](h, h.step(Query{ID: 2, SQL: "SELECT * FROM orders"}))
	if q.Request.NamespaceID != "shop" {
		t.Fatalf("namespace_id = %q", q.Request.NamespaceID)
	}
	// A failed USE leaves it alone.
	h.step(Query{ID: 3, SQL: "USE nope"})
	h.step(QueryResult{ID: 3, Err: &QueryError{Status: 400, Code: wire.CodeSQLExecutionError}})
	if h.e.Namespace() != "shop" {
		t.Fatalf("namespace = %q after failed USE", h.e.Namespace())
	}
}

func TestUnsubscribeWhileDisconnectedIsForGood(t *testing.T) {
	h := live(t, Config{})
	h.step(Subscribe{ID: "s2", SQL: "SELECT * FROM app.other"})
	h.step(SocketClosed{Epoch: h.e.Epoch(), Code: 1006})
	effs := h.step(Unsubscribe{ID: "s1"})
	none[Send](h, effs)
	if d := must[Deliver](h, effs); d.Sub != "s1" || d.Event.Kind != EventEnded || d.Event.Err != nil {
		t.Fatalf("end = %+v", d)
	}
	h.fire(TimerBackoff)
	h.step(Dialed{Epoch: h.e.Epoch()})
	effs = h.frame(`{"type":"auth_success","user":"a","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`)
	sends := all[Send](effs)
	if len(sends) != 1 || sent(h, sends[0]).Subscription.ID != "s2" {
		t.Fatalf("resubscribed %d subscriptions", len(sends))
	}
}

func TestSameSQLTwiceIsTwoSubscriptions(t *testing.T) {
	h := live(t, Config{})
	effs := h.step(Subscribe{ID: "s2", SQL: "SELECT * FROM orders", Options: &wire.SubscriptionOptions{}})
	if m := sent(h, must[Send](h, effs)); m.Subscription.ID != "s2" {
		t.Fatalf("sent %+v", m)
	}
	if _, err := h.stepErr(Subscribe{ID: "s2", SQL: "SELECT 1 FROM app.x"}); !errors.Is(err, ErrDuplicateSubscription) {
		t.Fatalf("duplicate id = %v", err)
	}
	h.frame(ackJSON("s2", false, 0))
	h.frame(batchJSON("s2", 0, false)) // an empty snapshot; then changes flow
	effs = h.frame(changeJSON("s2", "insert", 1000))
	if d := must[Deliver](h, effs); d.Sub != "s2" {
		t.Fatalf("delivered to %q", d.Sub)
	}
}

func TestDeadLinkDetection(t *testing.T) {
	h := live(t, Config{PingInterval: time.Second, PongTimeout: 500 * time.Millisecond})
	effs := h.fire(TimerPing)
	must[Ping](h, effs)
	// Traffic arrives: the deadline passes harmlessly.
	h.now += 100 * time.Millisecond
	h.step(PongReceived{Epoch: h.e.Epoch()})
	effs = h.fire(TimerPongDeadline)
	none[CloseSocket](h, effs)
	h.state(StateLive)
	// Silence after the next ping: dead link, backoff.
	h.fire(TimerPing)
	effs = h.fire(TimerPongDeadline)
	must[CloseSocket](h, effs)
	if ce := must[ConnectionEvent](h, effs); !errors.Is(ce.Err, ErrDeadLink) {
		t.Fatalf("connection event = %+v", ce)
	}
	h.state(StateBackoff)
}

func TestDrainWaitsForLoadsAndQueries(t *testing.T) {
	h := newHarness(t, Config{Namespace: "app"})
	h.step(SetCredentials{Credentials: creds("t", time.Hour)})
	h.step(Subscribe{ID: "loading", SQL: "SELECT * FROM app.a", Options: &wire.SubscriptionOptions{}})
	h.step(Dialed{Epoch: h.e.Epoch()})
	h.frame(`{"type":"auth_success","user":"a","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`)
	h.frame(ackJSON("loading", true, 10))
	h.frame(batchJSON("loading", 0, true, 10))
	h.step(Subscribe{ID: "idle", SQL: "SELECT * FROM app.b"})
	h.frame(ackJSON("idle", false, 0))
	h.step(Query{ID: 7, SQL: "SELECT 1"})

	effs := h.step(Drain{Deadline: h.now + 10*time.Second})
	h.state(StateDraining)
	if d := must[Deliver](h, effs); d.Sub != "idle" || !errors.Is(d.Event.Err, ErrDraining) {
		t.Fatalf("idle subscription not ended: %+v", d)
	}
	if _, err := h.stepErr(Query{ID: 8, SQL: "SELECT 2"}); !errors.Is(err, ErrDraining) {
		t.Fatalf("query while draining = %v", err)
	}
	effs = h.frame(batchJSON("loading", 1, false, 20))
	if d := must[Deliver](h, effs); !d.Event.Last {
		t.Fatalf("load did not finish: %+v", d)
	}
	h.state(StateDraining) // the query is still in flight
	effs = h.step(QueryResult{ID: 7, Response: &wire.SQLResponse{Status: "success"}})
	dd := must[DrainDone](h, effs)
	if dd.Outcome.TimedOut || dd.Outcome.QueriesCompleted != 1 || dd.Outcome.LoadsCompleted != 1 {
		t.Fatalf("outcome = %+v", dd.Outcome)
	}
	h.state(StateClosed)
	if _, err := h.stepErr(Connect{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestDrainWhileReconnectingEndsByDeadline(t *testing.T) {
	h := live(t, Config{})
	h.step(SetCredentials{Credentials: creds("tok-2", time.Hour)})
	h.step(SocketClosed{Epoch: h.e.Epoch(), Code: 1006})
	h.state(StateBackoff)
	h.step(Query{ID: 1, SQL: "SELECT 1"})
	effs := h.step(Drain{Deadline: h.now + time.Second})
	h.state(StateDraining)
	none[Dial](h, effs)
	if d := must[Deliver](h, effs); d.Event.Kind != EventEnded {
		t.Fatalf("subscription not ended: %+v", d)
	}
	effs = h.fire(TimerDrain)
	dd := must[DrainDone](h, effs)
	if !dd.Outcome.TimedOut || dd.Outcome.QueriesAbandoned != 1 {
		t.Fatalf("outcome = %+v", dd.Outcome)
	}
	if qd := must[QueryDone](h, effs); !errors.Is(qd.Err, ErrDrainTimeout) {
		t.Fatalf("query = %v", qd.Err)
	}
	h.state(StateClosed)
}

func TestClosedIsTerminal(t *testing.T) {
	h := live(t, Config{HasProvider: true})
	h.step(Query{ID: 1, SQL: "SELECT 1"})
	effs := h.step(Close{})
	h.state(StateClosed)
	must[CloseSocket](h, effs)
	if qd := must[QueryDone](h, effs); !errors.Is(qd.Err, ErrClosed) {
		t.Fatalf("query = %v", qd.Err)
	}
	if d := must[Deliver](h, effs); !errors.Is(d.Event.Err, ErrClosed) {
		t.Fatalf("subscription = %+v", d.Event)
	}
	for _, in := range []Input{Start{}, SetCredentials{Credentials: creds("x", 0)}, FreshAuth{}, SetNamespace{Namespace: "a"}, Connect{}, Disconnect{}, Subscribe{ID: "z", SQL: "x"}, Unsubscribe{ID: "s1"}, Query{ID: 2, SQL: "x"}, Drain{}} {
		if _, err := h.stepErr(in); !errors.Is(err, ErrClosed) {
			t.Fatalf("%T after close = %v", in, err)
		}
	}
	if _, err := h.stepErr(Close{}); err != nil {
		t.Fatalf("second close = %v", err)
	}
	// Results of old effects change nothing.
	for _, in := range []Input{Dialed{Epoch: h.e.Epoch()}, FrameReceived{Epoch: h.e.Epoch(), Data: []byte(changeJSON("s1", "insert", 9999))}, CredentialsResolved{Req: 1, Credentials: creds("y", 0)}} {
		effs := h.step(in)
		none[Deliver](h, effs)
		none[StateChanged](h, effs)
	}
	h.state(StateClosed)
}

func TestBadServerInputReconnectsAndRecovers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		binary bool
		data   string
		reconn bool
	}{
		{"garbage", false, "{not json", true},
		{"no type", false, `{"subscription_id":"s1"}`, true},
		{"unknown type", false, `{"type":"hello_from_the_future"}`, false},
		{"float seq", false, `{"type":"change","subscription_id":"s1","change_type":"insert","rows":[{"id":"1","_seq":1.5e3}]}`, true},
		{"string garbage seq", false, `{"type":"change","subscription_id":"s1","change_type":"insert","rows":[{"id":"1","_seq":"abc"}]}`, true},
		{"wrong field type", false, `{"type":"initial_data_batch","subscription_id":"s1","rows":"nope","batch_control":{}}`, true},
		{"bad gzip", true, "\x1f\x8b\x08\x00garbage", true},
		{"unknown change", false, `{"type":"change","subscription_id":"s1","change_type":"merge","rows":[{}]}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := live(t, Config{})
			effs := h.step(FrameReceived{Epoch: h.e.Epoch(), Binary: tc.binary, Data: []byte(tc.data)})
			p := must[Problem](h, effs)
			if p.Err == nil || !p.Recoverable {
				t.Fatalf("problem = %+v", p)
			}
			none[Deliver](h, effs)
			if tc.reconn {
				if !errors.Is(p.Err, ErrProtocol) {
					t.Fatalf("problem %v is not ErrProtocol", p.Err)
				}
				h.state(StateBackoff)
				must[CloseSocket](h, effs)
			} else {
				h.state(StateLive)
			}
		})
	}
}

func TestServerErrorEndsOnlyThatSubscription(t *testing.T) {
	h := live(t, Config{})
	h.step(Subscribe{ID: "bad", SQL: "SELECT * FROM app.missing"})
	effs := h.frame(`{"type":"error","subscription_id":"bad","code":"NOT_FOUND","message":"Not found: Table not found: app.missing"}`)
	d := must[Deliver](h, effs)
	var se *ServerError
	if d.Sub != "bad" || d.Event.Kind != EventError || !errors.As(d.Event.Err, &se) || se.Code != "NOT_FOUND" {
		t.Fatalf("error event = %+v", d)
	}
	h.state(StateLive)
	if subs := h.e.Subscriptions(); len(subs) != 1 || subs[0].ID != "s1" {
		t.Fatalf("subscriptions = %+v", subs)
	}
	// A placeholder id is a connection-level problem.
	effs = h.frame(`{"type":"error","subscription_id":"rate_limit","code":"RATE_LIMIT_EXCEEDED","message":"Too many messages"}`)
	if p := must[Problem](h, effs); !errors.As(p.Err, &se) || se.Code != "RATE_LIMIT_EXCEEDED" {
		t.Fatalf("problem = %+v", p)
	}
}

func TestLastSubscriptionGoneLeavesLiveAndClosesLazySocket(t *testing.T) {
	h := live(t, Config{})
	effs := h.step(Unsubscribe{ID: "s1"})
	if m := sent(h, must[Send](h, effs)); m.Type != "unsubscribe" || m.SubscriptionID != "s1" {
		t.Fatalf("unsubscribe = %+v", m)
	}
	h.state(StateAuthed) // lazy socket: nothing needs it
	must[CloseSocket](h, effs)
	// With Connect asked explicitly the socket stays.
	h2 := live(t, Config{})
	h2.step(Connect{})
	h2.step(Unsubscribe{ID: "s1"})
	h2.state(StateConnected)
}

func TestQualify(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT * FROM orders", "SELECT * FROM app.orders"},
		{"select id from orders where x = 1", "select id from app.orders where x = 1"},
		{"SELECT * FROM shop.orders", "SELECT * FROM shop.orders"},
		{"SELECT 'FROM x' AS a FROM orders", "SELECT 'FROM x' AS a FROM app.orders"},
		{`SELECT "from" FROM "Orders"`, `SELECT "from" FROM app."Orders"`},
		{"SELECT (SELECT 1 FROM inner_t) FROM outer_t", "SELECT (SELECT 1 FROM inner_t) FROM app.outer_t"},
		{"SELECT * -- FROM nope\nFROM t", "SELECT * -- FROM nope\nFROM app.t"},
		{"SELECT * /* FROM c */ FROM t", "SELECT * /* FROM c */ FROM app.t"},
		{"SELECT 1", "SELECT 1"},
		{"SELECT * FROM", "SELECT * FROM"},
		{"SELECT * FROM 'x'", "SELECT * FROM 'x'"},
		{"SELECT * /* unterminated FROM t", "SELECT * /* unterminated FROM t"},
	} {
		if got := qualify(tc.in, "app"); got != tc.want {
			t.Errorf("qualify(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := qualify("SELECT * FROM t", ""); got != "SELECT * FROM t" {
		t.Errorf("no namespace changed the SQL: %q", got)
	}
}

func TestUseStatement(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ns   string
		isIt bool
	}{
		{"USE app", "app", true},
		{"use namespace app;", "app", true},
		{"SET NAMESPACE app", "app", true},
		{"SET x = 1", "", false},
		{"USE", "", false},
		{"USE 1bad", "1bad", false},
		{"SELECT 1", "", false},
	} {
		ns, ok := useStatement(tc.in)
		if ok != tc.isIt || (ok && ns != tc.ns) {
			t.Errorf("useStatement(%q) = %q %v", tc.in, ns, ok)
		}
	}
}

func TestCommandValidation(t *testing.T) {
	h := newHarness(t, Config{})
	for _, tc := range []struct {
		in   Input
		want error
	}{
		{SetNamespace{Namespace: ""}, ErrInvalidNamespace},
		{SetNamespace{Namespace: "a-b"}, ErrInvalidNamespace},
		{SetCredentials{}, ErrNoCredentials},
		{Subscribe{ID: "", SQL: "x"}, ErrInvalidSubscriptionID},
		{Subscribe{ID: "a", SQL: " "}, ErrEmptySQL},
		{Query{ID: 1, SQL: ""}, ErrEmptySQL},
		{Query{ID: 1, SQL: "SELECT 1"}, ErrNoCredentials},
		{Connect{}, ErrNoCredentials},
		{FreshAuth{}, ErrNoCredentials},
		{Unsubscribe{ID: "nope"}, ErrUnknownSubscription},
	} {
		if _, err := h.stepErr(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%T%+v = %v, want %v", tc.in, tc.in, err, tc.want)
		}
	}
	h.step(SetNamespace{Namespace: "app"})
	if _, err := h.stepErr(Subscribe{ID: "a", SQL: "SELECT * FROM t"}); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("subscribe without credentials = %v", err)
	}
	// Wait parks instead, and nothing reaches the wire.
	effs := h.step(Subscribe{ID: "a", SQL: "SELECT * FROM t", Wait: true})
	none[Send](h, effs)
	none[Dial](h, effs)
	effs = h.step(SetCredentials{Credentials: creds("t", time.Hour)})
	must[Dial](h, effs)
}

func TestPauseRewindsAndResumeReplays(t *testing.T) {
	h := live(t, Config{})
	h.frame(changeJSON("s1", "insert", 400))
	h.frame(changeJSON("s1", "insert", 500))
	// The driver could buffer only up to 400: pause there.
	effs := h.step(Pause{ID: "s1", Position: 400, HasPosition: true})
	if m := sent(h, must[Send](h, effs)); m.Type != "unsubscribe" {
		t.Fatalf("pause sent %+v", m)
	}
	// Frames still in flight for the paused subscription are ignored.
	none[Deliver](h, h.frame(changeJSON("s1", "insert", 600)))
	h.state(StateLive) // still registered
	// A reconnect while paused does not resubscribe it.
	h.step(SocketClosed{Epoch: h.e.Epoch(), Code: 1006})
	h.fire(TimerBackoff)
	h.step(Dialed{Epoch: h.e.Epoch()})
	none[Send](h, h.frame(`{"type":"auth_success","user":"a","role":"user","protocol":{"serialization":"json","compression":"gzip"}}`))
	h.state(StateConnected)
	effs = h.step(Resume{ID: "s1"})
	m := sent(h, must[Send](h, effs))
	if m.Subscription == nil || m.Subscription.Options.From == nil || *m.Subscription.Options.From != 400 {
		t.Fatalf("resume subscribe = %+v", m.Subscription)
	}
	h.state(StateLive)
	// Changes queued for the paused incarnation may still arrive, even
	// after the new ack: they must not move the position past the replay.
	none[Deliver](h, h.frame(changeJSON("s1", "insert", 600)))
	h.frame(ackJSON("s1", false, 600))
	none[Deliver](h, h.frame(changeJSON("s1", "insert", 600)))
	d := must[Deliver](h, h.frame(batchJSON("s1", 0, false, 500, 600)))
	if len(d.Event.Rows) != 2 || d.Event.Seq != 600 {
		t.Fatalf("replay = %+v", d.Event)
	}
}

func TestNetworkOfflineHoldsRedialsAndOnlineRedialsAtOnce(t *testing.T) {
	h := live(t, Config{})
	effs := h.step(NetworkChanged{Online: false})
	h.state(StateBackoff)
	must[CloseSocket](h, effs)
	// The backoff timer fires while offline: no dial.
	none[Dial](h, h.fire(TimerBackoff))
	effs = h.step(NetworkChanged{Online: true})
	must[Dial](h, effs)
	h.state(StateConnecting)
}

func TestWakeProbesTheSocket(t *testing.T) {
	h := live(t, Config{PongTimeout: time.Second})
	h.now += time.Minute // the tab was hidden; nothing arrived since
	effs := h.step(Wake{})
	must[Ping](h, effs)
	h.now += 2 * time.Second
	effs = h.fire(TimerPongDeadline)
	if ce := must[ConnectionEvent](h, effs); !errors.Is(ce.Err, ErrDeadLink) {
		t.Fatalf("event = %+v", ce)
	}
	h.state(StateBackoff)
}
