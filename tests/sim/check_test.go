package sim

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/transport/wire"
)

// qualifiedSQL matches live SQL that reads a namespace-qualified table.
var qualifiedSQL = regexp.MustCompile(`(?i)\bFROM\s+\w+\.\w+`)

// checkNames lists the named checks in report order.
var checkNames = []string{
	"engine_invariants", "liveness", "closed_terminal", "no_secrets", "one_refresh", "live_guard",
	"epoch_send", "refused_token_reuse", "deliver_known_sub", "seq_increasing",
	"above_checkpoint", "event_seq", "continuity_full", "registration_known",
	"query_done_once", "drain_terminates", "eventually_live", "no_loss",
	"changes_exactly_once", "drops_repaired", "subs_ended",
}

// checker evaluates the named checks and counts every evaluation.
type checker struct {
	n map[string]int64

	authTok        map[uint64]string // token authenticated on each epoch
	queryTok       map[uint64]string // token of each HTTP query
	knownRefused   map[string]bool   // tokens the engine was told the server refused
	refusedAt      map[string]int    // the step at which it was told
	querySends     map[uint64]int    // HTTPQuery effects per query id (a retry sends twice)
	refusedOnRetry map[string]bool   // refusals that answered a retried query
	dialStep       map[uint64]int    // the step that emitted each epoch's Dial
	findings       map[string]string // finding name → first occurrence
	regs           map[uint64]map[string]*ssub
	closedSeen     map[uint64]bool // epochs whose SocketClosed the engine was fed
	bulk           int
}

func newChecker() *checker {
	return &checker{n: map[string]int64{}, authTok: map[uint64]string{}, queryTok: map[uint64]string{},
		knownRefused: map[string]bool{}, refusedAt: map[string]int{}, querySends: map[uint64]int{}, refusedOnRetry: map[string]bool{}, dialStep: map[uint64]int{}, findings: map[string]string{}, regs: map[uint64]map[string]*ssub{}, closedSeen: map[uint64]bool{}}
}

func (c *checker) count(name string) { c.n[name]++ }

// registered notes the server's latest registration of a subscription on
// an epoch, to relate acks to what the server saw.
func (s *Sim) registered(epoch uint64, sub *ssub) {
	m := s.chk.regs[epoch]
	if m == nil {
		m = map[string]*ssub{}
		s.chk.regs[epoch] = m
	}
	m[sub.id] = sub
}

// afterStep runs the per-step checks on one Step's input and effects.
func (c *checker) afterStep(s *Sim, in fsm.Input, cmdErr error, effs []fsm.Effect, wasClosed bool) {
	c.count("engine_invariants")
	if err := s.eng.CheckInvariants(); err != nil {
		s.fail(fmt.Errorf("engine_invariants: %v", err))
		return
	}
	c.count("liveness")
	if err := s.eng.CheckLiveness(); err != nil {
		s.fail(fmt.Errorf("liveness: %v", err))
		return
	}
	// What the engine was told before this step's effects.
	switch in := in.(type) {
	case fsm.Pause:
		c.count("seen: slow consumer paused")
	case fsm.SetCredentials:
		if cmdErr == nil {
			s.resolveOut = 0 // what the application pushes supersedes a pending answer
			s.given, s.givenAt, s.hasGiven = in.Credentials, s.now, true
		}
	case fsm.FrameReceived:
		if !in.Binary && bytes.Contains(in.Data, []byte(`"auth_error"`)) && bytes.Contains(in.Data, []byte("Invalid credentials")) {
			// The engine reads it only on the socket it still holds (the
			// driver forgets a socket when the engine closes it).
			if l := s.links[in.Epoch]; l != nil && l.driverHas && l.dialed && in.Epoch == s.eng.Epoch() && c.authTok[in.Epoch] != "" {
				tok := c.authTok[in.Epoch]
				c.refused(s, tok)
			}
		}
	case fsm.QueryResult:
		if in.Err != nil && in.Err.Status == 401 {
			if tok := c.queryTok[in.ID]; tok != "" {
				c.refused(s, tok)
				if c.querySends[in.ID] > 1 {
					c.refusedOnRetry[tok] = true
				}
			}
		}
	}
	if wasClosed {
		c.count("closed_terminal")
		if s.eng.State() != fsm.StateClosed {
			s.fail(fmt.Errorf("closed_terminal: left Closed for %v", s.eng.State()))
			return
		}
		for _, e := range effs {
			if _, ok := e.(fsm.CloseSocket); !ok {
				s.fail(fmt.Errorf("closed_terminal: effect %T after Closed", e))
				return
			}
		}
	}
	resolves := 0
	for _, e := range effs {
		c.secrets(s, e)
		switch e := e.(type) {
		case fsm.ResolveCredentials:
			resolves++
			c.count("one_refresh")
			if s.resolveOut != 0 || resolves > 1 {
				s.fail(fmt.Errorf("one_refresh: resolution %d asked while %d is in flight", e.Req, s.resolveOut))
			}
		case fsm.StateChanged:
			if e.To == fsm.StateBackoff && e.From != e.To && (e.RetryIn <= 0 || e.Attempt <= 0 || e.Reason == nil) {
				s.fail(fmt.Errorf("engine_invariants: Backoff entered without its reason, attempt or delay: %+v", e))
			}
			if e.To == fsm.StateLive && e.From != fsm.StateLive {
				c.count("live_guard")
				if s.eng.Namespace() == "" {
					// Only subscriptions whose SQL names its namespace may be
					// on the wire without the client's.
					for _, info := range s.eng.Subscriptions() {
						if info.Phase != "pending" && !qualifiedSQL.MatchString(info.SQL) {
							s.fail(fmt.Errorf("live_guard: Live without a namespace for %q", info.SQL))
						}
					}
				}
				if !s.hasGiven || s.given.AccessToken.IsZero() || (s.given.Lifetime > 0 && s.now >= s.givenAt+s.given.Lifetime) {
					s.fail(fmt.Errorf("live_guard: Live without an unexpired token (given %t at %v, lifetime %v)", s.hasGiven, s.givenAt, s.given.Lifetime))
				}
			}
			if e.To == fsm.StateClosed {
				s.resolveOut = 0
			}
		case fsm.Send:
			c.epochSend(s, e.Epoch, "Send")
		case fsm.Ping:
			c.epochSend(s, e.Epoch, "Ping")
		case fsm.Dial:
			c.dialStep[e.Epoch] = s.steps
		case fsm.Authenticate:
			c.epochSend(s, e.Epoch, "Authenticate")
			tok := e.Token.Reveal()
			c.count("refused_token_reuse")
			if c.knownRefused[tok] {
				msg := fmt.Sprintf("authenticating on epoch %d with a token the server refused", e.Epoch)
				if c.refusedAt[tok] > c.dialStep[e.Epoch] {
					msg += " while that dial was in progress"
				}
				s.fail(fmt.Errorf("refused_token_reuse: %s%s", msg, c.refusalDetail(s, tok)))
			}
			c.authTok[e.Epoch] = tok
		case fsm.HTTPQuery:
			tok := e.Token.Reveal()
			c.count("refused_token_reuse")
			if tok != "" && c.knownRefused[tok] {
				msg := fmt.Sprintf("query %d sent with a token the server refused", e.ID)
				s.fail(fmt.Errorf("refused_token_reuse: %s%s", msg, c.refusalDetail(s, tok)))
			}
			c.queryTok[e.ID] = tok
			c.querySends[e.ID]++
		case fsm.Deliver:
			if e.Event.Kind == fsm.EventResumed {
				c.count("seen: resumed, continuity " + e.Event.Continuity.String())
			}
			switch {
			case e.Event.Kind != fsm.EventEnded:
			case errors.Is(e.Event.Err, fsm.ErrGaveUp):
				c.count("seen: subscription ended by the give-up policy")
			case errors.Is(e.Event.Err, fsm.ErrCredentialsRejected):
				c.count("seen: pending subscription ended, credentials rejected")
			case errors.Is(e.Event.Err, fsm.ErrNoCredentials):
				c.count("seen: pending subscription ended, no credentials")
			}
		case fsm.ConnectionEvent:
			if !e.Connected {
				c.count(fmt.Sprintf("seen: socket lost, code %d", e.Code))
			}
		case fsm.DrainDone:
			c.count(fmt.Sprintf("seen: drain done, timed out %t, aborted %t", e.Outcome.TimedOut, e.Outcome.Aborted))
			c.count("drain_terminates")
			if !s.drainAsked || s.now > s.drainDeadline {
				s.fail(fmt.Errorf("drain_terminates: DrainDone at %v, deadline %v (asked %t)", s.now, s.drainDeadline, s.drainAsked))
			}
		}
	}
}

// epochSend: frames go only to the current epoch's socket, after Dialed
// and before it closed.
func (c *checker) epochSend(s *Sim, epoch uint64, what string) {
	c.count("epoch_send")
	l := s.links[epoch]
	if epoch != s.eng.Epoch() || l == nil || !l.dialed || !l.driverHas || c.closedSeen[epoch] {
		s.fail(fmt.Errorf("epoch_send: %s on epoch %d (current %d, link %+v)", what, epoch, s.eng.Epoch(), l))
	}
}

// secrets: no token or password in any formatting of any effect, nor in a
// frame the engine asks to send.
func (c *checker) secrets(s *Sim, e fsm.Effect) {
	c.count("no_secrets")
	// Send and Deliver are the bulk of the effects and hold bytes, which fmt
	// prints as numbers: their bytes and error texts are searched every
	// time, and every eighth one is formatted in full as well.
	switch e := e.(type) {
	case fsm.Send:
		if bytes.Contains(e.Data, []byte(sigMarker)) || bytes.Contains(e.Data, []byte(jwtHeader)) {
			s.fail(fmt.Errorf("no_secrets: Send carries a token"))
			return
		}
		if c.bulk++; c.bulk%8 != 0 {
			return
		}
	case fsm.Deliver:
		for _, r := range append(append([]wire.Row(nil), e.Event.Rows...), e.Event.OldValues...) {
			if bytes.Contains(r, []byte(sigMarker)) {
				s.fail(fmt.Errorf("no_secrets: a delivered row carries a token"))
				return
			}
		}
		if e.Event.Err != nil && strings.Contains(e.Event.Err.Error(), sigMarker) {
			s.fail(fmt.Errorf("no_secrets: a delivered error shows a token"))
			return
		}
		if c.bulk++; c.bulk%8 != 0 {
			return
		}
	}
	for _, verb := range []string{"%v", "%+v", "%#v"} {
		str := fmt.Sprintf(verb, e)
		if strings.Contains(str, sigMarker) || strings.Contains(str, jwtHeader) {
			s.fail(fmt.Errorf("no_secrets: %T formatted with %s shows a secret", e, verb))
			return
		}
	}
}

// registration relates a subscription's ack to the server's registration
// and records what the subscription may have missed.
func (c *checker) registration(s *Sim, sub *appSub, ev fsm.Event) {
	c.count("registration_known")
	reg := c.regs[s.eng.Epoch()][s.ackWire]
	if reg == nil || (reg.id != sub.id && !strings.HasPrefix(reg.id, sub.id+"#")) {
		s.fail(fmt.Errorf("registration_known: %v for %s with no server registration on epoch %d (ack for %q)", ev.Kind, sub.id, s.eng.Epoch(), s.ackWire))
		return
	}
	sub.table, sub.grp = reg.table.name, reg.grp
	switch ev.Kind {
	case fsm.EventSubscribed:
		if sub.started {
			return
		}
		sub.started = true
		if sub.opts == nil {
			sub.firstEnd = reg.regSeq
			sub.windows = append(sub.windows, window{hi: reg.regSeq, broken: true})
		} else {
			sub.firstEnd = max(reg.snapEnd, sub.floor)
		}
	case fsm.EventResumed:
		sub.interrupted = true
		if !sub.started {
			sub.started = true
			sub.firstEnd = reg.regSeq
		}
		switch ev.Continuity {
		case fsm.ContinuityNoDeletes:
			sub.windows = append(sub.windows, window{lo: int64(ev.From), hi: reg.regSeq})
		case fsm.ContinuityBroken:
			sub.windows = append(sub.windows, window{hi: reg.regSeq, broken: true})
		case fsm.ContinuityFull:
			c.count("continuity_full")
			if sub.hasQueued {
				s.fail(fmt.Errorf("continuity_full: %s resumed with full continuity and no position after delivering rows up to %d", sub.id, sub.lastQueued))
			}
		}
	}
}

// delivery checks one event before the driver buffers it: _seq strictly
// increasing per subscription, nothing at or below the checkpoint, and an
// event position that covers its rows.
func (c *checker) delivery(s *Sim, sub *appSub, ev fsm.Event) bool {
	rows := ev.Rows
	if ev.Kind == fsm.EventDelete {
		rows = ev.OldValues
	}
	checkpoint, has := sub.lastQueued, sub.hasQueued
	if sub.floor != 0 && (!has || int64(checkpoint) < sub.floor) {
		checkpoint, has = wire.SeqID(sub.floor), true
	}
	if ev.Kind == fsm.EventResumed && ev.Continuity == fsm.ContinuityNoDeletes {
		c.count("above_checkpoint")
		if has && ev.From != checkpoint {
			s.fail(fmt.Errorf("above_checkpoint: %s resumes from %d, the consumer holds %d", sub.id, ev.From, checkpoint))
			return false
		}
	}
	last, hasLast := checkpoint, has
	for _, r := range rows {
		seq, ok, err := wire.RowSeq(r)
		if err != nil || !ok {
			s.fail(fmt.Errorf("seq_increasing: %s delivered a row without a readable _seq: %v", sub.id, err))
			return false
		}
		c.count("seq_increasing")
		if hasLast && seq <= last {
			s.fail(fmt.Errorf("seq_increasing: %s delivered _seq %d after %d (%v)", sub.id, seq, last, ev.Kind))
			return false
		}
		c.count("above_checkpoint")
		if has && seq <= checkpoint {
			s.fail(fmt.Errorf("above_checkpoint: %s delivered _seq %d at or below its checkpoint %d", sub.id, seq, checkpoint))
			return false
		}
		last, hasLast = seq, true
	}
	if len(rows) > 0 {
		c.count("event_seq")
		if ev.Seq != last {
			s.fail(fmt.Errorf("event_seq: %s %v event at position %d, its last row has %d", sub.id, ev.Kind, ev.Seq, last))
			return false
		}
	}
	return true
}

// quiescence checks, once the world has healed and the consumers have
// caught up, that every subscription is live and lost nothing.
func (c *checker) quiescence(s *Sim) {
	c.count("eventually_live")
	info := s.eng.Subscriptions()
	if len(info) > 0 && s.eng.State() != fsm.StateLive {
		s.fail(fmt.Errorf("eventually_live: %d subscriptions but the engine is %v after quiescence", len(info), s.eng.State()))
		return
	}
	for _, si := range info {
		if si.Phase != "live" {
			s.fail(fmt.Errorf("eventually_live: subscription %s is %s after quiescence", si.ID, si.Phase))
			return
		}
	}
	if len(info) != len(s.app.order) {
		s.fail(fmt.Errorf("eventually_live: engine has %d subscriptions, application %d", len(info), len(s.app.order)))
		return
	}
	for _, id := range s.app.order {
		sub := s.app.subs[id]
		if len(sub.buf) > 0 || sub.lagging {
			s.fail(fmt.Errorf("eventually_live: %s still has %d buffered events (lagging %t)", id, len(sub.buf), sub.lagging))
			return
		}
		c.noLoss(s, sub)
		if s.err != nil {
			return
		}
	}
}

func (w window) covers(seq int64) bool { return seq > w.lo && seq <= w.hi }

func (c *checker) noLoss(s *Sim, sub *appSub) {
	t := s.srv.tables[sub.table]
	if t == nil || !sub.started {
		s.fail(fmt.Errorf("no_loss: %s never registered (table %q)", sub.id, sub.table))
		return
	}
	match := func(r *row) bool { return sub.grp == "" || r.grp == sub.grp }
	brokenUpTo := func(seq int64) bool {
		return slices.ContainsFunc(sub.windows, func(w window) bool { return w.broken && seq <= w.hi })
	}
	inWindow := func(seq int64) bool {
		return slices.ContainsFunc(sub.windows, func(w window) bool { return w.covers(seq) || (w.broken && seq <= w.hi) })
	}
	for _, id := range t.ids {
		r := t.rows[id]
		if !match(r) {
			continue
		}
		c.count("no_loss")
		vr, inView := sub.view[id]
		switch {
		case !r.deleted && !inView:
			if !brokenUpTo(r.seq) {
				s.fail(fmt.Errorf("no_loss: %s (%s) is missing row %d at _seq %d (windows %+v)", sub.id, t.name, id, r.seq, sub.windows))
				return
			}
		case !r.deleted && vr.seq != r.seq:
			if vr.seq > r.seq || !brokenUpTo(r.seq) {
				s.fail(fmt.Errorf("no_loss: %s (%s) holds row %d at _seq %d, the server at %d (windows %+v)", sub.id, t.name, id, vr.seq, r.seq, sub.windows))
				return
			}
		case r.deleted && inView:
			if !inWindow(r.seq) {
				s.fail(fmt.Errorf("no_loss: %s (%s) still holds row %d deleted at _seq %d outside any reported gap (windows %+v)", sub.id, t.name, id, r.seq, sub.windows))
				return
			}
		}
	}
	for id := range sub.view {
		c.count("no_loss")
		if r := t.rows[id]; r == nil || !match(r) {
			s.fail(fmt.Errorf("no_loss: %s holds row %d the server never had in %s", sub.id, id, t.name))
			return
		}
	}
	c.dropsRepaired(s, sub, t, inWindow, brokenUpTo)
	if s.err != nil || sub.interrupted {
		return
	}
	c.count("changes_exactly_once")
	var want []int64
	for _, ch := range t.log {
		if ch.seq > sub.firstEnd && match(&ch.new) {
			want = append(want, ch.seq)
		}
	}
	if !slices.Equal(want, sub.changeSeqs) {
		s.fail(fmt.Errorf("changes_exactly_once: %s (%s) consumed changes %v, the server made %v after %d", sub.id, t.name, sub.changeSeqs, want, sub.firstEnd))
	}
}

// dropsRepaired: every change the server dropped for sub (a full outgoing
// queue, a full loading buffer) was repaired, or lies in a gap the
// subscription reported. An insert or update is repaired when the view
// holds its row at that version or a later one (or the row is gone since);
// a delete, when the row is gone from the view. A delete may instead lie
// in a resume's deletes-may-be-missing window; anything may lie in a
// broken one.
func (c *checker) dropsRepaired(s *Sim, sub *appSub, t *table, inWindow, brokenUpTo func(int64) bool) {
	for _, d := range s.srv.dropped {
		if app, _, _ := strings.Cut(d.wire, "#"); app != sub.id || d.table != t.name {
			continue
		}
		c.count("drops_repaired")
		r := t.rows[d.ch.new.id]
		vr, inView := sub.view[d.ch.new.id]
		var ok bool
		switch d.ch.kind {
		case "delete":
			ok = !inView || inWindow(d.ch.seq)
		default:
			ok = r.deleted || (inView && vr.seq >= d.ch.seq) || brokenUpTo(d.ch.seq)
		}
		if !ok {
			s.fail(fmt.Errorf("drops_repaired: %s (%s): the server dropped the %s of row %d at _seq %d (%s, epoch %d, %s) and it was neither repaired nor reported (view %+v, in view %t, windows %+v)",
				sub.id, t.name, d.ch.kind, d.ch.new.id, d.ch.seq, d.why, d.epoch, d.wire, vr, inView, sub.windows))
			return
		}
	}
}

// refused records that the engine was told the server refused tok.
func (c *checker) refused(s *Sim, tok string) {
	if !c.knownRefused[tok] {
		c.knownRefused[tok] = true
		c.refusedAt[tok] = s.steps
	}
}

// refusalDetail says what kind of refusal a reused token had, for the
// failure message.
func (c *checker) refusalDetail(s *Sim, tok string) string {
	d := ""
	if !s.k.hasProvider {
		d += " (no provider)"
	}
	if c.refusedOnRetry[tok] {
		d += "; the refusal answered a retried query"
	}
	return d
}
