package kalamtest

import (
	"encoding/json"
	"slices"
	"sort"
	"sync"

	"github.com/kalamgo/kalam/transport/wire"
)

// DropReport is a snapshot of what KalamDB's limits made the server drop
// since start (or the last ResetDrops): change notifications a client
// never received, and client frames refused by the rate limit. It lets a
// test check that every change the server dropped was later repaired or
// reported by the client.
//
// Only connections that dropped something appear, ordered by connection
// number; their records outlive the connection. In JSON (GET
// /_kalamtest/drops) the _seq values are decimal strings, like _seq cells
// on the wire.
type DropReport struct {
	// Changes is the number of change notifications dropped, all reasons:
	// Queue + Flush + LoadBuffer.
	Changes int64 `json:"changes"`
	// Queue counts live changes that found the connection's outgoing
	// queue full (Config.OutgoingQueue).
	Queue int64 `json:"queue"`
	// Flush counts buffered changes of a completed load that did not fit
	// the outgoing queue.
	Flush int64 `json:"flush"`
	// LoadBuffer counts the oldest changes pushed out of a loading
	// subscription's buffer (Config.LoadingBuffer).
	LoadBuffer int64 `json:"load_buffer"`
	// RateLimited counts client text frames refused with
	// RATE_LIMIT_EXCEEDED (Config.MaxMessagesPerSec).
	RateLimited int64 `json:"rate_limited"`

	Connections []ConnectionDrops `json:"connections"`
}

// ConnectionDrops is one connection's share of a DropReport.
type ConnectionDrops struct {
	Conn uint64 `json:"conn"` // connection number, as in SubscriptionInfo
	User string `json:"user"` // empty if it was refused frames before authenticating
	Open bool   `json:"open"` // the connection is still open

	Changes     int64 `json:"changes"`
	Queue       int64 `json:"queue"`
	Flush       int64 `json:"flush"`
	LoadBuffer  int64 `json:"load_buffer"`
	RateLimited int64 `json:"rate_limited"`

	// Subscriptions that lost changes, ordered by id. A subscription id
	// reused on the same connection (unsubscribe, then subscribe again)
	// adds to the same record.
	Subscriptions []SubscriptionDrops `json:"subscriptions"`
}

// SubscriptionDrops says which changes of one subscription were dropped.
type SubscriptionDrops struct {
	ID string `json:"id"`

	Changes    int64 `json:"changes"`
	Queue      int64 `json:"queue"`
	Flush      int64 `json:"flush"`
	LoadBuffer int64 `json:"load_buffer"`

	// Seqs are the _seq values of the first MaxDropSeqs dropped changes,
	// in the order they were dropped (for a delete, the _seq of the
	// tombstone). All of them when Complete reports true.
	Seqs []wire.SeqID `json:"seqs"`
	// MinSeq and MaxSeq are the smallest and largest dropped _seq, whatever
	// the number of drops.
	MinSeq wire.SeqID `json:"min_seq"`
	MaxSeq wire.SeqID `json:"max_seq"`
}

// Complete reports whether Seqs lists every dropped change.
func (d SubscriptionDrops) Complete() bool { return int64(len(d.Seqs)) == d.Changes }

// MarshalJSON writes the _seq values as decimal strings.
func (d SubscriptionDrops) MarshalJSON() ([]byte, error) {
	type plain SubscriptionDrops
	seqs := make([]string, len(d.Seqs))
	for i, s := range d.Seqs {
		seqs[i] = s.String()
	}
	return json.Marshal(struct {
		plain
		Seqs   []string `json:"seqs"`
		MinSeq string   `json:"min_seq"`
		MaxSeq string   `json:"max_seq"`
	}{plain(d), seqs, d.MinSeq.String(), d.MaxSeq.String()})
}

// Seqs returns the _seq of every dropped change of the subscriptions with
// this id, over all connections (a client that reconnects keeps its ids),
// ascending. complete is false when a record held more than MaxDropSeqs
// drops, so that only the first ones are listed.
func (r DropReport) Seqs(id string) (seqs []wire.SeqID, complete bool) {
	complete = true
	for _, c := range r.Connections {
		for _, d := range c.Subscriptions {
			if d.ID == id {
				seqs = append(seqs, d.Seqs...)
				complete = complete && d.Complete()
			}
		}
	}
	slices.Sort(seqs)
	return seqs, complete
}

// Drops returns a snapshot of the drops so far.
func (s *Server) Drops() DropReport {
	s.mu.Lock()
	open := make(map[uint64]bool, len(s.ws))
	for c := range s.ws {
		open[c.id] = true
	}
	s.mu.Unlock()
	return s.drops.report(open)
}

// ResetDrops forgets every drop recorded so far. Stats keeps counting.
func (s *Server) ResetDrops() { s.drops.reset() }

type dropReason uint8

const (
	dropQueue dropReason = iota
	dropFlush
	dropLoadBuffer
	dropReasons
)

// dropLog records drops per connection and subscription. Records are made
// at the first drop, so a connection that drops nothing costs nothing.
type dropLog struct {
	mu    sync.Mutex
	conns map[uint64]*connDropRec
}

type connDropRec struct {
	user        string
	counts      [dropReasons]int64
	rateLimited int64
	subs        map[string]*subDropRec
}

type subDropRec struct {
	counts   [dropReasons]int64
	seqs     []wire.SeqID
	min, max wire.SeqID
}

func (l *dropLog) connLocked(conn uint64, user string) *connDropRec {
	if l.conns == nil {
		l.conns = make(map[uint64]*connDropRec)
	}
	c := l.conns[conn]
	if c == nil {
		c = &connDropRec{subs: make(map[string]*subDropRec)}
		l.conns[conn] = c
	}
	if user != "" {
		c.user = user
	}
	return c
}

// change records one dropped change of subscription sub.
func (l *dropLog) change(conn uint64, user, sub string, r dropReason, seq wire.SeqID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.connLocked(conn, user)
	c.counts[r]++
	rec := c.subs[sub]
	if rec == nil {
		rec = &subDropRec{min: seq, max: seq}
		c.subs[sub] = rec
	}
	rec.counts[r]++
	rec.min, rec.max = min(rec.min, seq), max(rec.max, seq)
	if len(rec.seqs) < MaxDropSeqs {
		rec.seqs = append(rec.seqs, seq)
	}
}

// rateLimited records one refused client frame.
func (l *dropLog) rateLimited(conn uint64, user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.connLocked(conn, user).rateLimited++
}

func (l *dropLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conns = nil
}

func (l *dropLog) report(open map[uint64]bool) DropReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := DropReport{Connections: make([]ConnectionDrops, 0, len(l.conns))}
	for id, c := range l.conns {
		cd := ConnectionDrops{
			Conn: id, User: c.user, Open: open[id],
			Queue: c.counts[dropQueue], Flush: c.counts[dropFlush], LoadBuffer: c.counts[dropLoadBuffer],
			RateLimited:   c.rateLimited,
			Subscriptions: make([]SubscriptionDrops, 0, len(c.subs)),
		}
		cd.Changes = cd.Queue + cd.Flush + cd.LoadBuffer
		for sid, rec := range c.subs {
			sd := SubscriptionDrops{
				ID:    sid,
				Queue: rec.counts[dropQueue], Flush: rec.counts[dropFlush], LoadBuffer: rec.counts[dropLoadBuffer],
				Seqs:   slices.Clone(rec.seqs),
				MinSeq: rec.min, MaxSeq: rec.max,
			}
			sd.Changes = sd.Queue + sd.Flush + sd.LoadBuffer
			cd.Subscriptions = append(cd.Subscriptions, sd)
		}
		sort.Slice(cd.Subscriptions, func(i, j int) bool { return cd.Subscriptions[i].ID < cd.Subscriptions[j].ID })
		r.Queue += cd.Queue
		r.Flush += cd.Flush
		r.LoadBuffer += cd.LoadBuffer
		r.RateLimited += cd.RateLimited
		r.Connections = append(r.Connections, cd)
	}
	r.Changes = r.Queue + r.Flush + r.LoadBuffer
	sort.Slice(r.Connections, func(i, j int) bool { return r.Connections[i].Conn < r.Connections[j].Conn })
	return r
}
