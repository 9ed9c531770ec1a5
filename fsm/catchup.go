package fsm

import (
	"time"

	"github.com/kalamgo/kalam/transport/wire"
)

// Catch-up repair. KalamDB delivers changes at most once: a connection's
// outgoing queue drops changes when it is full, and a loading
// subscription's buffer drops its oldest changes beyond 1,024. Whenever
// the engine has reason to think the server dropped something, it
// resubscribes from the last _seq it delivered; the replay brings every
// insert and update after that position, and what the engine already
// delivered is filtered out as before. A catch-up replay that brought rows
// is followed by another round (after a delay that doubles CatchUpRounds
// times, then stays), because it may itself have coincided with drops; a
// replay that brings nothing ends the episode.
//
// A resume after a pause or a reconnect is itself a replay from the last
// delivered _seq; it is watched like any load (its flush, the bursts and
// the lag of what follows) but not repeated when it brings rows: the
// outage explains them.
//
// The other signs that the server may have dropped changes, none of which
// needs the clocks to agree:
//   - a burst: OutgoingQueue − OutgoingQueue/8 change notifications with no
//     quiet spell of BurstGap between two. The server's queue drops only
//     while it holds OutgoingQueue changes, which then all arrive back to
//     back before the first change that could have been dropped; so the
//     burst is seen before the position moves past a drop, and the
//     catch-up replays from there. A steady trickle has quiet spells;
//   - a load whose flush of buffered changes (which goes through the same
//     queue, behind what it holds) brought OutgoingQueue/2 changes, or
//     LoadBuffer: the flush may have been cut short, or the buffer may have
//     dropped its oldest; the changes committed before the last batch
//     arrived are counted;
// and one that does, kept for slow links where the queue fills slowly:
//   - congestion: each _seq is a Snowflake carrying its commit time, so a
//     change's lag on arrival, taken relative to the smallest lag seen
//     (which cancels clock skew), grows when the server's queue backs up.
//     A lag more than LagThreshold above the smallest means the queue may
//     have overflowed; every subscription on the socket catches up.

// Defaults of the repair-related Config fields.
const (
	DefaultLagThreshold  = 500 * time.Millisecond
	DefaultLoadBuffer    = 1024
	DefaultCatchUpRounds = 4
	DefaultCatchUpDelay  = 200 * time.Millisecond
	DefaultOutgoingQueue = 128
	DefaultBurstGap      = 10 * time.Millisecond
)

// flushWindow bounds the flush count when no lag has been measured yet.
const flushWindow = 250 * time.Millisecond

// minSeqMillis: a _seq whose time part is below a day is not a real
// Snowflake (tests, synthetic servers) and says nothing about lag.
const minSeqMillis = 24 * 3600 * 1000

func (c *Config) defaultRepair() {
	if c.LagThreshold == 0 {
		c.LagThreshold = DefaultLagThreshold
	}
	if c.LoadBuffer <= 0 {
		c.LoadBuffer = DefaultLoadBuffer
	}
	if c.CatchUpRounds == 0 {
		c.CatchUpRounds = DefaultCatchUpRounds
	}
	if c.CatchUpDelay <= 0 {
		c.CatchUpDelay = DefaultCatchUpDelay
	}
	if c.OutgoingQueue == 0 {
		c.OutgoingQueue = DefaultOutgoingQueue
	}
	if c.BurstGap <= 0 {
		c.BurstGap = DefaultBurstGap
	}
}

// burstSize is how many change notifications arriving in one burst count
// as a sign that the server's outgoing queue may have overflowed: the
// queue's size less an eighth, so that a burst whose first changes the
// server had already written still counts. Zero: the check is off.
func (c *Config) burstSize() int {
	if c.OutgoingQueue <= 0 {
		return 0
	}
	return max(c.OutgoingQueue-c.OutgoingQueue/8, 1)
}

// burstSeen notes the arrival of a change notification and reports whether
// burstSize of them, this one included, arrived without a quiet spell of
// BurstGap between two: the server had that many to write to this
// connection without ever catching up (its writer or the client's reader
// is the bottleneck), so its queue may have filled and dropped some. The
// count then starts over. A drop needs a full queue, and everything in a
// full queue arrives before the dropped change would have: the burst
// counts before the position passes the first possible drop. It costs a
// subtraction and two stores per change.
func (e *Engine) burstSeen() bool {
	k := e.cfg.burstSize()
	if k == 0 {
		return false
	}
	r := &e.rep
	if e.now-r.lastArrival > e.cfg.BurstGap {
		r.burstN = 0
	}
	r.lastArrival = e.now
	r.burstN++
	if r.burstN < k {
		return false
	}
	r.burstN = 0
	r.bursts++
	return true
}

// overflowRisk acts on a burst that may have overflowed the server's
// queue: every subscription on the socket catches up from the last _seq
// it delivered and takes no live change until its round. Rounds for
// bursts come at most once per CatchUpDelay: a burst takes nearly a
// queue's worth of new changes to count, so its rounds are as frequent
// as the load makes them, and a replay that brings nothing costs two
// frames. (The lag's rounds back off instead: a late change may be a
// scheduling hiccup.)
func (e *Engine) overflowRisk() {
	if e.drain != nil {
		return
	}
	r := &e.rep
	if e.now >= r.burstAt {
		r.burstAt = e.now + e.cfg.CatchUpDelay
		for _, id := range append([]string(nil), e.order...) {
			if s := e.subs[id]; s != nil && s.phase != phasePending {
				e.catchUp(s)
			}
		}
		return
	}
	for _, id := range e.order {
		if s := e.subs[id]; s != nil && s.phase == phaseLive && !s.removed {
			s.skipping = true
			if s.due == 0 {
				s.due = r.burstAt
			}
		}
	}
	e.armCatchUp()
}

// subRepair is a subscription's part of the catch-up.
type subRepair struct {
	replay     bool          // the current load replays from a position
	replayRows int           // rows that replay delivered
	suspect    bool          // a sign of drops came while loading: a round is owed after it
	round      int           // rounds in the current episode
	due        time.Duration // the next round (0: none scheduled)
	flushing   bool          // the flush after the last batch is being held
	flushed    int
	loadedAt   time.Duration
	held       []heldChange // the flush so far, not yet delivered
	skipping   bool         // live changes are left to the coming round's replay
	heldPos    wire.SeqID
	hasHeld    bool
	heldAt     time.Duration // when the newest held change arrived
	rounds     uint64        // catch-up rounds started, for tests and stats
	catching   bool          // the coming subscribe is a catch-up round's
}

// commitTime is when seq was minted, as a Duration since the Unix epoch,
// or false when seq carries no plausible time.
func commitTime(seq wire.SeqID) (time.Duration, bool) {
	ms := int64(seq) >> 22
	if ms < minSeqMillis {
		return 0, false
	}
	return time.Duration(ms+wire.SeqEpochMillis) * time.Millisecond, true
}

// onAcked notes the start of an incarnation's life on the wire.
func (e *Engine) onAcked(s *sub, resuming bool) {
	s.acked, s.tries = true, 0
	s.replay = resuming && s.sentOpts && s.hasPos
	s.replayRows = 0
	e.dropHeld(s)
}

// onSnapshotRows counts the rows a replay delivered.
func (e *Engine) onSnapshotRows(s *sub, n int) {
	if s.replay {
		s.replayRows += n
	}
}

// onLoaded runs when a load's last batch arrived: the flush count starts,
// and a replay decides whether another round is owed.
func (e *Engine) onLoaded(s *sub) {
	e.dropHeld(s)
	s.flushing, s.loadedAt = true, e.now
	found := s.replay && s.replayRows > 0
	s.replay = false
	switch {
	case s.suspect:
		s.suspect = false
		e.scheduleCatchUp(s)
	case found && s.round > 0 && e.cfg.CatchUpRounds >= 0:
		// A catch-up round found rows the server had dropped: another one,
		// in case the replay coincided with more drops. Until a replay
		// brings nothing new: the rounds slow down, but they do not give
		// up while the server may still owe rows.
		e.scheduleCatchUp(s)
	default:
		s.round = 0
	}
}

// holdChange decides on a live change of s at seq (above its position)
// before it is delivered. It reports true when the change is not to be
// delivered now:
//   - it belongs to the flush of changes the server buffered during the
//     load: held (copied) until the flush is known to be complete, because
//     a flush that reached LoadBuffer means the server dropped the oldest
//     changes, all below the flushed ones; then the held changes are
//     dropped and a catch-up from the position before the flush replays
//     everything in order;
//   - it arrived late (congestion): a catch-up from the current position
//     replays it with whatever the server dropped before it.
func (e *Engine) holdChange(s *sub, seq wire.SeqID, ev Event) bool {
	if s.skipping {
		return true // the server may have dropped changes before it: the replay brings both
	}
	if s.flushing {
		if _, ok := commitTime(seq); ok && e.inFlush(s, seq) {
			if s.hasHeld && seq <= s.heldPos {
				return true // a replay of what is held
			}
			ev.Rows, ev.OldValues = copyRows(ev.Rows), copyRows(ev.OldValues)
			s.held = append(s.held, heldChange{seq: seq, ev: ev})
			s.heldPos, s.hasHeld, s.heldAt = seq, true, e.now
			s.flushed++
			if s.flushed >= e.flushLimit() {
				e.dropHeld(s)
				e.catchUp(s)
				return true
			}
			e.armCatchUp()
			return true
		}
		if e.flushDone(s) {
			return true
		}
		if s.hasPos && seq <= s.pos {
			return true
		}
	}
	return e.lateChange(s, seq)
}

// flushLimit is how many flushed changes mean the flush may have been cut
// short: LoadBuffer, the server's buffer of a loading subscription, or
// half the server's outgoing queue, which the flush goes through (behind
// whatever else the queue holds) and which drops what does not fit.
func (e *Engine) flushLimit() int {
	if q := e.cfg.OutgoingQueue / 2; q > 0 && q < e.cfg.LoadBuffer {
		return q
	}
	return e.cfg.LoadBuffer
}

// inFlush reports whether a change at seq arriving after s's last batch
// was committed before that batch arrived: part of the flush. Without a
// measured lag, the changes of the first flushWindow count. A _seq that
// carries no time (not a Snowflake) is never held.
func (e *Engine) inFlush(s *sub, seq wire.SeqID) bool {
	at, _ := commitTime(seq)
	if !e.rep.hasLag {
		return e.now-s.loadedAt <= flushWindow
	}
	return at+e.rep.minLag <= s.loadedAt+2*time.Millisecond
}

// lateChange measures a live change's lag against the smallest seen. A
// late one starts a catch-up (of every subscription on the socket) and
// is not delivered: the replay brings it.
func (e *Engine) lateChange(s *sub, seq wire.SeqID) bool {
	at, ok := commitTime(seq)
	if !ok {
		return false
	}
	r := &e.rep
	lag := e.now - at
	if r.hasLag {
		// The baseline creeps up by a millisecond a second, so a drift
		// between the clocks does not read as congestion.
		r.minLag = min(r.minLag+(e.now-r.lagAt)/1000, lag)
	} else {
		r.minLag, r.hasLag = lag, true
	}
	r.lagAt = e.now
	if e.cfg.LagThreshold <= 0 || lag-r.minLag <= e.cfg.LagThreshold || e.drain != nil {
		return false
	}
	e.late(s)
	return true
}

// late acts on a sign that the server's queue backed up while s was live:
// every subscription on the socket catches up, at once or when the
// backoff of repeated congestion ends, and s takes no live change until
// its round.
func (e *Engine) late(s *sub) {
	r := &e.rep
	switch {
	case s.due != 0 || s.phase != phaseLive:
		s.skipping = true // a round is on its way
	case r.congestAt != 0 && e.now < r.congestAt:
		// Backing off: this subscription's round comes when it ends.
		s.skipping, s.due = true, r.congestAt
		e.armCatchUp()
	default:
		e.congested()
	}
}

type heldChange struct {
	seq wire.SeqID
	ev  Event
}

func copyRows(rows []wire.Row) []wire.Row {
	if rows == nil {
		return nil
	}
	out := make([]wire.Row, len(rows))
	for i, r := range rows {
		out[i] = append(wire.Row(nil), r...)
	}
	return out
}

// flushDone ends the flush of s: it was complete. A flush whose newest
// change came late (the last batch and its flush waited in the server's
// queue, or the client was suspended) may have been followed by changes
// the server dropped: it is left to a catch-up instead, like a late live
// change, and it reports true. Otherwise the held changes are delivered.
func (e *Engine) flushDone(s *sub) bool {
	if len(s.held) > 0 && e.rep.hasLag && e.cfg.LagThreshold > 0 && e.drain == nil {
		at, _ := commitTime(s.heldPos)
		if s.heldAt-at-e.rep.minLag > e.cfg.LagThreshold {
			e.dropHeld(s)
			e.late(s)
			return true
		}
	}
	e.releaseHeld(s)
	return false
}

// releaseHeld delivers the held flush.
func (e *Engine) releaseHeld(s *sub) {
	held := s.held
	s.flushing = false
	s.held, s.hasHeld, s.flushed = nil, false, 0
	if s.phase != phaseLive || s.removed {
		return
	}
	for _, h := range held {
		if s.hasPos && h.seq <= s.pos {
			continue
		}
		s.pos, s.hasPos = h.seq, true
		h.ev.Seq = s.pos
		e.emit(Deliver{Sub: s.id, Event: h.ev})
	}
}

// dropHeld forgets the held flush: the position did not move past it, so
// whatever replays from there brings it again.
func (e *Engine) dropHeld(s *sub) {
	s.flushing, s.skipping = false, false
	s.held, s.hasHeld, s.flushed = nil, false, 0
}

// congested handles a lag that says the server's queue backed up: every
// subscription on the socket may have lost changes. Repeated congestion
// is acted on at growing intervals.
func (e *Engine) congested() {
	r := &e.rep
	if r.congestAt != 0 && e.now < r.congestAt {
		return
	}
	if r.congestAt != 0 && e.now > r.congestAt+10*e.cfg.BackoffMax {
		r.congestN = 0 // a quiet spell: start the backoff over
	}
	r.congestAt = e.now + e.catchUpDelay(r.congestN)
	r.congestN++
	for _, id := range append([]string(nil), e.order...) {
		if s := e.subs[id]; s != nil && s.phase != phasePending {
			e.catchUp(s)
		}
	}
}

func (e *Engine) catchUpDelay(n int) time.Duration {
	d := e.cfg.CatchUpDelay
	for range min(n, 30) {
		if d >= e.cfg.BackoffMax {
			break
		}
		d *= 2
	}
	return min(d, max(e.cfg.BackoffMax, e.cfg.CatchUpDelay))
}

// catchUp asks for a round now: at once for a live subscription, after
// the current load for one loading. A pending one needs nothing: its
// resubscribe is a replay.
func (e *Engine) catchUp(s *sub) {
	if e.drain != nil || s.removed {
		return
	}
	switch s.phase {
	case phaseLive:
		if s.due != 0 {
			s.skipping = true // its round is scheduled: it replays what comes until then
			return
		}
		e.catchUpRound(s)
	case phaseSubscribing, phaseLoading:
		s.suspect = true
	}
}

// scheduleCatchUp plans the next round of s after a delay that grows with
// the rounds of the episode.
func (e *Engine) scheduleCatchUp(s *sub) {
	s.due = e.now + e.catchUpDelay(min(max(s.round-1, 0), e.cfg.CatchUpRounds))
	e.armCatchUp()
}

func (e *Engine) armCatchUp() {
	var next time.Duration
	for _, id := range e.order {
		s := e.subs[id]
		if s == nil {
			continue
		}
		if s.due != 0 && (next == 0 || s.due < next) {
			next = s.due
		}
		if len(s.held) > 0 {
			if at := s.loadedAt + flushWindow; next == 0 || at < next {
				next = max(at, 1)
			}
		}
	}
	if next == 0 {
		e.cancel(TimerCatchUp)
		return
	}
	if !e.timerArmed[TimerCatchUp] || e.rep.timerAt[TimerCatchUp] != next {
		e.armAt(TimerCatchUp, next)
	}
}

// catchUpDue starts the rounds whose time has come.
func (e *Engine) catchUpDue() {
	for _, id := range append([]string(nil), e.order...) {
		s := e.subs[id]
		if s == nil {
			continue
		}
		if len(s.held) > 0 && s.loadedAt+flushWindow <= e.now {
			e.flushDone(s) // nothing came after the flush: it was complete
		}
		if s.due == 0 || s.due > e.now {
			continue
		}
		s.due = 0
		switch s.phase {
		case phaseLive:
			e.catchUpRound(s)
		case phaseSubscribing, phaseLoading:
			s.suspect = true
		}
	}
	e.armCatchUp()
}

// catchUpRound resubscribes s from its position: unsubscribe, then (from
// settle) subscribe with from, both through the pacer.
func (e *Engine) catchUpRound(s *sub) {
	if e.drain != nil || !e.sockOpen || s.epoch != e.epoch {
		return
	}
	s.round++
	s.rounds++
	s.due = 0
	s.catching = true
	e.unsubscribeWire(s)
	s.phase = phasePending
	s.everSent = true
	if !s.paused {
		e.pending++
	}
}

// GapError says why a resumed subscription has a gap the engine could not
// repair. It matches ErrGap.
type GapError struct {
	Subscription string
	Reason       string
}

func (e *GapError) Error() string {
	return "kalam: subscription " + e.Subscription + " has a gap that cannot be repaired: " + e.Reason
}

// Unwrap makes errors.Is(err, ErrGap) hold.
func (e *GapError) Unwrap() error { return ErrGap }

// RepairStats reports the limits' and the repair's counters.
type RepairStats struct {
	// RateLimited counts RATE_LIMIT_EXCEEDED answers.
	RateLimited int
	// CatchUps counts catch-up rounds started, over all subscriptions.
	CatchUps uint64
	// Queued is the number of frames waiting for the pacer.
	Queued int
}

// Repair returns the counters of the limits and the repair.
func (e *Engine) Repair() RepairStats {
	st := RepairStats{RateLimited: e.rep.rateLimits, Queued: len(e.rep.queue)}
	for _, s := range e.subs {
		st.CatchUps += s.rounds
	}
	return st
}
