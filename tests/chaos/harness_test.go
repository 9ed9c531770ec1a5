package chaos

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/kalamtest"
	"github.com/kalamgo/kalam/kalamtest/faultproxy"
	"github.com/kalamgo/kalam/transport/wire"
)

const alicePassword = "Chaos-Alice-Pass-1"

// Timings of every subscriber client. The pong timeout leaves room for the
// 300 ms-per-chunk latency of S22 on a busy two-core machine.
const (
	backoffMin     = 20 * time.Millisecond
	backoffMax     = 200 * time.Millisecond
	pingInterval   = 500 * time.Millisecond
	pongTimeout    = 1500 * time.Millisecond
	connectTimeout = 3 * time.Second
	// margin is what a bound on a reaction time allows for scheduling on a
	// loaded machine under -race.
	margin = 2 * time.Second
	// scenarioDeadline bounds every wait of one scenario.
	scenarioDeadline = 60 * time.Second
)

// Driver runs the subscriber side of the scenarios.
type Driver struct {
	Name string
	// Configure adjusts every subscriber client's Config after the
	// scenario's own settings (the wazero driver sets Config.Engine). Nil
	// keeps the native engine.
	Configure func(tb testing.TB, cfg *kalam.Config)
	// CoreOnly limits the driver to the scenarios marked core.
	CoreOnly bool
}

// drivers lists the subscriber drivers TestChaos runs. Files of other
// drivers append to it from init.
var drivers = []Driver{{Name: "native"}}

// world is one scenario's setup: a server, a proxy in front of it for the
// subscribers, and a writer acting on the server directly.
type world struct {
	t     testing.TB
	drv   Driver
	srv   *kalamtest.Server
	proxy *faultproxy.Proxy
	url   string // what subscribers dial: the proxy
	ctx   context.Context

	mu       sync.Mutex
	restores []time.Time
	cols     []*collector
}

func newWorld(t testing.TB, drv Driver, cfg kalamtest.Config) *world {
	t.Helper()
	cfg.Users = append(cfg.Users, kalamtest.User{Name: "alice", Password: alicePassword, Role: "user"})
	srv := kalamtest.NewServer(t, cfg)
	p, err := faultproxy.New(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), scenarioDeadline)
	t.Cleanup(cancel)
	w := &world{t: t, drv: drv, srv: srv, proxy: p, url: "http://" + p.Addr(), ctx: ctx}
	w.root("CREATE NAMESPACE app")
	return w
}

func (w *world) root(sql string) {
	w.t.Helper()
	if _, err := w.srv.Exec(context.Background(), "root", sql); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
}

// table creates the user table app.<name> (id BIGINT PRIMARY KEY, v TEXT).
func (w *world) table(name string) string {
	w.t.Helper()
	w.root("CREATE USER TABLE app." + name + " (id BIGINT PRIMARY KEY, v TEXT)")
	return name
}

// exec runs sql as alice straight on the server. It may be called from any
// goroutine: a failure is reported with Errorf.
func (w *world) exec(sql string, params ...any) bool {
	if _, err := w.srv.Exec(context.Background(), "alice", sql, params...); err != nil {
		w.t.Errorf("%s: %v", sql, err)
		return false
	}
	return true
}

// insert writes rows with the given ids into app.<table>, in one statement.
func (w *world) insert(table string, ids ...int) {
	w.t.Helper()
	if len(ids) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO app.%s (id, v) VALUES ", table)
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "(%d, 'v%d')", id, id)
	}
	if !w.exec(b.String()) {
		w.t.FailNow()
	}
}

// maxSeq is the checkpoint C: the largest _seq among app.<table>'s rows.
func (w *world) maxSeq(table string) wire.SeqID {
	w.t.Helper()
	res, err := w.srv.Exec(context.Background(), "alice", "SELECT _seq FROM app."+table)
	if err != nil {
		w.t.Fatal(err)
	}
	var m wire.SeqID
	for _, r := range res.Results {
		for _, row := range r.Rows {
			if len(row) == 0 {
				continue
			}
			var s any
			if err := json.Unmarshal(row[0], &s); err != nil {
				w.t.Fatal(err)
			}
			n, err := strconv.ParseInt(fmt.Sprint(s), 10, 64)
			if err != nil {
				w.t.Fatalf("_seq cell %s: %v", row[0], err)
			}
			m = max(m, wire.SeqID(n))
		}
	}
	return m
}

// restore marks the moment a fault is cleared (for the resume times) and
// clears it.
func (w *world) restore(clear func()) {
	w.mu.Lock()
	w.restores = append(w.restores, time.Now())
	w.mu.Unlock()
	clear()
}

// counters observe one client's lifecycle. disconnects counts every
// ConnectionEvent that is not Connected; lost counts those that end a
// connection reported as Connected.
type counters struct {
	connects, disconnects, lost atomic.Int64
	up                          atomic.Bool
	mu                          sync.Mutex
	transitions                 []kalam.Transition
	connEvents                  []kalam.ConnectionEvent
	connTimes                   []time.Time
	state                       kalam.State
	errs                        []error
}

func (c *counters) path() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for i, tr := range c.transitions {
		if i > 0 {
			b.WriteString(">")
		}
		b.WriteString(tr.To.String())
	}
	return b.String()
}

func (c *counters) current() kalam.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

func (c *counters) reached(s kalam.State) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, tr := range c.transitions {
		if tr.To == s {
			return true
		}
	}
	return false
}

// baseConfig is a subscriber client's configuration through the proxy.
func (w *world) baseConfig() kalam.Config {
	return kalam.Config{
		URL:            w.url,
		Auth:           auth.Basic("alice", alicePassword),
		Namespace:      "app",
		BackoffMin:     backoffMin,
		BackoffMax:     backoffMax,
		PingInterval:   pingInterval,
		PongTimeout:    pongTimeout,
		ConnectTimeout: connectTimeout,
		Seed:           1,
	}
}

// client builds a subscriber through the proxy; it closes at cleanup.
func (w *world) client(mod func(*kalam.Config)) (*kalam.Client, *counters) {
	w.t.Helper()
	cfg := w.baseConfig()
	if mod != nil {
		mod(&cfg)
	}
	cs := &counters{}
	userState, userConn, userErr := cfg.OnStateChange, cfg.OnConnection, cfg.OnError
	cfg.OnStateChange = func(tr kalam.Transition) {
		cs.mu.Lock()
		cs.transitions = append(cs.transitions, tr)
		cs.state = tr.To
		cs.mu.Unlock()
		if userState != nil {
			userState(tr)
		}
	}
	cfg.OnConnection = func(ev kalam.ConnectionEvent) {
		cs.mu.Lock()
		cs.connEvents = append(cs.connEvents, ev)
		cs.connTimes = append(cs.connTimes, time.Now())
		cs.mu.Unlock()
		if ev.Connected {
			cs.connects.Add(1)
			cs.up.Store(true)
		} else {
			cs.disconnects.Add(1)
			if cs.up.Swap(false) {
				cs.lost.Add(1)
			}
		}
		if userConn != nil {
			userConn(ev)
		}
	}
	cfg.OnError = func(err error, recoverable bool) {
		cs.mu.Lock()
		cs.errs = append(cs.errs, err)
		cs.mu.Unlock()
		if userErr != nil {
			userErr(err, recoverable)
		}
	}
	if w.drv.Configure != nil {
		w.drv.Configure(w.t, &cfg)
	}
	c, err := kalam.New(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { c.Close() })
	return c, cs
}

// live starts a live query and collects its events.
func (w *world) live(c *kalam.Client, sql string, opts kalam.LiveOptions) *collector {
	w.t.Helper()
	sub, err := c.Live(w.ctx, sql, opts)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			// The client's loop never took the command: show where it is.
			buf := make([]byte, 4<<20)
			w.t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
		}
		w.t.Fatalf("Live(%s): %v", sql, err)
	}
	col := collect(w.ctx, sub)
	w.mu.Lock()
	w.cols = append(w.cols, col)
	w.mu.Unlock()
	return col
}

// waitUntil polls cond until it holds or the scenario's deadline passes.
func (w *world) waitUntil(what string, cond func() bool, dump func() string) {
	w.t.Helper()
	for !cond() {
		select {
		case <-w.ctx.Done():
			extra := ""
			if dump != nil {
				extra = ": " + dump()
			}
			w.t.Fatalf("timed out waiting for %s%s", what, extra)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (w *world) waitState(cs *counters, s kalam.State) {
	w.t.Helper()
	w.waitUntil("state "+s.String(), func() bool { return cs.current() == s }, cs.path)
}

func (w *world) waitConnects(cs *counters, n int64) {
	w.t.Helper()
	w.waitUntil(fmt.Sprintf("%d connects", n), func() bool { return cs.connects.Load() >= n }, cs.path)
}

func (w *world) waitDisconnects(cs *counters, n int64) {
	w.t.Helper()
	w.waitUntil(fmt.Sprintf("%d lost connections", n), func() bool { return cs.lost.Load() >= n }, cs.path)
}

// stamped is an event with the time the consumer received it.
type stamped struct {
	kalam.Event
	at time.Time
}

// collector reads a subscription's events on its own goroutine.
type collector struct {
	sub    *kalam.Subscription
	mu     sync.Mutex
	events []stamped
	err    error
	done   chan struct{}
	notify chan struct{}
}

func collect(ctx context.Context, sub *kalam.Subscription) *collector {
	c := &collector{sub: sub, done: make(chan struct{}), notify: make(chan struct{}, 1)}
	go func() {
		defer close(c.done)
		for ev, err := range sub.Events(ctx) {
			c.mu.Lock()
			if err != nil {
				c.err = err
			} else {
				c.events = append(c.events, stamped{ev, time.Now()})
			}
			c.mu.Unlock()
			select {
			case c.notify <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return c
}

func (c *collector) all() []stamped {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.events)
}

func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.events)
}

// rowsOf lists the rows an event carries: new rows for snapshot batches,
// inserts and updates, the old row for deletes.
func rowsOf(ev kalam.Event) []kalam.Row {
	switch ev.Kind {
	case kalam.EventSnapshot, kalam.EventInsert, kalam.EventUpdate:
		return ev.Rows
	case kalam.EventDelete:
		return ev.Old
	}
	return nil
}

func rowID(r kalam.Row) int {
	n, err := r.Get("id").Int64()
	if err != nil {
		return -1
	}
	return int(n)
}

// added lists, in delivery order, the ids of rows added by snapshot
// batches and inserts.
func added(evs []stamped) []int {
	var out []int
	for _, ev := range evs {
		if ev.Kind == kalam.EventSnapshot || ev.Kind == kalam.EventInsert {
			for _, r := range ev.Rows {
				out = append(out, rowID(r))
			}
		}
	}
	return out
}

func describe(evs []stamped) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "%v(", ev.Kind)
		for _, r := range rowsOf(ev.Event) {
			s, _ := r.Seq()
			fmt.Fprintf(&b, "%d@%d,", rowID(r), s)
		}
		b.WriteString(") ")
	}
	return b.String()
}

func (c *collector) describe() string {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	return fmt.Sprintf("err=%v events: %s", err, describe(c.all()))
}

// has reports whether every id was added.
func (c *collector) has(ids ...int) bool {
	got := map[int]bool{}
	for _, id := range added(c.all()) {
		got[id] = true
	}
	for _, id := range ids {
		if !got[id] {
			return false
		}
	}
	return true
}

// waitIDs waits until every id was added.
func (w *world) waitIDs(c *collector, ids ...int) {
	w.t.Helper()
	w.waitUntil(fmt.Sprintf("ids %v", ids), func() bool { return c.has(ids...) }, c.describe)
}

// waitSnapshot waits for the final batch of the first snapshot.
func (w *world) waitSnapshot(c *collector) {
	w.t.Helper()
	w.waitUntil("the snapshot's last batch", func() bool {
		for _, ev := range c.all() {
			if ev.Kind == kalam.EventSnapshot && ev.Last {
				return true
			}
		}
		return false
	}, c.describe)
}

// waitPosition waits until the subscription's position reaches seq.
func (w *world) waitPosition(c *collector, seq wire.SeqID) {
	w.t.Helper()
	w.waitUntil(fmt.Sprintf("position %d", seq), func() bool {
		p, ok := c.sub.Position()
		return ok && p >= seq
	}, c.describe)
}

// checkStrict asserts the strict bar on everything the subscription
// delivered: _seq strictly increasing, no duplicate _seq, and the ids added
// by snapshots and inserts are exactly want (as a multiset: each once).
func (w *world) checkStrict(c *collector, want ...int) {
	w.t.Helper()
	evs := c.all()
	var last wire.SeqID
	seen := map[wire.SeqID]bool{}
	for _, ev := range evs {
		for _, r := range rowsOf(ev.Event) {
			s, ok := r.Seq()
			if !ok {
				w.t.Fatalf("a row without _seq: %s", describe(evs))
			}
			if s <= last || seen[s] {
				w.t.Fatalf("_seq %d delivered after %d: %s", s, last, describe(evs))
			}
			seen[s], last = true, s
		}
	}
	got := added(evs)
	sort.Ints(got)
	want = slices.Clone(want)
	sort.Ints(want)
	if !slices.Equal(got, want) {
		w.t.Fatalf("added ids %v, want each of %v exactly once: %s", got, want, describe(evs))
	}
}

// checkAfter asserts that nothing delivered from event index from on is
// at or below the checkpoint.
func (w *world) checkAfter(c *collector, from int, checkpoint wire.SeqID) {
	w.t.Helper()
	evs := c.all()
	for _, ev := range evs[min(from, len(evs)):] {
		for _, r := range rowsOf(ev.Event) {
			if s, _ := r.Seq(); s <= checkpoint {
				w.t.Fatalf("row %d@%d replayed at or below the checkpoint %d: %s", rowID(r), s, checkpoint, describe(evs))
			}
		}
	}
}

// ---- resume times ----

// resumeTime is one scenario's measured recovery after its last restore:
// to the subscription's re-acknowledgement and to its first row.
type resumeTime struct {
	live, row time.Duration
	ok        bool
}

// resumeOf measures, over the world's subscriptions, the slowest recovery
// after the last restore.
func (w *world) resumeOf() resumeTime {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.restores) == 0 {
		return resumeTime{}
	}
	mark := w.restores[len(w.restores)-1]
	rt := resumeTime{live: -1, row: -1}
	for _, c := range w.cols {
		var live, row time.Duration = -1, -1
		for _, ev := range c.all() {
			if ev.at.Before(mark) {
				continue
			}
			if live < 0 && (ev.Kind == kalam.EventResumed || ev.Kind == kalam.EventSubscribed) {
				live = ev.at.Sub(mark)
			}
			if row < 0 && len(rowsOf(ev.Event)) > 0 {
				row = ev.at.Sub(mark)
			}
		}
		if live < 0 && row < 0 {
			continue
		}
		rt.ok = true
		rt.live, rt.row = max(rt.live, live), max(rt.row, row)
	}
	return rt
}

var (
	resumeMu    sync.Mutex
	resumeTable = map[string]resumeTime{}
)

func recordResume(name string, rt resumeTime) {
	resumeMu.Lock()
	resumeTable[name] = rt
	resumeMu.Unlock()
}

func resumeReport() string {
	resumeMu.Lock()
	defer resumeMu.Unlock()
	names := make([]string, 0, len(resumeTable))
	for n := range resumeTable {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-48s %14s %14s\n", "scenario", "→ resumed ms", "→ first row ms")
	ms := func(d time.Duration) string {
		if d < 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))
	}
	for _, n := range names {
		rt := resumeTable[n]
		if !rt.ok {
			continue
		}
		fmt.Fprintf(&b, "%-48s %14s %14s\n", n, ms(rt.live), ms(rt.row))
	}
	return b.String()
}

// ---- WebSocket frame tap ----

// frame is one server→client WebSocket message as the tap saw it.
type frame struct {
	Type string `json:"type"`
	Sub  string `json:"subscription_id"`
}

// frameTap follows the server→client byte stream of every proxied
// WebSocket connection, splits it into frames (gunzipping binary ones) and
// asks on whether to cut the connection right after each message. It lets a
// scenario place a fault at an exact point of the protocol. Connections are
// numbered by their upgrade request (1 for the first WebSocket); plain HTTP
// traffic passes untouched. onUpgrade, when set, sees every upgrade request
// first and may cut it before it reaches the server.
type frameTap struct {
	mu        sync.Mutex
	conns     map[int]*frameStream
	upgrades  int
	on        func(ws int, f frame) (cut bool)
	onUpgrade func(ws int) (cut bool)
}

type frameStream struct {
	ws   int  // upgrade ordinal; 0 while the connection is plain HTTP
	body bool // past the upgrade response
	buf  []byte
}

func newFrameTap(on func(ws int, f frame) bool) *frameTap {
	return &frameTap{conns: map[int]*frameStream{}, on: on}
}

func (ft *frameTap) tap(conn int, dir faultproxy.Direction, chunk []byte) (int, bool) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	st := ft.conns[conn]
	if st == nil {
		st = &frameStream{}
		ft.conns[conn] = st
	}
	if dir == faultproxy.ClientToServer {
		// An HTTP/1.1 client sends a request only after reading the
		// previous response, so what comes back next is the upgrade.
		if st.ws == 0 && bytes.HasPrefix(chunk, []byte("GET /v1/ws")) {
			ft.upgrades++
			st.ws = ft.upgrades
			if ft.onUpgrade != nil && ft.onUpgrade(st.ws) {
				return 0, true
			}
		}
		return len(chunk), false
	}
	if st.ws == 0 || ft.on == nil {
		return len(chunk), false
	}
	prev := len(st.buf)
	st.buf = append(st.buf, chunk...)
	off := 0
	if !st.body {
		i := bytes.Index(st.buf, []byte("\r\n\r\n"))
		if i < 0 {
			return len(chunk), false
		}
		st.body, off = true, i+4
	}
	for {
		n, op, payload, ok := parseFrame(st.buf[off:])
		if !ok {
			break
		}
		off += n
		if op != 1 && op != 2 {
			continue
		}
		var f frame
		json.Unmarshal(inflate(payload), &f)
		if ft.on(st.ws, f) {
			st.buf = nil
			return off - prev, true
		}
	}
	st.buf = append([]byte(nil), st.buf[off:]...)
	return len(chunk), false
}

// parseFrame splits one complete frame off b.
func parseFrame(b []byte) (n int, op byte, payload []byte, ok bool) {
	if len(b) < 2 {
		return 0, 0, nil, false
	}
	op = b[0] & 0x0f
	masked := b[1]&0x80 != 0
	size := uint64(b[1] & 0x7f)
	h := 2
	switch size {
	case 126:
		if len(b) < 4 {
			return 0, 0, nil, false
		}
		size, h = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return 0, 0, nil, false
		}
		size, h = binary.BigEndian.Uint64(b[2:]), 10
	}
	var key []byte
	if masked {
		if len(b) < h+4 {
			return 0, 0, nil, false
		}
		key, h = b[h:h+4], h+4
	}
	if uint64(len(b)-h) < size {
		return 0, 0, nil, false
	}
	payload = slices.Clone(b[h : h+int(size)])
	for i := range payload {
		if key != nil {
			payload[i] ^= key[i%4]
		}
	}
	return h + int(size), op, payload, true
}

func inflate(p []byte) []byte {
	if len(p) < 2 || p[0] != 0x1f || p[1] != 0x8b {
		return p
	}
	zr, err := gzip.NewReader(bytes.NewReader(p))
	if err != nil {
		return p
	}
	out, err := io.ReadAll(io.LimitReader(zr, 16<<20))
	if err != nil {
		return p
	}
	return out
}

// seq builds ids from..to inclusive.
func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func cat(parts ...[]int) []int { return slices.Concat(parts...) }

// each runs f for each id: one statement per row.
func (w *world) insertEach(table string, ids []int) {
	w.t.Helper()
	for _, id := range ids {
		w.insert(table, id)
	}
}

// goToolchain finds the go command and its GOROOT: the go on PATH (the one
// running `go test`), and what it reports as its root.
func goToolchain() (goCmd, root string) {
	goCmd = "go"
	if p, err := exec.LookPath("go"); err == nil {
		goCmd = p
	}
	if out, err := exec.Command(goCmd, "env", "GOROOT").Output(); err == nil {
		root = strings.TrimSpace(string(out))
	}
	return goCmd, root
}
