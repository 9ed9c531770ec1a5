package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/kalamtest"
	"github.com/kalamgo/kalam/transport/wire"
)

// Scenarios 34–37b: KalamDB's limits, as kalamtest models them by default
// (a 128-change outgoing queue that drops silently, a 1,024-change buffer
// per loading subscription that drops the oldest, 50 text frames/s, 100
// subscriptions per connection and per user). What the server drops, the
// client must repair (inserts and updates) or report (deletes), and the
// server's drop report says exactly what it dropped.
func init() {
	scenarios = append(scenarios,
		scenario{name: "S34_BurstsUnderDefaultLimits", run: s34},
		scenario{name: "S35_LoadingBufferOverflow", run: s35},
		scenario{name: "S36_ManySubscriptionsAndACut", run: s36},
		scenario{name: "S37b_BandwidthBelowWriteRate", run: s37b},
	)
}

// ---- a consumer slower than the writer ----

// pace makes a consumer about 20% slower than the writer: each row it
// takes costs 1.25 times what writing one row last cost. The consumer
// sleeps only once it is 2 ms ahead, so timer granularity does not slow it
// further.
type pace struct {
	perRow atomic.Int64 // nanoseconds the writer spent per row, latest statement
	next   time.Time    // consumer-owned: when its work so far is done
}

func (p *pace) wrote(rows int, took time.Duration) {
	if rows > 0 {
		p.perRow.Store(int64(took) / int64(rows))
	}
}

func (p *pace) consume(rows int) {
	cost := time.Duration(p.perRow.Load()*int64(rows)) * 5 / 4
	if cost <= 0 {
		return
	}
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	p.next = p.next.Add(cost)
	if d := p.next.Sub(now); d > 2*time.Millisecond {
		time.Sleep(d)
	}
}

// ---- tracking what one subscription delivered ----

// report is a resume that said something may be missing.
type report struct {
	index int // event index
	from  wire.SeqID
	cont  kalam.Continuity
	err   error
}

// tracker follows one subscription incrementally (the bursts are too large
// to rescan on every poll): the _seq of every row version delivered, the
// ids deleted, the resumes that reported a possible loss, and the first
// breach of strict _seq order.
type tracker struct {
	mu      sync.Mutex
	n       int // events
	rows    int // row versions delivered
	last    wire.SeqID
	breach  string
	seqs    map[wire.SeqID]int // _seq → id of every row version delivered
	deleted map[int]int        // id → deletes delivered
	reports []report
	resumes int
	err     error
	done    chan struct{}
}

func track(ctx context.Context, sub *kalam.Subscription, p *pace) *tracker {
	tr := &tracker{seqs: map[wire.SeqID]int{}, deleted: map[int]int{}, done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		for ev, err := range sub.Events(ctx) {
			if err != nil {
				tr.mu.Lock()
				tr.err = err
				tr.mu.Unlock()
				return
			}
			tr.add(ev)
			if p != nil {
				p.consume(max(1, len(rowsOf(ev))))
			}
		}
	}()
	return tr
}

func (tr *tracker) add(ev kalam.Event) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if ev.Kind == kalam.EventResumed {
		tr.resumes++
		if ev.Continuity != kalam.ContinuityFull {
			tr.reports = append(tr.reports, report{index: tr.n, from: ev.From, cont: ev.Continuity, err: ev.Err})
		}
	}
	for _, r := range rowsOf(ev) {
		s, ok := r.Seq()
		if !ok {
			tr.breachf("a row without _seq in %v", ev.Kind)
			continue
		}
		if s <= tr.last {
			tr.breachf("_seq %d (%v of id %d) delivered after %d", s, ev.Kind, rowID(r), tr.last)
		}
		if _, dup := tr.seqs[s]; dup {
			tr.breachf("_seq %d delivered twice", s)
		}
		tr.last = max(tr.last, s)
		tr.seqs[s] = rowID(r)
		tr.rows++
		if ev.Kind == kalam.EventDelete {
			tr.deleted[rowID(r)]++
		}
	}
	tr.n++
}

func (tr *tracker) breachf(format string, args ...any) {
	if tr.breach == "" {
		tr.breach = fmt.Sprintf(format, args...)
	}
}

// index is the number of events so far: the index of the next one.
func (tr *tracker) index() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.n
}

// missing counts the wanted _seq values not delivered.
func (tr *tracker) missing(want map[wire.SeqID]int) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for s := range want {
		if _, ok := tr.seqs[s]; !ok {
			n++
		}
	}
	return n
}

// reportedSince returns the first report at or after event index from.
func (tr *tracker) reportedSince(from int) (report, bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, r := range tr.reports {
		if r.index >= from {
			return r, true
		}
	}
	return report{}, false
}

func (tr *tracker) summary() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return fmt.Sprintf("%d events, %d row versions, %d deletes, %d resumes (%d reporting a possible loss), err=%v, breach=%q",
		tr.n, tr.rows, len(tr.deleted), tr.resumes, len(tr.reports), tr.err, tr.breach)
}

// seqsOf reads id → _seq of every row of app.<table>.
func (w *world) seqsOf(table string) map[wire.SeqID]int {
	w.t.Helper()
	res, err := w.srv.Exec(context.Background(), "alice", "SELECT id, _seq FROM app."+table)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[wire.SeqID]int{}
	for _, r := range res.Results {
		for _, row := range r.Rows {
			var id, s any
			if len(row) < 2 || json.Unmarshal(row[0], &id) != nil || json.Unmarshal(row[1], &s) != nil {
				w.t.Fatalf("row %v", row)
			}
			n, err1 := strconv.ParseInt(fmt.Sprint(id), 10, 64)
			q, err2 := strconv.ParseInt(fmt.Sprint(s), 10, 64)
			if err1 != nil || err2 != nil {
				w.t.Fatalf("row %s", row)
			}
			out[wire.SeqID(q)] = int(n)
		}
	}
	return out
}

func dropSummary(d kalamtest.DropReport) string {
	return fmt.Sprintf("server dropped %d changes (queue %d, flush %d, loading buffer %d), refused %d frames",
		d.Changes, d.Queue, d.Flush, d.LoadBuffer, d.RateLimited)
}

// droppedSeqs lists every _seq the server says it dropped; complete is
// false when a record kept only the first of them.
func droppedSeqs(d kalamtest.DropReport) (seqs []wire.SeqID, complete bool) {
	complete = true
	for _, c := range d.Connections {
		for _, s := range c.Subscriptions {
			seqs = append(seqs, s.Seqs...)
			complete = complete && s.Complete()
		}
	}
	return seqs, complete
}

// writeRange runs one statement per chunk of ids [1, n] and tells the pace
// what each row cost.
func (w *world) writeRange(p *pace, n, chunk int, stmt func(lo, hi int) string) {
	w.t.Helper()
	for lo := 1; lo <= n; lo += chunk {
		hi := min(lo+chunk-1, n)
		start := time.Now()
		if !w.exec(stmt(lo, hi)) {
			w.t.FailNow()
		}
		p.wrote(hi-lo+1, time.Since(start))
	}
}

func insertStmt(table string) func(lo, hi int) string {
	return func(lo, hi int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "INSERT INTO app.%s (id, v) VALUES ", table)
		for id := lo; id <= hi; id++ {
			if id > lo {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "(%d, 'v%d')", id, id)
		}
		return b.String()
	}
}

// ---- S34 ----

// S34: bursts of burstRows inserts, then as many updates, then as many
// deletes, against the default limits, with a consumer about 20% slower
// than the writer. Every insert and update arrives exactly once, in _seq
// order; every delete is delivered or reported by a resume saying deletes
// may be missing; every change the server dropped is among them.
func s34(w *world) {
	tb := w.table("items")
	c, _ := w.client(nil) // the defaults: BufferBytes and the engine's
	sub, err := c.Live(w.ctx, "SELECT * FROM items", kalam.LiveOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	p := &pace{}
	tr := track(w.ctx, sub, p)
	w.waitUntil("the (empty) snapshot", func() bool { return tr.index() >= 2 }, tr.summary)
	const chunk = 100
	start := time.Now()

	// Inserts.
	w.writeRange(p, burstRows, chunk, insertStmt(tb))
	inserts := w.seqsOf(tb)
	w.waitUntil(fmt.Sprintf("all %d inserts", burstRows), func() bool { return tr.missing(inserts) == 0 }, func() string {
		return fmt.Sprintf("%d inserts missing; %s; %s", tr.missing(inserts), tr.summary(), dropSummary(w.srv.Drops()))
	})
	afterInserts := time.Since(start)

	// Updates.
	w.writeRange(p, burstRows, chunk, func(lo, hi int) string {
		return fmt.Sprintf("UPDATE app.%s SET v = 'u' WHERE id >= %d AND id <= %d", tb, lo, hi)
	})
	updates := w.seqsOf(tb)
	w.waitUntil(fmt.Sprintf("all %d updates", burstRows), func() bool { return tr.missing(updates) == 0 }, func() string {
		return fmt.Sprintf("%d updates missing; %s; %s", tr.missing(updates), tr.summary(), dropSummary(w.srv.Drops()))
	})
	afterUpdates := time.Since(start)

	// Deletes.
	deletesFrom := tr.index()
	w.writeRange(p, burstRows, chunk, func(lo, hi int) string {
		return fmt.Sprintf("DELETE FROM app.%s WHERE id >= %d AND id <= %d", tb, lo, hi)
	})
	deletedOrReported := func() bool {
		if _, ok := tr.reportedSince(deletesFrom); ok {
			return true
		}
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return len(tr.deleted) == burstRows
	}
	w.waitUntil("every delete delivered or reported", deletedOrReported, func() string {
		return tr.summary() + "; " + dropSummary(w.srv.Drops())
	})

	tr.mu.Lock()
	breach, terr := tr.breach, tr.err
	tr.mu.Unlock()
	if breach != "" || terr != nil {
		w.t.Fatalf("strict order: %s; error %v", breach, terr)
	}
	drops := w.srv.Drops()
	w.checkDropsCovered(tr, drops, inserts, updates, deletesFrom)
	w.t.Logf("S34: %d rows ×3 in %v (inserts %v, updates %v); %s; %s",
		burstRows, time.Since(start).Round(time.Millisecond), afterInserts.Round(time.Millisecond),
		(afterUpdates - afterInserts).Round(time.Millisecond), tr.summary(), dropSummary(drops))
}

// checkDropsCovered asserts that every change the server dropped was
// delivered later (inserts and updates: a replay brought it) or, for a
// delete, reported by a resume from a position below it.
func (w *world) checkDropsCovered(tr *tracker, d kalamtest.DropReport, inserts, updates map[wire.SeqID]int, deletesFrom int) {
	w.t.Helper()
	seqs, complete := droppedSeqs(d)
	if !complete {
		w.t.Logf("the drop report keeps the first %d _seq values per subscription; checking those", kalamtest.MaxDropSeqs)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	unrepaired := 0
	for _, s := range seqs {
		_, ins := inserts[s]
		_, upd := updates[s]
		if ins || upd {
			if _, ok := tr.seqs[s]; !ok {
				unrepaired++
			}
			continue
		}
		reported := false
		for _, r := range tr.reports {
			if r.index >= deletesFrom && r.from < s {
				reported = true
				break
			}
		}
		if !reported {
			if _, ok := tr.seqs[s]; !ok {
				unrepaired++
			}
		}
	}
	if unrepaired > 0 {
		w.t.Fatalf("%d of the %d changes the server dropped were neither repaired nor reported (%s)", unrepaired, len(seqs), dropSummary(d))
	}
}

// ---- S35 ----

// S35: a 5,000-row snapshot loads while 3,000 rows are written: the
// server's loading buffer keeps the newest 1,024 and drops the rest. The
// first batch is held in the proxy until the writes are done, so the
// overflow is certain. Every row arrives exactly once, in _seq order, and
// the server did drop changes.
func s35(w *world) {
	tb := w.table("items")
	const loaded, written = 5000, 3000
	for lo := 1; lo <= loaded; lo += 500 {
		w.insert(tb, seq(lo, lo+499)...)
	}
	release := make(chan struct{})
	var held atomic.Bool
	ft := newFrameTap(func(ws int, f frame) bool {
		if f.Type == "initial_data_batch" && held.CompareAndSwap(false, true) {
			select {
			case <-release:
			case <-w.ctx.Done():
			}
		}
		return false
	})
	w.proxy.SetTap(ft.tap)
	c, _ := w.client(nil)
	sub, err := c.Live(w.ctx, "SELECT * FROM items", kalam.LiveOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	tr := track(w.ctx, sub, nil)
	w.waitUntil("the first batch to be held", held.Load, tr.summary)
	for lo := loaded + 1; lo <= loaded+written; lo += 100 {
		w.insert(tb, seq(lo, lo+99)...)
	}
	close(release)
	all := w.seqsOf(tb)
	w.waitUntil(fmt.Sprintf("all %d rows", loaded+written), func() bool { return tr.missing(all) == 0 }, func() string {
		return fmt.Sprintf("%d missing; %s; %s", tr.missing(all), tr.summary(), dropSummary(w.srv.Drops()))
	})
	tr.mu.Lock()
	breach, terr := tr.breach, tr.err
	tr.mu.Unlock()
	if breach != "" || terr != nil {
		w.t.Fatalf("strict order: %s; error %v", breach, terr)
	}
	d := w.srv.Drops()
	if d.LoadBuffer == 0 {
		w.t.Fatalf("the loading buffer did not overflow (%s): the scenario did not test the repair", dropSummary(d))
	}
	w.checkDropsCovered(tr, d, all, nil, 1<<30)
	w.t.Logf("S35: %s; %s", tr.summary(), dropSummary(d))
}

// ---- S36 ----

// S36: 150 Live calls in one loop on one client: each subscription is
// live or ended with a typed error within 10 s (KalamDB's caps leave 100
// live); then a socket cut: all 100 resume within 10 s of the restore.
func s36(w *world) {
	w.table("items")
	c, cs := w.client(nil)
	const calls = 150
	trs := make([]*tracker, calls)
	start := time.Now()
	for i := range calls {
		sub, err := c.Live(w.ctx, "SELECT * FROM items", kalam.LiveOptions{})
		if err != nil {
			w.t.Fatalf("Live %d: %v", i, err)
		}
		trs[i] = track(w.ctx, sub, nil)
	}
	settled := func() (live, failed int, other []string) {
		for i, tr := range trs {
			tr.mu.Lock()
			switch {
			case tr.err != nil && (errors.Is(tr.err, kalam.ErrSubscriptionLimit) || errors.Is(tr.err, kalam.ErrSubscribeTimeout)):
				failed++
			case tr.err != nil:
				other = append(other, fmt.Sprintf("%d: %v", i, tr.err))
			case tr.n > 0:
				live++
			}
			tr.mu.Unlock()
		}
		return
	}
	for {
		live, failed, other := settled()
		if len(other) > 0 {
			w.t.Fatalf("untyped errors: %v", other)
		}
		if live+failed == calls {
			w.t.Logf("S36: %d live, %d refused with a typed error, after %v", live, failed, time.Since(start).Round(time.Millisecond))
			if live != kalamtest.DefaultMaxSubscriptionsPerUser {
				w.t.Fatalf("%d live, want the server's cap %d", live, kalamtest.DefaultMaxSubscriptionsPerUser)
			}
			break
		}
		if time.Since(start) > 10*time.Second+margin {
			w.t.Fatalf("after %v: %d live, %d failed, %d neither", time.Since(start), live, failed, calls-live-failed)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var alive []*tracker
	for _, tr := range trs {
		tr.mu.Lock()
		if tr.n > 0 && tr.err == nil {
			alive = append(alive, tr)
		}
		tr.mu.Unlock()
	}
	w.proxy.Down()
	w.waitDisconnects(cs, 1)
	w.insert("items", 1)
	w.restore(w.proxy.Up)
	restored := time.Now()
	for {
		resumed := 0
		for _, tr := range alive {
			tr.mu.Lock()
			if tr.resumes > 0 && len(tr.seqs) > 0 {
				resumed++
			}
			tr.mu.Unlock()
		}
		if resumed == len(alive) {
			w.t.Logf("S36: all %d resumed (with the row written during the cut) %v after the restore", resumed, time.Since(restored).Round(time.Millisecond))
			return
		}
		if time.Since(restored) > 10*time.Second+margin {
			w.t.Fatalf("%d of %d resumed within 10 s of the restore; %s", resumed, len(alive), dropSummary(w.srv.Drops()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ---- S37b ----

// S37b: the link's bandwidth held below the write rate for 5 s, never cut:
// the server's queue fills and drops. After the catch-up every row is
// there in its last version (an insert the server dropped and a later
// update superseded arrives as the updated row), each version at most
// once, in _seq order; and a LiveRows view of the same query, whose
// deletes the server may have dropped, converges to a fresh SELECT.
func s37b(w *world) {
	tb := w.table("items")
	c, cs := w.client(nil)
	sub, err := c.Live(w.ctx, "SELECT * FROM items", kalam.LiveOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	tr := track(w.ctx, sub, nil)
	view, err := c.LiveRows(w.ctx, "SELECT * FROM items", kalam.RowsOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	defer view.Close()
	w.waitUntil("the (empty) snapshot", func() bool { return tr.index() >= 2 && view.Ready() }, tr.summary)
	w.proxy.SetBandwidth(congestedBandwidth)
	// 100 inserts and 50 updates every 50 ms for 5 s: about 3,000 change
	// frames a second, some 400 KB/s against the link's 10 KB/s.
	start := time.Now()
	n := 0
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for time.Since(start) < 5*time.Second {
		w.insert(tb, seq(n+1, n+100)...)
		w.exec(fmt.Sprintf("UPDATE app.%s SET v = 'u' WHERE id > %d AND id <= %d", tb, n, n+50))
		w.exec(fmt.Sprintf("DELETE FROM app.%s WHERE id > %d AND id <= %d", tb, n+90, n+100))
		n += 100
		<-tick.C
	}
	w.restore(func() { w.proxy.SetBandwidth(0) })
	want := w.seqsOf(tb)
	w.waitUntil(fmt.Sprintf("all %d rows in their last version", len(want)), func() bool { return tr.missing(want) == 0 }, func() string {
		return fmt.Sprintf("%d missing; %s; %s", tr.missing(want), tr.summary(), dropSummary(w.srv.Drops()))
	})
	tr.mu.Lock()
	breach, terr := tr.breach, tr.err
	tr.mu.Unlock()
	if breach != "" || terr != nil {
		w.t.Fatalf("strict order: %s; error %v", breach, terr)
	}
	d := w.srv.Drops()
	if d.Queue == 0 {
		w.t.Fatalf("the server's queue never overflowed (%s): the scenario did not test the repair", dropSummary(d))
	}
	if lost := cs.lost.Load(); lost != 0 {
		w.t.Logf("note: the client declared the slow link dead %d times", lost)
	}
	// The deletes the server dropped are not replayed; the view reloads
	// whenever continuity says so and converges to a fresh SELECT.
	fresh := w.freshSelect(tb)
	if err := view.WaitFor(w.ctx, func(rows []kalam.Row) bool { return viewIDs(rows) == fresh }); err != nil {
		w.t.Fatalf("the LiveRows view never converged to a fresh SELECT (%d rows, want %d): %v", view.Len(), len(want), err)
	}
	w.t.Logf("S37b: %d rows; %s; %s; the view reloaded %d times", n, tr.summary(), dropSummary(d), view.Resyncs())
}

// ---- S37 ----

// addBrowser records one event the browser build reported, as add does.
func (tr *tracker) addBrowser(be BrowserEvent) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if be.Kind == "resumed" {
		tr.resumes++
		if be.Continuity != "full" {
			tr.reports = append(tr.reports, report{index: tr.n, from: wire.SeqID(be.From)})
		}
	}
	if be.Kind == "snapshot" || be.Kind == "insert" || be.Kind == "update" || be.Kind == "delete" {
		for i, s := range be.Seqs {
			seq := wire.SeqID(s)
			if seq <= tr.last {
				tr.breachf("_seq %d (%s) delivered after %d", seq, be.Kind, tr.last)
			}
			if _, dup := tr.seqs[seq]; dup {
				tr.breachf("_seq %d delivered twice", seq)
			}
			tr.last = max(tr.last, seq)
			id := -1
			if i < len(be.IDs) {
				id = be.IDs[i]
			}
			tr.seqs[seq] = id
			tr.rows++
			if be.Kind == "delete" {
				tr.deleted[id]++
			}
		}
	}
	tr.n++
}

// S37: scenario 34 in headless Chromium with the JS defaults (no
// bufferBytes, no eventBuffer): bursts of browserBurstRows inserts, then
// updates, then deletes, written at 2,000 rows/s, to a page whose consumer
// spends 625 µs per row on the main thread (20% slower than the writer).
// The same bar as 34. The bursts are a tenth of 34's: the browser build
// delivers a few thousand events a second, and the scenario must stay well
// under a minute.
func s37(t *testing.T) {
	if browserSubscriber == nil {
		msg := "scenario 37 needs the browser harness (chromium_test.go) and Chromium"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("NOT RUN: " + msg)
	}
	w := newWorld(t, Driver{Name: "browser"}, kalamtest.Config{})
	tb := w.table("items")
	sub, err := browserSubscriber(w.ctx, t, BrowserConfig{URL: w.url, User: "alice", Password: alicePassword, Namespace: "app",
		SQL: "SELECT * FROM items", RowCostMicros: 625})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	tr := &tracker{seqs: map[wire.SeqID]int{}, deleted: map[int]int{}, done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		for be := range sub.Events() {
			tr.addBrowser(be)
		}
	}()
	w.waitUntil("the (empty) snapshot", func() bool { return tr.index() >= 2 }, tr.summary)
	const n = browserBurstRows
	// paced writes: 100 rows every 50 ms.
	paced := func(stmt func(lo, hi int) string) {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for lo := 1; lo <= n; lo += 100 {
			if !w.exec(stmt(lo, min(lo+99, n))) {
				t.FailNow()
			}
			<-tick.C
		}
	}
	start := time.Now()
	paced(insertStmt(tb))
	inserts := w.seqsOf(tb)
	w.waitUntil(fmt.Sprintf("all %d inserts in the page", n), func() bool { return tr.missing(inserts) == 0 }, func() string {
		return fmt.Sprintf("%d missing; %s; %s", tr.missing(inserts), tr.summary(), dropSummary(w.srv.Drops()))
	})
	paced(func(lo, hi int) string {
		return fmt.Sprintf("UPDATE app.%s SET v = 'u' WHERE id >= %d AND id <= %d", tb, lo, hi)
	})
	updates := w.seqsOf(tb)
	w.waitUntil(fmt.Sprintf("all %d updates in the page", n), func() bool { return tr.missing(updates) == 0 }, func() string {
		return fmt.Sprintf("%d missing; %s; %s", tr.missing(updates), tr.summary(), dropSummary(w.srv.Drops()))
	})
	deletesFrom := tr.index()
	paced(func(lo, hi int) string {
		return fmt.Sprintf("DELETE FROM app.%s WHERE id >= %d AND id <= %d", tb, lo, hi)
	})
	w.waitUntil("every delete delivered or reported in the page", func() bool {
		if _, ok := tr.reportedSince(deletesFrom); ok {
			return true
		}
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return len(tr.deleted) == n
	}, func() string { return tr.summary() + "; " + dropSummary(w.srv.Drops()) })
	tr.mu.Lock()
	breach := tr.breach
	tr.mu.Unlock()
	if breach != "" || sub.Err() != nil {
		t.Fatalf("strict order: %s; page error %v", breach, sub.Err())
	}
	drops := w.srv.Drops()
	w.checkDropsCovered(tr, drops, inserts, updates, deletesFrom)
	t.Logf("S37: %d rows ×3 in %v; %s; %s", n, time.Since(start).Round(time.Millisecond), tr.summary(), dropSummary(drops))
}
