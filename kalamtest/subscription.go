package kalamtest

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/kalamgo/kalam/kalamtest/internal/store"
	"github.com/kalamgo/kalam/transport/wire"
)

type subState uint8

const (
	subLoading subState = iota // initial load running; changes are buffered
	subLive                    // changes flow
	subRemoved                 // unsubscribed, replaced or connection gone
)

func (s subState) String() string {
	switch s {
	case subLoading:
		return "loading"
	case subLive:
		return "live"
	default:
		return "removed"
	}
}

// subscription is one live query of one connection.
type subscription struct {
	conn      *wsConn
	id, sql   string
	q         *store.LiveQuery
	sess      store.Session
	hasOpts   bool
	batchSize int
	lower     wire.SeqID // rows start after this (options.from, or the minimum)

	mu       sync.Mutex
	state    subState
	endKnown bool
	end      wire.SeqID // snapshot end, fixed at subscribe time
	batchNum uint32
	buffered []bufferedChange
	dropLog  bool // buffer overflow already logged
}

type bufferedChange struct {
	seq wire.SeqID
	msg *wire.ServerMessage
}

const minSeq = wire.SeqID(math.MinInt64)

// subscribe handles a subscribe message (§4.4, §4.6), with the checks in
// KalamDB's order.
func (wc *wsConn) subscribe(req *wire.SubscriptionRequest) {
	s := wc.s
	id := req.ID
	if strings.TrimSpace(id) == "" {
		wc.reply(newError(wire.PlaceholderInvalidSubscription, wire.CodeInvalidSubscriptionID, "Subscription ID cannot be empty"))
		return
	}
	opts := req.Options
	batchSize := DefaultBatchSize
	if opts != nil {
		// serde would refuse negative unsigned integers while parsing.
		if opts.BatchSize != nil && *opts.BatchSize < 0 {
			wc.closeInvalid("invalid value: integer `" + strconv.Itoa(*opts.BatchSize) + "`, expected usize")
			return
		}
		if opts.LastRows != nil && *opts.LastRows < 0 {
			wc.closeInvalid("invalid value: integer `" + strconv.Itoa(*opts.LastRows) + "`, expected u32")
			return
		}
		if opts.BatchSize != nil {
			batchSize = *opts.BatchSize
		}
	}

	wc.mu.Lock()
	user, role := wc.user, wc.role
	old := wc.subs[id]
	count := len(wc.subs)
	wc.mu.Unlock()

	if !s.reserveSub(user, old != nil) {
		wc.reply(newError(id, wire.CodeSubscriptionLimitExceeded, "Maximum subscriptions reached"))
		return
	}
	reserved := old == nil
	fail := func(m *errorMessage) {
		if reserved {
			s.releaseSub(user)
		}
		wc.reply(m)
	}
	if opts != nil && opts.LastRows != nil && *opts.LastRows > batchSize {
		fail(newError(id, wire.CodeUnsupported, "last_rows ("+strconv.Itoa(*opts.LastRows)+") cannot exceed batch_size ("+
			strconv.Itoa(batchSize)+"); paginated last_rows replay is not supported"))
		return
	}
	sess := store.Session{User: user, Role: role}
	q, err := s.db.PrepareLive(sess, req.SQL)
	if err != nil {
		fail(prepareError(id, err))
		return
	}
	if lim := s.cfg.MaxSubscriptionsPerConnection; old == nil && lim >= 0 && count >= lim {
		fail(newError(id, wire.CodeUnsupported,
			"Invalid operation: Maximum subscriptions ("+strconv.Itoa(lim)+") per connection exceeded"))
		return
	}
	if old != nil {
		wc.removeSub(old, false) // the new one inherits its slot
	}

	sub := &subscription{conn: wc, id: id, sql: req.SQL, q: q, sess: sess, hasOpts: opts != nil, batchSize: batchSize, lower: minSeq}
	wc.mu.Lock()
	wc.subs[id] = sub
	wc.mu.Unlock()
	// Register before the snapshot end is computed, so no change can fall
	// between the snapshot and the buffer.
	s.hub.add(sub)
	if h := s.hooks.afterRegister.Load(); h != nil {
		(*h)()
	}

	if opts == nil {
		sub.mu.Lock()
		wc.reply(newAck(id, batchControl(0, false, nil), q.Schema()))
		sub.completeLocked()
		sub.mu.Unlock()
		return
	}

	end, err := s.db.SnapshotEnd(q, sess)
	if err != nil {
		wc.removeSub(sub, true)
		wc.reply(liveError(id, wire.CodeSubscriptionFailed, err))
		return
	}
	sub.mu.Lock()
	sub.endKnown, sub.end = true, end
	sub.buffered = slices.DeleteFunc(sub.buffered, func(b bufferedChange) bool { return b.seq <= end })
	sub.mu.Unlock()

	var rows []wire.Row
	from, hasFrom := opts.ResumeFrom()
	paged := true
	switch {
	case batchSize == 0:
	case hasFrom:
		sub.lower = from
		rows, err = s.db.Snapshot(q, sess, from, end, batchSize+1)
	case opts.LastRows != nil:
		paged = false
		rows, err = s.db.SnapshotLast(q, sess, end, *opts.LastRows)
	default:
		rows, err = s.db.Snapshot(q, sess, minSeq, end, batchSize+1)
	}
	if err != nil {
		wc.removeSub(sub, true)
		wc.reply(liveError(id, wire.CodeSubscriptionFailed, err))
		return
	}
	hasMore := paged && len(rows) > batchSize
	if hasMore {
		rows = rows[:batchSize]
	}
	last, err := lastSeq(rows)
	if err != nil {
		wc.removeSub(sub, true)
		wc.reply(newError(id, wire.CodeConversionError, "Conversion error: "+err.Error()))
		return
	}
	bc := batchControl(0, hasMore, last)
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.state == subRemoved {
		return
	}
	wc.out.push(outItem{msgs: []any{newAck(id, bc, q.Schema()), newBatch(id, rows, bc)}})
	if !hasMore {
		sub.completeLocked()
	}
}

// nextBatch serves next_batch: the page after lastSeq (or from the start of
// the snapshot when it is absent), up to the snapshot end.
func (wc *wsConn) nextBatch(id string, lastSeqID *wire.SeqID) {
	s := wc.s
	wc.mu.Lock()
	sub := wc.subs[id]
	wc.mu.Unlock()
	switch {
	case sub == nil:
		wc.reply(newError(id, wire.CodeBatchFetchFailed, "Subscription not found: "+short(id)))
		return
	case !sub.hasOpts:
		wc.reply(newError(id, wire.CodeBatchFetchFailed, "Subscription has no initial load"))
		return
	}
	sub.mu.Lock()
	state, end := sub.state, sub.end
	sub.mu.Unlock()
	if state != subLoading {
		wc.reply(newError(id, wire.CodeBatchFetchFailed, "Initial load already complete"))
		return
	}
	after := sub.lower
	if lastSeqID != nil {
		after = *lastSeqID
	}
	rows, err := s.db.Snapshot(sub.q, sub.sess, after, end, sub.batchSize+1)
	if err != nil {
		wc.reply(liveError(id, wire.CodeBatchFetchFailed, err))
		return
	}
	hasMore := len(rows) > sub.batchSize
	if hasMore {
		rows = rows[:sub.batchSize]
	}
	last, err := lastSeq(rows)
	if err != nil {
		wc.reply(newError(id, wire.CodeBatchFetchFailed, "Conversion error: "+err.Error()))
		return
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.state != subLoading {
		return
	}
	sub.batchNum++
	bc := batchControl(sub.batchNum, hasMore, last)
	wc.out.push(outItem{msgs: []any{newBatch(id, rows, bc)}})
	if !hasMore {
		sub.completeLocked()
	}
}

func (wc *wsConn) unsubscribe(id string) {
	wc.mu.Lock()
	sub := wc.subs[id]
	wc.mu.Unlock()
	if sub != nil {
		wc.removeSub(sub, true)
	}
}

// removeSub unregisters sub; release gives its per-user slot back.
func (wc *wsConn) removeSub(sub *subscription, release bool) {
	wc.mu.Lock()
	if wc.subs[sub.id] == sub {
		delete(wc.subs, sub.id)
	}
	wc.mu.Unlock()
	wc.s.hub.remove(sub)
	sub.mu.Lock()
	sub.state = subRemoved
	sub.buffered = nil
	sub.mu.Unlock()
	if release {
		wc.s.releaseSub(sub.sess.User)
	}
}

// completeLocked ends the initial load: the buffered changes newer than the
// snapshot go out in _seq order, right after the last batch, and live
// delivery starts. They go through the bounded outgoing queue like live
// changes; those that do not fit are handled by the overflow policy.
// Caller holds sub.mu.
func (sub *subscription) completeLocked() {
	if len(sub.buffered) > 0 {
		slices.SortStableFunc(sub.buffered, func(a, b bufferedChange) int {
			switch {
			case a.seq < b.seq:
				return -1
			case a.seq > b.seq:
				return 1
			}
			return 0
		})
		msgs := make([]any, 0, len(sub.buffered))
		seqs := make([]wire.SeqID, 0, len(sub.buffered))
		for _, b := range sub.buffered {
			if !sub.endKnown || b.seq > sub.end {
				msgs = append(msgs, b.msg)
				seqs = append(seqs, b.seq)
			}
		}
		wc := sub.conn
		n, closing := wc.out.pushNotifs(msgs, wc.s.cfg.OutgoingQueue)
		if !closing && n < len(msgs) {
			wc.overflowed(sub, dropFlush, seqs[n:])
		}
	}
	sub.buffered = nil
	sub.state = subLive
}

// deliver routes one committed change to sub. It runs on the hub goroutine.
func (sub *subscription) deliver(ch store.Change) {
	sub.mu.Lock()
	state, endKnown, end := sub.state, sub.endKnown, sub.end
	sub.mu.Unlock()
	if state == subRemoved || (state == subLoading && endKnown && ch.Seq <= end) {
		return
	}
	s := sub.conn.s
	msg, ok, err := s.db.Notify(sub.q, sub.sess, ch)
	if err != nil {
		s.log.Warn("kalamtest: building a change notification failed", "conn", sub.conn.id, "subscription", sub.id, "err", err)
		return
	}
	if !ok || msg == nil {
		return
	}
	m := *msg
	m.SubscriptionID = sub.id

	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.endKnown && ch.Seq <= sub.end {
		return // in the snapshot; the load may have finished during Notify
	}
	switch sub.state {
	case subLive:
		sub.conn.notify(sub, ch.Seq, &m)
	case subLoading:
		if lim := s.cfg.LoadingBuffer; lim >= 0 && len(sub.buffered) >= lim {
			oldest := sub.buffered[0].seq
			sub.buffered[0] = bufferedChange{}
			sub.buffered = sub.buffered[1:]
			s.stats.notificationsDropped.Add(1)
			s.drops.change(sub.conn.id, sub.sess.User, sub.id, dropLoadBuffer, oldest)
			if !sub.dropLog {
				sub.dropLog = true
				s.log.Warn("kalamtest: a loading subscription's change buffer is full; dropping the oldest",
					"conn", sub.conn.id, "subscription", sub.id, "buffer", lim)
			}
		}
		sub.buffered = append(sub.buffered, bufferedChange{seq: ch.Seq, msg: &m})
	}
}

// lastSeq returns the _seq of the last row, nil for no rows.
func lastSeq(rows []wire.Row) (*wire.SeqID, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	seq, ok, err := wire.RowSeq(rows[len(rows)-1])
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	return &seq, nil
}

// prepareError turns a PrepareLive error, which carries a WS code, into an
// error message.
func prepareError(id string, err error) *errorMessage {
	var se *store.Error
	if errors.As(err, &se) && se.Code != "" {
		return newError(id, se.Code, se.Message)
	}
	return liveError(id, wire.CodeSubscriptionFailed, err)
}

// liveError reports a failed snapshot query with code.
func liveError(id, code string, err error) *errorMessage {
	var se *store.Error
	if errors.As(err, &se) && se.Message != "" {
		return newError(id, code, se.Message)
	}
	return newError(id, code, "Subscription query failed")
}

// reserveSub takes a per-user subscription slot unless the user is at the
// cap. replacing means an existing subscription hands its slot over.
func (s *Server) reserveSub(user string, replacing bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if replacing {
		return true
	}
	if lim := s.cfg.MaxSubscriptionsPerUser; lim >= 0 && s.userSubs[user] >= lim {
		return false
	}
	s.userSubs[user]++
	return true
}

func (s *Server) releaseSub(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.userSubs[user] <= 1 {
		delete(s.userSubs, user)
		return
	}
	s.userSubs[user]--
}
