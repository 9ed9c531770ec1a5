package fsm

import "time"

// Stepper is what a driver needs from an engine. *Engine implements it, and
// so does the wazero host's proxy for an engine compiled to wasm, which lets
// one driver run either.
type Stepper interface {
	// Step feeds one input and returns the effects (valid until the next
	// Step) and, for a refused command, the error.
	Step(now time.Duration, in Input) ([]Effect, error)
	// State, Namespace and Subscriptions report the engine's current view.
	State() State
	Namespace() string
	Subscriptions() []SubscriptionInfo
}

var _ Stepper = (*Engine)(nil)
