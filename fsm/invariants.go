package fsm

import "fmt"

// CheckInvariants reports the first broken rule of the engine's internal
// consistency, or nil. The rules are the lifecycle guarantees: never Live
// without a token and a namespace, Live only with a subscription, a socket
// only in the states that own one, subscriptions on the wire only on the
// current epoch, at most one resolution in flight, and nothing left behind
// in Closed, and a token the server refused never held as if it were good
// (no dial with it, no state that needs a token without a refresh on its
// way). Tests and the simulation call it after every step.
func (e *Engine) CheckInvariants() error {
	if len(e.refusals) > 0 {
		return fmt.Errorf("a transition the engine relies on was refused: %v", e.refusals[0])
	}
	pending := 0
	for _, id := range e.order {
		s := e.subs[id]
		if s == nil {
			return fmt.Errorf("subscription %q is ordered but not registered", id)
		}
		if s.phase == phasePending {
			if !s.paused {
				pending++
			}
			continue
		}
		if s.epoch != e.epoch || !e.sockOpen {
			return fmt.Errorf("subscription %q is on the wire of epoch %d, current %d (socket open %t)", id, s.epoch, e.epoch, e.sockOpen)
		}
		if e.rep.wire[s.wire] != s {
			return fmt.Errorf("subscription %q is on the wire as %q, which does not lead back to it", id, s.wire)
		}
		if len(s.held) > 0 && s.phase != phaseLive {
			return fmt.Errorf("subscription %q holds %d changes while %s", id, len(s.held), phaseNames[s.phase])
		}
	}
	switch {
	case len(e.order) != len(e.subs):
		return fmt.Errorf("%d subscriptions registered, %d ordered", len(e.subs), len(e.order))
	case pending != e.pending:
		return fmt.Errorf("pending count %d, counted %d", e.pending, pending)
	case e.state == StateLive && !e.liveNamespaced():
		return fmt.Errorf("state Live with a subscription on the wire and no namespace")
	case e.state == StateLive && (!e.hasCred || e.cred.Anonymous || e.cred.AccessToken.IsZero()):
		return fmt.Errorf("state Live without a token")
	case e.state == StateLive && !e.tokenValid() && !e.resolving:
		return fmt.Errorf("state Live with an expired or refused token and no refresh in flight")
	case e.refusedHeld() && e.state == StateConnecting:
		return fmt.Errorf("state Connecting with a token the server refused")
	case e.refusedHeld() && (e.state.In(StateAuthed) || e.state.In(StateConnected)) && !e.resolving:
		return fmt.Errorf("%v holding a token the server refused and no refresh in flight", e.state)
	case e.state == StateLive && len(e.subs) == 0:
		return fmt.Errorf("state Live without a subscription")
	case e.state.In(StateConnected) && !e.sockOpen:
		return fmt.Errorf("%v without an open socket", e.state)
	case e.sockOpen && !(e.state == StateConnecting || e.state.In(StateConnected) || e.state == StateDraining):
		return fmt.Errorf("socket open in %v", e.state)
	case e.dialing && e.state != StateConnecting:
		return fmt.Errorf("dialing in %v", e.state)
	case e.resolving && !e.cfg.HasProvider:
		return fmt.Errorf("resolving without a provider")
	case e.state == StateDraining && e.drain == nil:
		return fmt.Errorf("state Draining without drain state")
	}
	if e.state == StateClosed {
		if len(e.subs) > 0 || len(e.queries) > 0 || e.resolving || e.sockOpen {
			return fmt.Errorf("state Closed with work left: %d subscriptions, %d queries, resolving %t, socket %t", len(e.subs), len(e.queries), e.resolving, e.sockOpen)
		}
		for t, armed := range e.timerArmed {
			if armed {
				return fmt.Errorf("state Closed with timer %v armed", Timer(t))
			}
		}
	}
	return nil
}

// refusedHeld reports whether the current token is one the server refused.
func (e *Engine) refusedHeld() bool {
	return e.hasCred && !e.rejectedToken.IsZero() && e.cred.AccessToken.Equal(e.rejectedToken)
}
