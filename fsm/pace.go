package fsm

import (
	"strconv"
	"time"

	"github.com/kalamgo/kalam/transport/wire"
)

// This file holds what keeps the engine within KalamDB's limits on one
// socket: the pacer every outgoing text frame goes through, the wire ids
// that tell incarnations of a subscription apart, the answer to
// RATE_LIMIT_EXCEEDED, and the deadline for a subscription's ack.

// Defaults of the limit-related Config fields.
const (
	// DefaultFrameRate stays under KalamDB's 50 text frames/s per
	// connection with room for keepalives.
	DefaultFrameRate = 40
	// DefaultFrameBurst is how many frames may leave back to back before
	// the rate applies.
	DefaultFrameBurst        = 20
	DefaultRateLimitPause    = time.Second
	DefaultAckTimeout        = 10 * time.Second
	DefaultSubscribeAttempts = 3
)

func (c *Config) defaultLimits() {
	if c.FrameRate == 0 {
		c.FrameRate = DefaultFrameRate
	}
	if c.FrameBurst <= 0 {
		c.FrameBurst = DefaultFrameBurst
	}
	if c.RateLimitPause <= 0 {
		c.RateLimitPause = DefaultRateLimitPause
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = DefaultAckTimeout
	}
	if c.SubscribeAttempts <= 0 {
		c.SubscribeAttempts = DefaultSubscribeAttempts
	}
	c.defaultRepair()
}

type frameKind uint8

const (
	frameSubscribe frameKind = iota
	frameUnsubscribe
	frameNextBatch
)

// outFrame is a text frame waiting for the pacer.
type outFrame struct {
	kind frameKind
	s    *sub   // the subscription it concerns
	wire string // the wire id it was built for
	data []byte
	seq  wire.SeqID // next_batch: the last_seq_id asked after
}

// sentUnsub remembers an unsubscribe on the wire, to send it again when
// the server says it dropped frames.
type sentUnsub struct {
	wire string
	at   time.Duration
}

// repairState is the engine's part of the limits and the repair.
type repairState struct {
	// Pacer (GCRA): tat is the theoretical arrival time of the next frame;
	// a frame may leave once now >= tat - (burst-1)·interval.
	paceEpoch uint64
	tat       time.Duration
	hold      time.Duration // nothing leaves before this (after a rate_limit error)
	queue     []outFrame
	unsubs    []sentUnsub

	// Wire ids: the current one of each subscription, and a counter for
	// the next incarnation's suffix.
	wire   map[string]*sub
	incarn uint64

	// Catch-up: the smallest lag seen (arrival minus commit time), the
	// last congestion episode, and when rounds are next due.
	minLag     time.Duration
	hasLag     bool
	lagAt      time.Duration // when minLag was last updated
	congestAt  time.Duration
	congestN   int
	rateLimits int           // RATE_LIMIT_EXCEEDED answers seen, for tests and stats
	limitedAt  time.Duration // the latest RATE_LIMIT_EXCEEDED
	resendDue  bool          // what it may have cost goes again when the hold ends
	slow       uint          // the rate is halved this many times on this socket

	timerAt [numTimers]time.Duration // when each timer of this file was armed for

	// Bursts: change notifications since the last quiet spell, and when
	// the latest arrived.
	burstN      int
	lastArrival time.Duration
	bursts      int           // bursts seen, for tests and stats
	burstAt     time.Duration // no burst round before this
}

// subLimits is a subscription's part of the limits: its wire id and what
// is on the wire unanswered.
type subLimits struct {
	wire     string
	sentAt   time.Duration // when the current subscribe left the pacer
	sent     bool          // it did
	tries    int           // subscribes sent without an ack on this epoch
	tryEpoch uint64
	askedFor wire.SeqID // last next_batch asked after
	asked    bool       // a next_batch left and no batch answered it yet
	askedAt  time.Duration
	hasAsked bool
}

// interval is the spacing of frames: the configured rate, halved for
// each RATE_LIMIT_EXCEEDED episode on this socket.
func (e *Engine) interval() time.Duration {
	return time.Second / time.Duration(e.cfg.FrameRate) << e.rep.slow
}

func (e *Engine) burst() int { return max(1, e.cfg.FrameBurst>>e.rep.slow) }

func (e *Engine) paced() bool { return e.cfg.FrameRate > 0 }

// paceReset starts the pacer afresh for a new socket: the server's bucket
// is full, less the authenticate frame.
func (e *Engine) paceReset() {
	r := &e.rep
	if r.paceEpoch == e.epoch {
		return
	}
	r.paceEpoch = e.epoch
	r.queue = r.queue[:0]
	r.unsubs = r.unsubs[:0]
	r.hold, r.slow, r.resendDue = 0, 0, false
	r.tat = e.now
	if e.paced() {
		r.tat += e.interval()
	}
}

// pacePing counts a keepalive: it leaves at once but takes its token.
func (e *Engine) pacePing() {
	if !e.paced() {
		return
	}
	e.paceReset()
	e.rep.tat = max(e.rep.tat, e.now) + e.interval()
}

// sendFrame queues a text frame for the socket of the current epoch and
// lets out whatever the rate allows.
func (e *Engine) sendFrame(f outFrame) {
	e.paceReset()
	e.rep.queue = append(e.rep.queue, f)
	e.pump()
}

// pump lets queued frames out while the rate allows, and arms TimerPace
// for the next one.
func (e *Engine) pump() {
	r := &e.rep
	if !e.sockOpen || r.paceEpoch != e.epoch {
		r.queue = r.queue[:0] // frames of an older socket are never sent
		return
	}
	if r.slow > 0 && e.now-r.limitedAt >= 10*e.cfg.RateLimitPause {
		// No rate_limit error for a while: speed up again, one step at a time.
		r.slow--
		r.limitedAt = e.now
	}
	tau := time.Duration(e.burst()-1) * e.interval()
	for len(r.queue) > 0 {
		if e.paced() {
			at := max(r.hold, r.tat-tau)
			if e.now < at {
				if !e.timerArmed[TimerPace] || e.rep.timerAt[TimerPace] != at {
					e.armAt(TimerPace, at)
				}
				return
			}
			r.tat = max(r.tat, e.now) + e.interval()
		}
		f := r.queue[0]
		r.queue = r.queue[1:]
		e.release(f)
	}
	if len(r.queue) == 0 {
		r.queue = nil
	}
}

// release puts f on the wire and notes what now waits for an answer.
func (e *Engine) release(f outFrame) {
	e.emit(Send{Epoch: e.epoch, Data: f.data})
	s := f.s
	if s == nil || s.removed || s.wire != f.wire {
		if f.kind == frameUnsubscribe {
			e.noteUnsub(f.wire)
		}
		return
	}
	switch f.kind {
	case frameSubscribe:
		s.sentAt, s.sent = e.now, true
		if s.tryEpoch != e.epoch {
			s.tryEpoch, s.tries = e.epoch, 0
		}
		s.tries++
		e.armAck(s.sentAt + e.cfg.AckTimeout)
	case frameNextBatch:
		s.asked, s.askedAt = true, e.now
	case frameUnsubscribe:
		e.noteUnsub(f.wire)
	}
}

func (e *Engine) noteUnsub(w string) {
	r := &e.rep
	keep := r.unsubs[:0]
	for _, u := range r.unsubs {
		if e.now-u.at < 2*e.cfg.RateLimitPause {
			keep = append(keep, u)
		}
	}
	r.unsubs = append(keep, sentUnsub{wire: w, at: e.now})
}

// withdraw takes s's queued frames back. It reports whether a subscribe
// was among them: the server never heard of that incarnation.
func (e *Engine) withdraw(s *sub) bool {
	r := &e.rep
	found := false
	keep := r.queue[:0]
	for _, f := range r.queue {
		if f.s == s && f.wire == s.wire && f.kind != frameUnsubscribe {
			found = found || f.kind == frameSubscribe
			continue
		}
		keep = append(keep, f)
	}
	r.queue = keep
	return found
}

// unsubscribeWire takes s's current incarnation off the wire: a queued
// subscribe is withdrawn, a sent one is unsubscribed.
func (e *Engine) unsubscribeWire(s *sub) {
	e.dropHeld(s)
	if s.phase == phasePending || !e.sockOpen || s.epoch != e.epoch {
		return
	}
	if e.withdraw(s) {
		return
	}
	data, _ := wire.Encode(wire.ClientMessage{Type: wire.TypeUnsubscribe, SubscriptionID: s.wire})
	e.sendFrame(outFrame{kind: frameUnsubscribe, s: s, wire: s.wire, data: data})
}

// askNextBatch asks for the batch after last, once per position: a batch
// that answers a request sent twice does not start a second chain.
func (e *Engine) askNextBatch(s *sub, last wire.SeqID) {
	if s.hasAsked && last <= s.askedFor {
		return
	}
	s.askedFor, s.hasAsked, s.asked = last, true, false
	data, _ := wire.Encode(wire.ClientMessage{Type: wire.TypeNextBatch, SubscriptionID: s.wire, LastSeqID: &last})
	e.sendFrame(outFrame{kind: frameNextBatch, s: s, wire: s.wire, data: data, seq: last})
}

// subByWire finds the subscription a server message names.
func (e *Engine) subByWire(id string) *sub {
	if s := e.rep.wire[id]; s != nil {
		return s
	}
	return nil
}

// assignWire gives s the wire id of its next incarnation: its own id the
// first time on a socket, else its id with a fresh suffix, so that frames
// still on their way for an earlier incarnation (an ack the server sent
// before it saw the unsubscribe, a batch asked for twice) never pass for
// the new one's.
func (e *Engine) assignWire(s *sub) {
	e.paceReset()
	r := &e.rep
	if r.wire == nil {
		r.wire = make(map[string]*sub)
	}
	if r.wire[s.wire] == s {
		delete(r.wire, s.wire)
	}
	id := s.id
	if s.epoch == e.epoch && s.wire != "" || r.wire[id] != nil || e.recentlyUnsubscribed(id) {
		for {
			r.incarn++
			id = s.id + "#" + strconv.FormatUint(r.incarn, 10)
			if r.wire[id] == nil && e.subs[id] == nil {
				break
			}
		}
	}
	s.wire = id
	s.sent, s.asked, s.hasAsked = false, false, false
	e.dropHeld(s) // what the last incarnation held is replayed by this one
	r.wire[id] = s
}

func (e *Engine) recentlyUnsubscribed(id string) bool {
	for _, u := range e.rep.unsubs {
		if u.wire == id {
			return true
		}
	}
	for _, f := range e.rep.queue {
		if f.kind == frameUnsubscribe && f.wire == id {
			return true
		}
	}
	return false
}

func (e *Engine) forgetWire(s *sub) {
	e.withdraw(s)
	if e.rep.wire[s.wire] == s {
		delete(e.rep.wire, s.wire)
	}
}

// onWireError handles the server errors the limits explain. It reports
// whether m was handled.
func (e *Engine) onWireError(m *wire.ServerMessage) bool {
	if m.SubscriptionID == wire.PlaceholderRateLimit || m.Code == wire.CodeRateLimitExceeded {
		e.rep.rateLimits++
		e.emit(Problem{Err: &ServerError{Subscription: m.SubscriptionID, Code: m.Code, Message: m.Message}, Recoverable: true})
		e.rateLimited()
		return true
	}
	s := e.subByWire(m.SubscriptionID)
	if s != nil && m.Code == wire.CodeBatchFetchFailed && s.phase == phaseLive {
		// The answer to a next_batch sent twice after the load completed.
		return true
	}
	return false
}

// rateLimited answers RATE_LIMIT_EXCEEDED: the server dropped one or more
// of our recent frames without saying which. Nothing leaves for
// RateLimitPause, and the rate on this socket halves (once per episode,
// down to a sixteenth). When the pause ends, what left before the error
// and is still unanswered goes again: every subscribe without an ack (as a
// new incarnation), every next_batch without a batch, every recent
// unsubscribe. Waiting for the end of the pause lets the answers to the
// frames that did get through arrive first.
func (e *Engine) rateLimited() {
	if !e.sockOpen {
		return
	}
	e.paceReset()
	r := &e.rep
	if e.paced() && e.now >= r.hold && r.slow < 4 {
		r.slow++
	}
	r.limitedAt = e.now
	r.hold = e.now + e.cfg.RateLimitPause
	r.resendDue = true
	e.pump()
	if !e.timerArmed[TimerPace] || e.rep.timerAt[TimerPace] > r.hold {
		e.armAt(TimerPace, r.hold)
	}
}

// resendUnanswered sends again what left before the last rate_limit error
// and is still unanswered.
func (e *Engine) resendUnanswered() {
	r := &e.rep
	keep := r.unsubs[:0]
	var again []outFrame
	for _, u := range r.unsubs {
		if u.at > r.limitedAt {
			keep = append(keep, u)
			continue
		}
		data, _ := wire.Encode(wire.ClientMessage{Type: wire.TypeUnsubscribe, SubscriptionID: u.wire})
		again = append(again, outFrame{kind: frameUnsubscribe, wire: u.wire, data: data})
	}
	r.unsubs = keep
	r.queue = append(again, r.queue...)
	for _, id := range e.order {
		s := e.subs[id]
		if s == nil || s.epoch != e.epoch {
			continue
		}
		switch {
		case s.phase == phaseSubscribing && s.sent && s.sentAt <= r.limitedAt:
			e.resend(s)
		case s.phase == phaseLoading && s.asked && s.askedAt <= r.limitedAt:
			last := s.askedFor
			s.hasAsked = false
			e.askNextBatch(s, last)
		}
	}
}

// resend sends an unacknowledged subscription again as a new incarnation:
// the old one is unsubscribed (the server may have it after all).
func (e *Engine) resend(s *sub) {
	e.unsubscribeWire(s)
	s.phase = phasePending
	if !s.acked && !s.paused {
		s.everSent = false // still a first subscribe: EventSubscribed, not EventResumed
	}
	if !s.paused {
		e.pending++
	}
}

// armAck arms TimerAck for at when it is earlier than the armed deadline.
func (e *Engine) armAck(at time.Duration) {
	if e.timerArmed[TimerAck] && e.rep.timerAt[TimerAck] <= at {
		return
	}
	e.armAt(TimerAck, at)
}

// ackDeadline handles TimerAck: subscriptions unacknowledged for
// AckTimeout are sent again, or ended with ErrSubscribeTimeout after
// SubscribeAttempts.
func (e *Engine) ackDeadline() {
	var next time.Duration
	hasNext := false
	for _, id := range append([]string(nil), e.order...) {
		s := e.subs[id]
		if s == nil || s.phase != phaseSubscribing || !s.sent || s.epoch != e.epoch {
			continue
		}
		due := s.sentAt + e.cfg.AckTimeout
		if due > e.now {
			if !hasNext || due < next {
				next, hasNext = due, true
			}
			continue
		}
		if s.tries >= e.cfg.SubscribeAttempts {
			e.endSub(s, &SubscribeTimeoutError{Subscription: s.id, Attempts: s.tries, Timeout: e.cfg.AckTimeout})
			continue
		}
		e.resend(s)
	}
	if hasNext {
		e.armAck(next)
	}
}

// armAt arms t for at and remembers when.
func (e *Engine) armAt(t Timer, at time.Duration) {
	e.rep.timerAt[t] = at
	e.arm(t, at)
}

// onLimitTimer handles the timers of this file and catchup.go.
func (e *Engine) onLimitTimer(t Timer) {
	switch t {
	case TimerPace:
		if r := &e.rep; r.resendDue && e.now >= r.hold && e.sockOpen && r.paceEpoch == e.epoch {
			r.resendDue = false
			e.resendUnanswered()
		}
		e.pump()
	case TimerAck:
		e.ackDeadline()
	case TimerCatchUp:
		e.catchUpDue()
	}
}
