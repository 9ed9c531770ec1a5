package fsm

import (
	"context"

	"github.com/qmuntal/stateless"
)

// Guard names a condition a transition requires. Guards are evaluated by
// the engine against its current credentials, namespace and subscriptions.
type Guard uint8

const (
	// GuardHasCredentials: usable credentials are held (an unexpired,
	// unrefused token, or explicit anonymous access).
	GuardHasCredentials Guard = iota
	// GuardHasValidToken: a bearer token is held that the server has not
	// refused and that has not expired by the local monotonic clock.
	GuardHasValidToken
	// GuardHasNamespace: the client's namespace is set.
	GuardHasNamespace
	// GuardNoSubscriptions: no subscription is registered.
	GuardNoSubscriptions
	// GuardCanRefresh: new credentials can be had without the application:
	// a provider is configured and either a resolution is in flight or the
	// provider has not given a final refusal.
	GuardCanRefresh
	// GuardCannotRefresh is the negation of GuardCanRefresh: only the
	// application (SetCredentials) can bring a usable token.
	GuardCannotRefresh

	numGuards = int(GuardCannotRefresh) + 1
)

var guardNames = [numGuards]string{"hasCredentials", "hasValidToken", "hasNamespace", "noSubscriptions", "canRefresh", "cannotRefresh"}

// String returns the guard's name as it appears in diagrams and errors.
func (g Guard) String() string {
	if int(g) < numGuards {
		return guardNames[g]
	}
	return "guard?"
}

// Transition is one row of the lifecycle table.
type Transition struct {
	From    State
	Trigger Trigger
	// To is the destination; it equals From for an internal transition.
	To State
	// Guards must all hold for the transition to be permitted.
	Guards []Guard
	// Internal transitions run their action without leaving the state (no
	// exit or entry actions).
	Internal bool
	// Action names what the transition does besides changing state: for an
	// internal row, its action (empty: the engine's built-in one for the
	// trigger); for a move, an action the engine runs after the exit and
	// entry actions.
	Action string
}

// StateSpec describes one state of the table: its superstate and the named
// actions run on entry and exit.
type StateSpec struct {
	State  State
	Parent State // equal to State for a top-level state
	Entry  string
	Exit   string
}

// The lifecycle, as data. This table configures the stateless machine that
// runs the engine, and it is the only source of the exported diagrams.
//
// A state may have several rows for one trigger when their guards exclude
// each other (canRefresh / cannotRefresh); the row whose guards hold is
// taken. When none holds in a substate, its superstate's rows are tried,
// as stateless does.
var (
	stateSpecs = []StateSpec{
		{State: StateUnauthed, Parent: StateUnauthed, Entry: "parkWork"},
		{State: StateAuthed, Parent: StateAuthed},
		{State: StateConnecting, Parent: StateAuthed, Entry: "dial", Exit: "endConnectAttempt"},
		{State: StateBackoff, Parent: StateAuthed, Entry: "armBackoff", Exit: "disarmBackoff"},
		{State: StateConnected, Parent: StateConnected, Entry: "startKeepalive", Exit: "stopKeepalive"},
		{State: StateLive, Parent: StateConnected},
		{State: StateDraining, Parent: StateDraining, Entry: "beginDrain"},
		{State: StateClosed, Parent: StateClosed, Entry: "shutdown"},
	}

	table = []Transition{
		{From: StateUnauthed, Trigger: TriggerCredentials, To: StateAuthed, Guards: []Guard{GuardHasCredentials}},
		{From: StateUnauthed, Trigger: TriggerDrain, To: StateDraining},
		{From: StateUnauthed, Trigger: TriggerClose, To: StateClosed},

		{From: StateAuthed, Trigger: TriggerConnect, To: StateConnecting, Guards: []Guard{GuardHasValidToken}},
		{From: StateAuthed, Trigger: TriggerCredentials, To: StateAuthed, Internal: true, Guards: []Guard{GuardHasCredentials}},
		{From: StateAuthed, Trigger: TriggerRefreshDue, To: StateAuthed, Internal: true},
		{From: StateAuthed, Trigger: TriggerCredentialsLost, To: StateUnauthed},
		// The server refused the current token over HTTP: ask the provider
		// (the work waits for the new token), or, when nothing can bring
		// one, give up the token like an expired one.
		{From: StateAuthed, Trigger: TriggerTokenRefused, To: StateAuthed, Internal: true, Guards: []Guard{GuardCanRefresh}, Action: "refreshRejected"},
		{From: StateAuthed, Trigger: TriggerTokenRefused, To: StateUnauthed, Guards: []Guard{GuardCannotRefresh}},
		{From: StateAuthed, Trigger: TriggerDrain, To: StateDraining},
		{From: StateAuthed, Trigger: TriggerClose, To: StateClosed},

		{From: StateConnecting, Trigger: TriggerAuthOK, To: StateConnected},
		{From: StateConnecting, Trigger: TriggerSocketLost, To: StateBackoff},
		{From: StateConnecting, Trigger: TriggerAuthRejected, To: StateUnauthed},
		{From: StateConnecting, Trigger: TriggerDisconnect, To: StateAuthed},
		// A dial in flight would authenticate with the refused token:
		// abandon it and dial again once the new token is in.
		{From: StateConnecting, Trigger: TriggerTokenRefused, To: StateAuthed, Guards: []Guard{GuardCanRefresh}, Action: "refreshRejected"},

		// The give-up policy (Config.GiveUpAttempts, GiveUpAfter) ends the
		// attempts: the waiting work fails, the socket stays closed.
		{From: StateConnecting, Trigger: TriggerGiveUp, To: StateAuthed},

		{From: StateBackoff, Trigger: TriggerRetry, To: StateConnecting, Guards: []Guard{GuardHasValidToken}},
		{From: StateBackoff, Trigger: TriggerDisconnect, To: StateAuthed},
		{From: StateBackoff, Trigger: TriggerGiveUp, To: StateAuthed},

		{From: StateConnected, Trigger: TriggerSubscribe, To: StateLive, Guards: []Guard{GuardHasValidToken, GuardHasNamespace}},
		{From: StateConnected, Trigger: TriggerCredentials, To: StateConnected, Internal: true, Guards: []Guard{GuardHasCredentials}},
		{From: StateConnected, Trigger: TriggerRefreshDue, To: StateConnected, Internal: true},
		{From: StateConnected, Trigger: TriggerSocketLost, To: StateBackoff},
		{From: StateConnected, Trigger: TriggerAuthRejected, To: StateUnauthed},
		{From: StateConnected, Trigger: TriggerCredentialsLost, To: StateUnauthed},
		// The open socket stays while the provider is asked (KalamDB does
		// not recheck an authenticated socket); without one, the socket
		// goes and subscriptions are parked until the application sets
		// credentials.
		{From: StateConnected, Trigger: TriggerTokenRefused, To: StateConnected, Internal: true, Guards: []Guard{GuardCanRefresh}, Action: "refreshRejected"},
		{From: StateConnected, Trigger: TriggerTokenRefused, To: StateUnauthed, Guards: []Guard{GuardCannotRefresh}},
		{From: StateConnected, Trigger: TriggerDisconnect, To: StateAuthed},
		{From: StateConnected, Trigger: TriggerDrain, To: StateDraining},
		{From: StateConnected, Trigger: TriggerClose, To: StateClosed},

		{From: StateLive, Trigger: TriggerSubscribe, To: StateLive, Internal: true, Guards: []Guard{GuardHasValidToken, GuardHasNamespace}},
		{From: StateLive, Trigger: TriggerUnsubscribeAll, To: StateConnected, Guards: []Guard{GuardNoSubscriptions}},

		{From: StateDraining, Trigger: TriggerCredentials, To: StateDraining, Internal: true, Guards: []Guard{GuardHasCredentials}},
		{From: StateDraining, Trigger: TriggerDrained, To: StateClosed},
		{From: StateDraining, Trigger: TriggerClose, To: StateClosed},
	}
)

// Table returns a copy of the lifecycle table: every transition the engine
// permits, with its guards. Substates inherit their superstate's rows.
func Table() []Transition {
	out := make([]Transition, len(table))
	for i, t := range table {
		t.Guards = append([]Guard(nil), t.Guards...)
		out[i] = t
	}
	return out
}

// StateSpecs returns every state with its superstate and named actions.
func StateSpecs() []StateSpec { return append([]StateSpec(nil), stateSpecs...) }

// lookup finds the row that handles trigger t in state s, walking up to the
// superstate as stateless does. With holds nil it returns the first row of
// the nearest state that has any. Otherwise it returns the row whose guards
// all hold (met), looking in the superstate when none of the state's rows
// qualifies; when no row qualifies anywhere it returns the nearest state's
// first row, met false, so a refusal can name the guard that failed.
func lookup(s State, t Trigger, holds func(Guard) bool) (row Transition, found, met bool) {
	for cur := s; ; {
		for _, r := range table {
			if r.From != cur || r.Trigger != t {
				continue
			}
			if holds == nil || guardsHold(r.Guards, holds) {
				return r, true, true
			}
			if !found {
				row, found = r, true
			}
		}
		p, ok := cur.Parent()
		if !ok {
			return row, found, false
		}
		cur = p
	}
}

func guardsHold(gs []Guard, holds func(Guard) bool) bool {
	for _, g := range gs {
		if !holds(g) {
			return false
		}
	}
	return true
}

// Permitted reports where trigger t leads from state s when every guard
// holds: the destination, the guards it needs, and whether any row handles
// it at all. A row on a superstate that leads back to s is reported as not
// permitted, matching the running machine (which does nothing). Where rows
// with exclusive guards share a trigger, the first in table order is
// reported (for TokenRefused: the canRefresh row).
func Permitted(s State, t Trigger) (to State, guards []Guard, ok bool) {
	row, ok, _ := lookup(s, t, nil)
	if !ok {
		return s, nil, false
	}
	if !row.Internal && row.To == s {
		return s, nil, false
	}
	if row.Internal {
		return s, append([]Guard(nil), row.Guards...), true
	}
	return row.To, append([]Guard(nil), row.Guards...), true
}

// machine builds the stateless machine from the table. State lives in the
// engine (external storage); guards and actions are the engine's methods.
func (e *Engine) machine() *stateless.StateMachine {
	sm := stateless.NewStateMachineWithExternalStorage(
		func(context.Context) (stateless.State, error) { return e.state, nil },
		func(_ context.Context, s stateless.State) error { e.state = s.(State); return nil },
		stateless.FiringImmediate,
	)
	for _, spec := range stateSpecs {
		cfg := sm.Configure(spec.State)
		if spec.Parent != spec.State {
			cfg.SubstateOf(spec.Parent)
		}
		if spec.Entry != "" {
			act := e.actions[spec.Entry]
			cfg.OnEntry(func(ctx context.Context, _ ...any) error {
				tr := stateless.GetTransition(ctx)
				act(tr.Source.(State), tr.Trigger.(Trigger))
				return nil
			})
		}
		if spec.Exit != "" {
			act := e.actions[spec.Exit]
			cfg.OnExit(func(ctx context.Context, _ ...any) error {
				tr := stateless.GetTransition(ctx)
				act(tr.Destination.(State), tr.Trigger.(Trigger))
				return nil
			})
		}
	}
	for _, row := range table {
		cfg := sm.Configure(row.From)
		guards := make([]stateless.GuardFunc, len(row.Guards))
		for i, g := range row.Guards {
			guards[i] = e.guardFuncs[g]
		}
		if row.Internal {
			trig, act := row.Trigger, e.actions[row.Action]
			cfg.InternalTransition(row.Trigger, func(context.Context, ...any) error {
				e.transitioned(e.state, e.state, trig) // reported too: a refresh while Live is news
				if act != nil {
					act(e.state, trig)
				} else {
					e.internal(trig)
				}
				return nil
			}, guards...)
			continue
		}
		cfg.Permit(row.Trigger, row.To, guards...)
	}
	sm.OnUnhandledTrigger(func(_ context.Context, s stateless.State, t stateless.Trigger, _ []string) error {
		return e.refusal(s.(State), t.(Trigger))
	})
	sm.OnTransitioning(func(_ context.Context, tr stateless.Transition) {
		e.transitioned(tr.Source.(State), tr.Destination.(State), tr.Trigger.(Trigger))
	})
	return sm
}

// refusal explains why trigger t cannot fire in state s: the first guard
// that does not hold, or no row at all.
func (e *Engine) refusal(s State, t Trigger) error {
	err := &TransitionError{From: s, Trigger: t}
	if row, ok, _ := lookup(s, t, e.guard); ok {
		for _, g := range row.Guards {
			if !e.guard(g) {
				err.Guard = g.String()
				break
			}
		}
	}
	return err
}
