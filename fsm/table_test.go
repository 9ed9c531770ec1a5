package fsm

import (
	"errors"
	"testing"
	"time"

	"github.com/kalamgo/kalam/auth"
)

// want is the expected outcome of firing a trigger in a state with every
// guard satisfied: a destination, "=" (internal: stays), or "-" (refused).
// It is written out by hand, independently of the table, so the test can
// catch a wrong row.
var want = map[State][numTriggers]string{
	//              Credentials CredLost    Connect      AuthOK      AuthRej     SockLost   Retry        Subscribe UnsubAll    Disconnect RefreshDue Drain       Drained  Close  TokenRefused  GiveUp
	StateUnauthed:   {"Authed", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "Draining", "-", "Closed", "-", "-"},
	StateAuthed:     {"=", "Unauthed", "Connecting", "-", "-", "-", "-", "-", "-", "-", "=", "Draining", "-", "Closed", "=", "-"},
	StateConnecting: {"=", "Unauthed", "-", "Connected", "Unauthed", "Backoff", "-", "-", "-", "Authed", "=", "Draining", "-", "Closed", "Authed", "Authed"},
	StateBackoff:    {"=", "Unauthed", "Connecting", "-", "-", "-", "Connecting", "-", "-", "Authed", "=", "Draining", "-", "Closed", "=", "Authed"},
	StateConnected:  {"=", "Unauthed", "-", "-", "Unauthed", "Backoff", "-", "Live", "-", "Authed", "=", "Draining", "-", "Closed", "=", "-"},
	StateLive:       {"=", "Unauthed", "-", "-", "Unauthed", "Backoff", "-", "=", "Connected", "Authed", "=", "Draining", "-", "Closed", "=", "-"},
	StateDraining:   {"=", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "Closed", "Closed", "-", "-"},
	StateClosed:     {"-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"},
}

// wantRefusedNoRefresh is where TokenRefused leads when nothing but the
// application can bring a new token (the cannotRefresh rows); want holds
// the canRefresh side.
var wantRefusedNoRefresh = map[State]string{
	StateUnauthed: "-", StateAuthed: "Unauthed", StateConnecting: "Unauthed", StateBackoff: "Unauthed",
	StateConnected: "Unauthed", StateLive: "Unauthed", StateDraining: "-", StateClosed: "-",
}

// forced returns an engine placed in state s with every guard holding.
func forced(s State) *Engine {
	e := New(Config{HasProvider: true, Namespace: "app"})
	e.state = s
	e.now = time.Second
	e.hasCred = true
	e.cred = auth.Credentials{AccessToken: auth.NewSecret("tok")}
	return e
}

func TestEveryStateTriggerPair(t *testing.T) {
	if len(want) != numStates {
		t.Fatalf("expectation covers %d states, want %d", len(want), numStates)
	}
	for _, s := range States() {
		for _, tr := range Triggers() {
			exp := want[s][tr]
			t.Run(s.String()+"/"+tr.String(), func(t *testing.T) {
				e := forced(s)
				err := e.fire(tr)
				switch exp {
				case "-":
					var te *TransitionError
					if !errors.As(err, &te) {
						t.Fatalf("fire = %v, want a *TransitionError", err)
					}
					if te.From != s || te.Trigger != tr || te.Guard != "" {
						t.Fatalf("refusal = %+v, want From=%v Trigger=%v and no guard", te, s, tr)
					}
					if e.state != s {
						t.Fatalf("state moved to %v on a refused trigger", e.state)
					}
					if _, _, ok := Permitted(s, tr); ok {
						t.Fatalf("Permitted says ok for a refused pair")
					}
				case "=":
					if err != nil {
						t.Fatalf("fire = %v, want internal transition", err)
					}
					if e.state != s {
						t.Fatalf("state = %v, want to stay in %v", e.state, s)
					}
					if to, _, ok := Permitted(s, tr); !ok || to != s {
						t.Fatalf("Permitted = %v %v, want %v true", to, ok, s)
					}
				default:
					if err != nil {
						t.Fatalf("fire = %v, want a move to %s", err, exp)
					}
					if e.state.String() != exp {
						t.Fatalf("state = %v, want %s", e.state, exp)
					}
					if to, _, ok := Permitted(s, tr); !ok || to.String() != exp {
						t.Fatalf("Permitted = %v %v, want %s", to, ok, exp)
					}
				}
			})
		}
	}
}

func TestTokenRefusedWithoutRefreshGivesUp(t *testing.T) {
	for _, blocked := range []bool{false, true} {
		for _, s := range States() {
			exp := wantRefusedNoRefresh[s]
			name := "noProvider/" + s.String()
			if blocked {
				name = "providerBlocked/" + s.String()
			}
			t.Run(name, func(t *testing.T) {
				e := forced(s)
				if blocked {
					e.resolveBlocked = true // the provider's last answer was final
				} else {
					e.cfg.HasProvider = false
				}
				err := e.fire(TriggerTokenRefused)
				if exp == "-" {
					var te *TransitionError
					if !errors.As(err, &te) || te.Guard != "" || e.state != s {
						t.Fatalf("fire = %v, state %v; want a refusal naming no guard", err, e.state)
					}
					return
				}
				if err != nil || e.state.String() != exp {
					t.Fatalf("fire = %v, state %v; want a move to %s", err, e.state, exp)
				}
			})
		}
	}
}

// exclusive lists guards that come in complementary pairs: breaking one
// makes its partner hold, so the partner's row is taken instead of a
// refusal.
var exclusive = map[Guard]bool{GuardCanRefresh: true, GuardCannotRefresh: true}

// breakGuard makes guard g fail on e while leaving the others alone.
func breakGuard(e *Engine, g Guard) {
	switch g {
	case GuardCanRefresh:
		e.cfg.HasProvider = false
	case GuardCannotRefresh:
		e.cfg.HasProvider, e.resolveBlocked = true, false
	case GuardHasCredentials, GuardHasValidToken:
		e.credRejected = true
	case GuardHasNamespace:
		e.namespace = ""
	case GuardNoSubscriptions:
		e.subs["x"] = &sub{id: "x"}
	}
}

func TestGuardRefusalsNameTheGuard(t *testing.T) {
	sentinel := map[Guard]error{
		GuardHasCredentials: ErrNoCredentials,
		GuardHasValidToken:  ErrNoCredentials,
		GuardHasNamespace:   ErrNoNamespace,
	}
	n := 0
	for _, row := range Table() {
		for _, g := range row.Guards {
			n++
			t.Run(row.From.String()+"/"+row.Trigger.String()+"/"+g.String(), func(t *testing.T) {
				e := forced(row.From)
				breakGuard(e, g)
				err := e.fire(row.Trigger)
				if exclusive[g] {
					// The partner row runs: no refusal, and not this row's outcome.
					rowTo := row.To
					if row.Internal {
						rowTo = row.From
					}
					if err != nil || e.state == rowTo {
						t.Fatalf("fire = %v, state %v; want the complementary row, not this one", err, e.state)
					}
					return
				}
				var te *TransitionError
				if !errors.As(err, &te) {
					t.Fatalf("fire = %v, want *TransitionError", err)
				}
				if te.Guard != g.String() {
					t.Fatalf("guard = %q, want %q", te.Guard, g)
				}
				if e.state != row.From {
					t.Fatalf("state moved to %v", e.state)
				}
				if want, ok := sentinel[g]; ok && !errors.Is(err, want) {
					t.Fatalf("errors.Is(%v, %v) = false", err, want)
				}
			})
		}
	}
	if n == 0 {
		t.Fatal("the table has no guards")
	}
}

func TestClosedRefusalIsErrClosed(t *testing.T) {
	e := forced(StateClosed)
	for _, tr := range Triggers() {
		if err := e.fire(tr); !errors.Is(err, ErrClosed) {
			t.Fatalf("%v in Closed: %v, want ErrClosed", tr, err)
		}
	}
}

func TestStateAndTriggerNames(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range States() {
		name := s.String()
		if seen[name] {
			t.Fatalf("duplicate state name %q", name)
		}
		seen[name] = true
		back, ok := ParseState(name)
		if !ok || back != s {
			t.Fatalf("ParseState(%q) = %v %v", name, back, ok)
		}
	}
	if State(200).String() != "State(200)" || Trigger(200).String() != "Trigger(200)" {
		t.Fatal("out-of-range names")
	}
	for _, spec := range StateSpecs() {
		for _, a := range []string{spec.Entry, spec.Exit} {
			if a != "" && New(Config{}).actions[a] == nil {
				t.Fatalf("state %v names unknown action %q", spec.State, a)
			}
		}
	}
}
