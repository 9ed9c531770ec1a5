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

	numGuards = int(GuardNoSubscriptions) + 1
)

var guardNames = [numGuards]string{"hasCredentials", "hasValidToken", "hasNamespace", "noSubscriptions"}

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
		{From: StateAuthed, Trigger: TriggerDrain, To: StateDraining},
		{From: StateAuthed, Trigger: TriggerClose, To: StateClosed},

		{From: StateConnecting, Trigger: TriggerAuthOK, To: StateConnected},
		{From: StateConnecting, Trigger: TriggerSocketLost, To: StateBackoff},
		{From: StateConnecting, Trigger: TriggerAuthRejected, To: StateUnauthed},
		{From: StateConnecting, Trigger: TriggerDisconnect, To: StateAuthed},

		{From: StateBackoff, Trigger: TriggerRetry, To: StateConnecting, Guards: []Guard{GuardHasValidToken}},
		{From: StateBackoff, Trigger: TriggerDisconnect, To: StateAuthed},

		{From: StateConnected, Trigger: TriggerSubscribe, To: StateLive, Guards: []Guard{GuardHasValidToken, GuardHasNamespace}},
		{From: StateConnected, Trigger: TriggerCredentials, To: StateConnected, Internal: true, Guards: []Guard{GuardHasCredentials}},
		{From: StateConnected, Trigger: TriggerRefreshDue, To: StateConnected, Internal: true},
		{From: StateConnected, Trigger: TriggerSocketLost, To: StateBackoff},
		{From: StateConnected, Trigger: TriggerAuthRejected, To: StateUnauthed},
		{From: StateConnected, Trigger: TriggerCredentialsLost, To: StateUnauthed},
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
// superstate as stateless does.
func lookup(s State, t Trigger) (Transition, bool) {
	for cur := s; ; {
		for _, row := range table {
			if row.From == cur && row.Trigger == t {
				return row, true
			}
		}
		p, ok := cur.Parent()
		if !ok {
			return Transition{}, false
		}
		cur = p
	}
}

// Permitted reports where trigger t leads from state s when every guard
// holds: the destination, the guards it needs, and whether any row handles
// it at all. A row on a superstate that leads back to s is reported as not
// permitted, matching the running machine (which does nothing).
func Permitted(s State, t Trigger) (to State, guards []Guard, ok bool) {
	row, ok := lookup(s, t)
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
			trig := row.Trigger
			cfg.InternalTransition(row.Trigger, func(context.Context, ...any) error {
				e.transitioned(e.state, e.state, trig) // reported too: a refresh while Live is news
				e.internal(trig)
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
	if row, ok := lookup(s, t); ok {
		for _, g := range row.Guards {
			if !e.guard(g) {
				err.Guard = g.String()
				break
			}
		}
	}
	return err
}
