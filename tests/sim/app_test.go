package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/transport/wire"
)

// app models the application and the driver's per-subscription buffers
// (live.go): bounded event queues, Pause when one overflows, Resume once the
// consumer has caught up, consumers of different speeds.
type app struct {
	s        *Sim
	subs     map[string]*appSub
	order    []string
	nextSub  int
	nextQ    uint64
	pending  map[uint64]bool // accepted queries without QueryDone
	bulkDone bool
}

// window is a stretch of a subscription's history it may have missed:
// deletes with _seq in (lo, hi] (noDeletes), or every version at or below
// hi (broken: no position was known, or no initial load was asked for).
type window struct {
	lo, hi int64
	broken bool
}

type viewRow struct {
	v   string
	seq int64
}

type appSub struct {
	id    string
	sql   string
	table string
	grp   string
	opts  *wire.SubscriptionOptions
	floor int64 // options.from: nothing at or below it is ever delivered
	cap   int
	slow  bool

	// The driver's buffer (live.go).
	buf        []fsm.Event
	lagging    bool
	lastQueued wire.SeqID
	hasQueued  bool

	ended bool
	// What the consumer has built from the events: a view of the rows.
	view        map[int64]viewRow
	windows     []window
	interrupted bool    // paused or resumed: the exact change check does not apply
	started     bool    // EventSubscribed seen
	firstEnd    int64   // the first registration's snapshot end (or its _seq without a load)
	changeSeqs  []int64 // _seq of every change event consumed
}

var errSuspended = errors.New("sim: the application is suspended")

func newApp(s *Sim) *app {
	return &app{s: s, subs: map[string]*appSub{}, pending: map[uint64]bool{}}
}

// command feeds an application command and returns the engine's verdict.
func (a *app) command(in fsm.Input) error {
	if a.s.suspended() {
		return errSuspended // the application is frozen with the client
	}
	d, isDrain := in.(fsm.Drain)
	first := isDrain && !a.s.drainAsked
	if first {
		// Set before the step: a drain with nothing to wait for ends in it.
		a.s.drainAsked, a.s.drainDeadline = true, d.Deadline
	}
	err := a.s.step(in)
	if first && err != nil {
		a.s.drainAsked = false
	}
	return err
}

func (a *app) drain(d time.Duration) {
	if a.s.isClosed {
		return
	}
	if a.s.suspended() {
		a.s.at(a.s.suspendedUntil+time.Millisecond, func() { a.drain(d) })
		return
	}
	if a.s.rng.IntN(2) == 0 {
		for range 1 + a.s.rng.IntN(3) {
			a.query() // work in flight for the drain to wait for
		}
	}
	if a.command(fsm.Drain{Deadline: a.s.now + d}) == nil && a.s.rng.IntN(4) == 0 {
		a.s.after(a.s.jitter(d+time.Millisecond), func() {
			if !a.s.isClosed {
				a.command(fsm.Close{}) // the application gives up on the drain
			}
		})
	}
}

func (a *app) start() {
	if !a.s.k.hasProvider {
		a.pushToken()
	}
	var next func()
	next = func() {
		if a.s.isClosed || a.s.drainAsked || a.s.quiet {
			return
		}
		a.act()
		a.s.after(a.s.exp(a.s.k.appEvery), next)
	}
	a.s.after(a.s.exp(a.s.k.appEvery)/4, next)
	// Without a provider the application pushes tokens itself, on time or
	// late.
	if !a.s.k.hasProvider {
		var push func()
		push = func() {
			if a.s.isClosed || a.s.drainAsked {
				return
			}
			a.pushToken()
			every := a.s.k.tokenTTL / 3
			if !a.s.quiet && a.s.rng.IntN(4) == 0 {
				every = a.s.k.tokenTTL * 2 // late: the token runs out first
			}
			a.s.after(every, push)
		}
		a.s.after(a.s.k.tokenTTL/3, push)
	}
}

func (a *app) pushToken() {
	a.command(fsm.SetCredentials{Credentials: a.s.srv.login(false)})
}

var liveSQL = []string{
	"SELECT * FROM t", "SELECT * FROM t WHERE grp = 'a'", "SELECT * FROM app.u",
	"SELECT * FROM shop.t WHERE grp = 'b'", "SELECT * FROM app.t", "SELECT * FROM app.missing",
}

// act performs one random application action.
func (a *app) act() {
	s := a.s
	switch s.rng.IntN(20) {
	case 0, 1, 2, 3:
		if len(a.order) < 6 {
			a.subscribe(false)
		}
	case 4:
		if id := a.anySub(); id != "" {
			a.command(fsm.Unsubscribe{ID: id})
		}
	case 5:
		a.command(fsm.SetNamespace{Namespace: []string{"app", "shop", "app", "bad-ns"}[s.rng.IntN(4)]})
	case 6:
		if !s.k.hasProvider || s.rng.IntN(4) == 0 {
			c := s.srv.login(false)
			if s.rng.IntN(5) == 0 {
				s.srv.tokens[c.AccessToken.Reveal()].exp = 0 // pushed already dead
			}
			a.command(fsm.SetCredentials{Credentials: c})
		}
	case 7:
		a.command(fsm.FreshAuth{})
	case 8:
		a.command(fsm.Connect{})
	case 9:
		if s.rng.IntN(3) == 0 {
			a.command(fsm.Disconnect{})
		}
	case 10, 11, 12, 13, 14:
		a.query()
	case 15:
		if id := a.anySub(); id != "" {
			a.subs[id].slow = !a.subs[id].slow
		}
	case 16:
		if s.k.bulk && !a.bulkDone {
			// Many live queries in one loop: past KalamDB's 50 frames/s and,
			// sometimes, its 100 subscriptions per connection.
			a.bulkDone = true
			for range 40 + s.rng.IntN(90) {
				a.subscribe(true)
			}
			return
		}
		a.consumeSome()
	default:
		a.consumeSome()
	}
}

func (a *app) consumeSome() {
	for _, id := range slices.Clone(a.order) {
		a.consume(a.subs[id], 1+a.s.rng.IntN(3))
	}
}

func (a *app) anySub() string {
	if len(a.order) == 0 {
		return ""
	}
	return a.order[a.s.rng.IntN(len(a.order))]
}

// subscribe starts a live query with random options; in bulk (many at
// once), without a snapshot or with the default batch size: a hundred
// loads of a row per batch would take minutes at 50 frames/s.
func (a *app) subscribe(bulk bool) {
	s := a.s
	a.nextSub++
	id := "s" + strconv.Itoa(a.nextSub)
	sql := liveSQL[s.rng.IntN(len(liveSQL))]
	var opts *wire.SubscriptionOptions
	var floor int64
	switch k := s.rng.IntN(5); {
	case k == 0:
	case bulk:
		opts = &wire.SubscriptionOptions{}
	default:
		opts, floor = a.randomOpts(k)
	}
	a.register(id, sql, opts, floor)
}

func (a *app) randomOpts(k int) (opts *wire.SubscriptionOptions, floor int64) {
	s := a.s
	switch k {
	case 1:
		opts = &wire.SubscriptionOptions{}
	case 2:
		// Resume from a checkpoint the application stored earlier.
		floor = s.srv.seq - s.rng.Int64N(200)
		from := wire.SeqID(floor)
		opts = &wire.SubscriptionOptions{From: &from}
		if s.rng.IntN(2) == 0 {
			bs := 1 + s.rng.IntN(4)
			opts.BatchSize = &bs
		}
	default:
		bs := 1 + s.rng.IntN(4)
		opts = &wire.SubscriptionOptions{BatchSize: &bs}
	}
	return opts, floor
}

func (a *app) register(id, sql string, opts *wire.SubscriptionOptions, floor int64) {
	s := a.s
	wait := s.rng.IntN(2) == 0
	sub := &appSub{id: id, sql: sql, opts: opts, floor: floor, cap: 2 + s.rng.IntN(14), slow: s.rng.IntN(3) == 0, view: map[int64]viewRow{}}
	if floor != 0 {
		// Rows at or below the caller's starting point are not expected, nor
		// their deletes.
		sub.windows = append(sub.windows, window{hi: floor, broken: true})
	}
	a.subs[id] = sub
	a.order = append(a.order, id)
	if err := a.command(fsm.Subscribe{ID: id, SQL: sql, Options: opts, Wait: wait}); err != nil {
		a.remove(id)
		return
	}
	a.scheduleConsumer(sub)
}

func (a *app) remove(id string) {
	delete(a.subs, id)
	a.order = slices.DeleteFunc(a.order, func(x string) bool { return x == id })
}

func (a *app) query() {
	s := a.s
	a.nextQ++
	q := fsm.Query{ID: a.nextQ}
	tbl := []string{"t", "app.t", "shop.t", "u"}[s.rng.IntN(4)]
	switch s.rng.IntN(6) {
	case 0:
		q.SQL = "SELECT COUNT(*) FROM " + tbl
	case 1:
		q.SQL, q.Params = "INSERT INTO "+tbl+" (id, grp, v) VALUES ($1, 'a', 1)", []any{s.srv.nextID}
		s.srv.nextID++
	case 2:
		q.SQL, q.Params = "UPDATE "+tbl+" SET v = 1 WHERE id = $1", []any{int64(s.rng.Int64N(s.srv.nextID + 1))}
	case 3:
		q.SQL, q.Params = "DELETE FROM "+tbl+" WHERE id = $1", []any{int64(s.rng.Int64N(s.srv.nextID + 1))}
	case 4:
		q.SQL = "USE " + []string{"app", "shop"}[s.rng.IntN(2)]
	case 5:
		q.SQL, q.Namespace = "SELECT * FROM t", "shop"
	}
	if err := a.command(q); err == nil {
		a.pending[q.ID] = true
	}
}

func (a *app) queryDone(qd fsm.QueryDone) {
	a.s.chk.count("query_done_once")
	if !a.pending[qd.ID] {
		a.s.fail(fmt.Errorf("query_done_once: QueryDone for query %d that is not pending", qd.ID))
		return
	}
	delete(a.pending, qd.ID)
}

// deliver is live.go's deliver: buffer the event, or pause the
// subscription when the buffer is full.
func (a *app) deliver(d fsm.Deliver) {
	s := a.s
	sub := a.subs[d.Sub]
	s.chk.count("deliver_known_sub")
	if sub == nil || sub.ended {
		s.fail(fmt.Errorf("deliver_known_sub: %v event for subscription %q, which is unknown or has ended", d.Event.Kind, d.Sub))
		return
	}
	ev := d.Event
	switch ev.Kind {
	case fsm.EventEnded, fsm.EventError:
		sub.ended = true
		a.remove(d.Sub)
		return
	case fsm.EventSubscribed, fsm.EventResumed:
		s.chk.registration(s, sub, ev)
	}
	if sub.lagging {
		return // dropped: the resume after Resume replays it
	}
	if !s.chk.delivery(s, sub, ev) {
		return
	}
	if len(sub.buf) < sub.cap {
		sub.buf = append(sub.buf, ev)
		if len(ev.Rows) > 0 || len(ev.OldValues) > 0 {
			sub.lastQueued, sub.hasQueued = ev.Seq, true
		}
		return
	}
	sub.lagging = true
	sub.interrupted = true
	s.followups = append(s.followups, fsm.Pause{ID: sub.id, Position: sub.lastQueued, HasPosition: sub.hasQueued})
}

func (a *app) scheduleConsumer(sub *appSub) {
	s := a.s
	mean := 20 * time.Millisecond
	if sub.slow && !s.quiet {
		mean = 2 * time.Second
	}
	s.after(s.exp(mean), func() {
		if sub.ended && len(sub.buf) == 0 || s.isClosed {
			return
		}
		a.consume(sub, 1+s.rng.IntN(4))
		a.scheduleConsumer(sub)
	})
}

// consume takes up to n events from the buffer and applies them to the
// consumer's view; once the buffer is low a lagging subscription resumes.
func (a *app) consume(sub *appSub, n int) {
	if a.s.suspended() {
		return
	}
	for ; n > 0 && len(sub.buf) > 0; n-- {
		ev := sub.buf[0]
		sub.buf = sub.buf[1:]
		a.apply(sub, ev)
	}
	if sub.lagging && !sub.ended && len(sub.buf) <= sub.cap/4 && !a.s.isClosed {
		sub.lagging = false
		a.s.step(fsm.Resume{ID: sub.id})
	}
}

func (a *app) consumeAll() {
	for _, id := range slices.Clone(a.order) {
		if sub := a.subs[id]; sub != nil {
			a.consume(sub, len(sub.buf)+1)
		}
	}
}

type simRow struct {
	ID  string `json:"id"`
	V   string `json:"v"`
	Seq string `json:"_seq"`
}

func parseRow(r wire.Row) (id int64, v string, seq int64) {
	var x simRow
	_ = json.Unmarshal(r, &x)
	id, _ = strconv.ParseInt(x.ID, 10, 64)
	seq, _ = strconv.ParseInt(x.Seq, 10, 64)
	return id, x.V, seq
}

func (a *app) apply(sub *appSub, ev fsm.Event) {
	switch ev.Kind {
	case fsm.EventSnapshot, fsm.EventInsert, fsm.EventUpdate:
		for _, r := range ev.Rows {
			id, v, seq := parseRow(r)
			sub.view[id] = viewRow{v: v, seq: seq}
			if ev.Kind != fsm.EventSnapshot {
				sub.changeSeqs = append(sub.changeSeqs, seq)
			}
		}
	case fsm.EventDelete:
		for _, r := range ev.OldValues {
			id, _, seq := parseRow(r)
			delete(sub.view, id)
			sub.changeSeqs = append(sub.changeSeqs, seq)
		}
	}
}

// heal is the application restoring everything at the start of
// quiescence: online, a namespace, credentials, the socket wanted, every
// consumer fast.
func (a *app) heal() {
	s := a.s
	s.step(fsm.NetworkChanged{Online: true})
	if s.eng.Namespace() == "" {
		a.command(fsm.SetNamespace{Namespace: "app"})
	}
	if s.k.hasProvider {
		a.command(fsm.FreshAuth{})
	} else {
		a.pushToken()
	}
	a.command(fsm.Connect{})
	for _, id := range a.order {
		a.subs[id].slow = false
	}
	// An application that watches the state: credentials lost (a provider
	// answer decided during the faults may still fail) are asked for again.
	var watch func()
	watch = func() {
		if s.isClosed || s.drainAsked {
			return
		}
		if s.eng.State() == fsm.StateUnauthed {
			if s.k.hasProvider {
				a.command(fsm.FreshAuth{})
			} else {
				a.pushToken()
			}
		}
		s.after(5*time.Second, watch)
	}
	s.after(5*time.Second, watch)
}
