package fsm

import (
	"fmt"
	"slices"
)

// CheckLiveness reports the first application call left waiting with
// nothing in flight that can complete it, or nil. A call is a query that
// has not been answered or a subscription the server has not yet
// acknowledged; each must have an HTTP request, a resolution, a dial, a
// socket or a timer on its way, or have failed. Calls waiting on the
// application itself are exempt: a subscription that asked to wait, one
// paused by its consumer, and everything while the application holds the
// socket closed (Disconnect) or the platform reports the network offline.
// Tests and the simulation call it after every step.
func (e *Engine) CheckLiveness() error {
	switch e.state {
	case StateClosed:
		return nil
	case StateDraining:
		if e.drain != nil && !e.drain.finished && !e.timerArmed[TimerDrain] && e.drainBusy() {
			return fmt.Errorf("draining with work left and no drain deadline armed")
		}
		return nil
	}
	credWork := e.resolving || e.timerArmed[TimerResolveRetry]
	ids := make([]uint64, 0, len(e.queries))
	for id := range e.queries {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if q := e.queries[id]; !q.inFlight && !credWork {
			return fmt.Errorf("query %d waits for credentials in %v with no resolution in flight or due", id, e.state)
		}
	}
	if e.hold || e.offline {
		return nil
	}
	sockWork := e.sockOpen || e.dialing || e.timerArmed[TimerBackoff] || e.timerArmed[TimerConnect] || credWork
	for _, id := range e.order {
		s := e.subs[id]
		if s == nil || s.acked || s.wait || s.paused || s.phase != phasePending {
			continue // answered once, waiting on the application, or on the wire
		}
		if !sockWork {
			return fmt.Errorf("subscription %q waits in %v with no socket, dial, resolution or timer on its way", id, e.state)
		}
	}
	return nil
}

// liveNamespaced reports whether every subscription on the wire could name
// its tables: the client has a namespace or the SQL qualifies them.
func (e *Engine) liveNamespaced() bool {
	if e.namespace != "" {
		return true
	}
	for _, s := range e.subs {
		if s.phase != phasePending && !s.ownNS {
			return false
		}
	}
	return true
}
