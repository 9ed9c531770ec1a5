package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/kalamtest"
	"github.com/kalamgo/kalam/transport/wire"
)

// scenario is one entry of the catalogue. core scenarios also run on the
// drivers marked CoreOnly (the wazero-hosted engine).
type scenario struct {
	name string
	core bool
	cfg  kalamtest.Config
	run  func(w *world)
}

var scenarios = []scenario{
	{name: "S01_DropAfterAckBeforeFirstBatch", core: true, run: s01},
	{name: "S02_BlackholeBeforeSubscribe", run: s02},
	{name: "S03_DownAgainWhileReconnecting", core: true, run: s03},
	{name: "S04_ThreeOutagesExactCounters", core: true, run: s04},
	{name: "S05_LatencyRamp", run: s05},
	{name: "S06_DownDuringBurst", core: true, run: s06},
	{name: "S07_DownMidSnapshotTwice", core: true, run: s07},
	{name: "S08_LatencyDuringSnapshot", run: s08},
	{name: "S09_DownDuringLiveUpdates", core: true, run: s09},
	{name: "S10_DropAfterFourBatchesWithLiveWrites", core: true, run: s10},
	{name: "S11_DownWithOneLiveOneLoading", core: true, run: s11},
	{name: "S12_ServerBounceThreeSubscriptions", core: true, run: s12},
	{name: "S13_RapidFlaps", run: s13},
	{name: "S14_DownBeforeFirstConnect", run: s14},
	{name: "S15_DownRightAfterSubscribe", core: true, run: s15},
	{name: "S16_PositionEqualsServerMax", core: true, run: s16},
	{name: "S17_FastMediumSlowOutages", core: true, run: s17},
	{name: "S18_NewSubscriptionAfterRestore", core: true, run: s18},
	{name: "S19_UnsubscribeWhileDisconnected", core: true, run: s19},
	{name: "S20_UpdateDuringOutage", core: true, run: s20},
	{name: "S21_BlackholeDeadLink", run: s21},
	{name: "S22_LatencyNoFalseDisconnect", run: s22},
	{name: "S23_StallLongerThanPongTimeout", run: s23},
	{name: "S24_ThreeByteFragments", run: s24},
	{name: "S25_Bandwidth8Bps", run: s25},
	{name: "S26_TerminateThenClear", run: s26},
	{name: "S27_TokenExpiresDuringOutage", core: true, cfg: kalamtest.Config{AccessTokenTTL: 2 * time.Second, Leeway: -1}, run: s27},
	{name: "S28_RevokedCredentials1008", core: true, run: s28},
	{name: "S29_RestartJitterSpread", run: s29},
	{name: "S30_LiveRowsDeleteDuringOutage", core: true, run: s30},
	{name: "S31_LiveRowsUpdateDuringOutage", core: true, run: s31},
	{name: "S32_DrainWhileReconnectingAndLoading", run: s32},
}

// TestChaos runs the catalogue for every driver, then scenario 33 on the
// browser build, and logs the resume times.
func TestChaos(t *testing.T) {
	for _, d := range drivers {
		t.Run(d.Name, func(t *testing.T) {
			for _, sc := range scenarios {
				if d.CoreOnly && !sc.core {
					continue
				}
				t.Run(sc.name, func(t *testing.T) {
					w := newWorld(t, d, sc.cfg)
					sc.run(w)
					if !t.Failed() {
						recordResume(d.Name+"/"+sc.name, w.resumeOf())
					}
				})
			}
		})
	}
	t.Run("browser", func(t *testing.T) {
		t.Run("S33_BrowserNetworkDrop", s33)
		t.Run("S37_BrowserBurstsUnderDefaultLimits", s37)
	})
	t.Log("resume time after the last restore (slowest subscription of the scenario):" + resumeReport())
}

// hold lets a fault persist; it is part of the workload, never what makes
// an assertion pass.
func hold(d time.Duration) { time.Sleep(d) }

// S01: drop right after the subscribe ack, before the first initial batch;
// one row written while down.
func s01(w *world) {
	tb := w.table("items")
	w.insert(tb, seq(1, 12)...)
	var cut atomic.Bool
	ft := newFrameTap(func(ws int, f frame) bool {
		if ws == 1 && f.Type == "subscription_ack" {
			w.proxy.Refuse()
			cut.Store(true)
			return true
		}
		return false
	})
	w.proxy.SetTap(ft.tap)
	c, cs := w.client(nil)
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{BatchSize: 3})
	w.waitDisconnects(cs, 1)
	if !cut.Load() {
		w.t.Fatal("the disconnect was not the cut after the ack")
	}
	if got := added(col.all()); len(got) != 0 {
		w.t.Fatalf("rows %v delivered although the cut came before batch 0", got)
	}
	w.insert(tb, 13)
	w.restore(w.proxy.Up)
	w.waitIDs(col, seq(1, 13)...)
	w.insert(tb, 14)
	w.waitIDs(col, 14)
	w.checkStrict(col, seq(1, 14)...)
}

// S02: blackhole before subscribe, then restore.
func s02(w *world) {
	tb := w.table("items")
	w.insert(tb, seq(1, 5)...)
	c, cs := w.client(nil)
	if err := c.Connect(w.ctx); err != nil {
		w.t.Fatal(err)
	}
	w.proxy.Blackhole(true)
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
	w.waitDisconnects(cs, 1) // the dead link is found
	if got := added(col.all()); len(got) != 0 {
		w.t.Fatalf("rows %v came through a blackhole", got)
	}
	w.restore(func() { w.proxy.Blackhole(false) })
	w.waitIDs(col, seq(1, 5)...)
	w.insert(tb, 6)
	w.waitIDs(col, 6)
	w.checkStrict(col, seq(1, 6)...)
}

// S03: down; up; down again while the client is reconnecting; a row; up.
func s03(w *world) {
	tb := w.table("items")
	c, cs := w.client(nil)
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
	w.waitSnapshot(col)
	w.insert(tb, 1) // pre
	w.waitIDs(col, 1)
	C := w.maxSeq(tb)
	w.waitPosition(col, C)
	idx := col.len()
	w.proxy.Down()
	w.waitDisconnects(cs, 1)
	var caught atomic.Bool
	ft := newFrameTap(nil)
	ft.onUpgrade = func(int) bool {
		if caught.Swap(true) {
			return false
		}
		w.proxy.Refuse() // down again, cutting the redial mid-handshake
		return true
	}
	w.proxy.SetTap(ft.tap)
	w.proxy.Up()
	w.waitUntil("the redial to be caught", caught.Load, cs.path)
	w.insert(tb, 2) // gap
	w.restore(w.proxy.Up)
	w.waitIDs(col, 2)
	w.insert(tb, 3) // live
	w.waitIDs(col, 3)
	w.checkStrict(col, 1, 2, 3)
	w.checkAfter(col, idx, C)
}

func countKind(c *collector, k kalam.EventKind) int {
	n := 0
	for _, ev := range c.all() {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

// S04: three outages; connect and disconnect counters exact.
func s04(w *world) {
	tb := w.table("items")
	c, cs := w.client(nil)
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
	w.waitSnapshot(col)
	w.waitConnects(cs, 1)
	for k := int64(1); k <= 3; k++ {
		w.proxy.Down()
		w.waitDisconnects(cs, k)
		hold(100 * time.Millisecond)
		w.insert(tb, int(k))
		w.restore(w.proxy.Up)
		w.waitConnects(cs, k+1)
		w.waitUntil(fmt.Sprintf("resume %d", k), func() bool { return countKind(col, kalam.EventResumed) >= int(k) }, col.describe)
		w.waitIDs(col, int(k))
		if got, want := [3]int64{cs.connects.Load(), cs.lost.Load(), cs.disconnects.Load()}, [3]int64{k + 1, k, k}; got != want {
			w.t.Fatalf("after outage %d: connects, lost connections, disconnect events = %v, want %v (%s)", k, got, want, cs.path())
		}
	}
	w.insert(tb, 4)
	w.waitIDs(col, 4)
	w.checkStrict(col, 1, 2, 3, 4)
	if got := [3]int64{cs.connects.Load(), cs.lost.Load(), cs.disconnects.Load()}; got != [3]int64{4, 3, 3} {
		w.t.Fatalf("connects, lost connections, disconnect events = %v, want [4 3 3]", got)
	}
	if n := w.srv.Stats().AuthOK; n != 4 {
		w.t.Fatalf("server saw %d authentications, want 4", n)
	}
	if n := countKind(col, kalam.EventResumed); n != 3 {
		w.t.Fatalf("%d resumes, want 3", n)
	}
}

// S05: latency ramp 100 → 500 → 1500 → 3000 ms per chunk.
func s05(w *world) {
	tb := w.table("items")
	c, cs := w.client(nil)
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
	w.waitSnapshot(col)
	w.insert(tb, 1)
	w.waitIDs(col, 1)
	C := w.maxSeq(tb)
	w.waitPosition(col, C)
	idx := col.len()
	// dead is when the link stops looking alive: a ping's round trip first
	// exceeds the pong timeout, or later, the last row frame written while
	// the latency was that high lands (every chunk is delayed by the latency
	// in force; a frame that arrives shows the peer is there, so the engine
	// rightly waits for a ping sent after it).
	var dead time.Time
	for i, d := range []time.Duration{100, 500, 1500, 3000} {
		d *= time.Millisecond
		w.proxy.SetLatency(d)
		if 2*d > pongTimeout {
			if lands := time.Now().Add(d); lands.After(dead) {
				dead = lands
			}
		}
		w.insert(tb, 10+i)
		hold(time.Second)
	}
	w.waitDisconnects(cs, 1)
	if took := firstDisconnect(cs).Sub(dead); took > pingInterval+pongTimeout+margin {
		w.t.Fatalf("dead link found %v after the link went quiet (bound %v)", took, pingInterval+pongTimeout+margin)
	}
	w.restore(func() { w.proxy.SetLatency(0) })
	w.insert(tb, 20)
	w.waitIDs(col, 10, 11, 12, 13, 20)
	w.checkStrict(col, 1, 10, 11, 12, 13, 20)
	w.checkAfter(col, idx, C)
}

// S06: down during a 50-row burst; up.
func s06(w *world) {
	tb := w.table("items")
	c, cs := w.client(nil)
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
	w.waitSnapshot(col)
	for i := 1; i <= 50; i++ {
		w.insert(tb, i)
		if i == 15 {
			w.proxy.Down()
		}
	}
	w.waitDisconnects(cs, 1)
	w.restore(w.proxy.Up)
	w.waitIDs(col, seq(1, 50)...)
	w.checkStrict(col, seq(1, 50)...)
}

// S07: down mid-snapshot; a row; up; drop again mid-snapshot; a row; up.
func s07(w *world) {
	tb := w.table("items")
	w.insert(tb, seq(1, 30)...)
	batches := map[int]int{}
	ft := newFrameTap(func(ws int, f frame) bool {
		if f.Type != "initial_data_batch" {
			return false
		}
		batches[ws]++
		if (ws == 1 && batches[ws] == 3) || (ws == 2 && batches[ws] == 2) {
			w.proxy.Refuse()
			return true
		}
		return false
	})
	w.proxy.SetTap(ft.tap)
	c, cs := w.client(nil)
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{BatchSize: 3})
	w.waitDisconnects(cs, 1)
	w.insert(tb, 31)
	w.restore(w.proxy.Up)
	w.waitDisconnects(cs, 2)
	w.insert(tb, 32)
	w.restore(w.proxy.Up)
	w.waitIDs(col, seq(1, 32)...)
	w.checkStrict(col, seq(1, 32)...)
	// Both cuts came mid-snapshot: each resume starts after some rows of
	// the load and before its end.
	var froms []wire.SeqID
	for _, ev := range col.all() {
		if ev.Kind == kalam.EventResumed {
			froms = append(froms, ev.From)
		}
	}
	if len(froms) != 2 || froms[0] == 0 || froms[1] <= froms[0] || froms[1] >= w.maxSeq(tb) {
		w.t.Fatalf("resumed from %v: the cuts were not both mid-snapshot", froms)
	}
}

// S08: 200 ms latency during the whole initial snapshot.
func s08(w *world) {
	tb := w.table("items")
	w.insert(tb, seq(1, 20)...)
	w.proxy.SetLatency(200 * time.Millisecond)
	c, cs := w.client(nil)
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{BatchSize: 5})
	w.waitSnapshot(col)
	w.waitIDs(col, seq(1, 20)...)
	w.restore(func() { w.proxy.SetLatency(0) })
	w.insert(tb, 21)
	w.waitIDs(col, 21)
	w.checkStrict(col, seq(1, 21)...)
	if n := cs.disconnects.Load(); n != 0 {
		w.t.Fatalf("%d disconnects under 200 ms latency", n)
	}
}

// S09: down during live updates; 4 rows while down; up; 4 live rows.
func s09(w *world) {
	tb := w.table("items")
	c, cs := w.client(nil)
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
	w.waitSnapshot(col)
	w.insertEach(tb, seq(1, 3))
	w.waitIDs(col, 1, 2, 3)
	C := w.maxSeq(tb)
	w.waitPosition(col, C)
	idx := col.len()
	w.proxy.Down()
	w.waitDisconnects(cs, 1)
	w.insertEach(tb, seq(4, 7))
	w.restore(w.proxy.Up)
	w.waitIDs(col, seq(4, 7)...)
	w.insertEach(tb, seq(8, 11))
	w.waitIDs(col, seq(8, 11)...)
	w.checkStrict(col, seq(1, 11)...)
	w.checkAfter(col, idx, C)
}

// S10: drop after 4 of 10 initial batches, with live writes during the
// load; 3 rows while down.
func s10(w *world) {
	tb := w.table("items")
	w.insert(tb, seq(1, 30)...)
	n := 0
	ft := newFrameTap(func(ws int, f frame) bool {
		if ws != 1 || f.Type != "initial_data_batch" {
			return false
		}
		n++
		if n == 2 {
			for _, id := range seq(31, 34) { // live writes while loading
				w.exec(fmt.Sprintf("INSERT INTO app.items (id, v) VALUES (%d, 'v')", id))
			}
		}
		if n == 4 {
			w.proxy.Refuse()
			return true
		}
		return false
	})
	w.proxy.SetTap(ft.tap)
	c, cs := w.client(nil)
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{BatchSize: 3})
	w.waitDisconnects(cs, 1)
	if got := len(added(col.all())); got > 12 {
		w.t.Fatalf("%d rows delivered before the cut after batch 4", got)
	}
	w.insertEach(tb, seq(35, 37))
	w.restore(w.proxy.Up)
	w.waitIDs(col, seq(1, 37)...)
	w.checkStrict(col, seq(1, 37)...)
}

// S11: down while subscription A is live and B is mid-snapshot.
func s11(w *world) {
	ta, tb := w.table("a"), w.table("b")
	w.insert(tb, seq(1, 40)...)
	w.insert(ta, 1)
	n := 0
	ft := newFrameTap(func(ws int, f frame) bool {
		if f.Type != "initial_data_batch" || f.Sub != "sub-b" {
			return false
		}
		n++
		if n == 3 {
			w.proxy.Refuse()
			return true
		}
		return false
	})
	w.proxy.SetTap(ft.tap)
	c, cs := w.client(nil)
	colA := w.live(c, "SELECT * FROM a", kalam.LiveOptions{ID: "sub-a"})
	w.waitIDs(colA, 1)
	colB := w.live(c, "SELECT * FROM b", kalam.LiveOptions{BatchSize: 3, ID: "sub-b"})
	w.waitDisconnects(cs, 1)
	w.insert(ta, 2)
	w.insert(tb, 41)
	w.restore(w.proxy.Up)
	w.waitIDs(colA, 2)
	w.waitIDs(colB, seq(1, 41)...)
	w.insert(ta, 3)
	w.insert(tb, 42)
	w.waitIDs(colA, 3)
	w.waitIDs(colB, 42)
	w.checkStrict(colA, 1, 2, 3)
	w.checkStrict(colB, seq(1, 42)...)
	if from, ok := resumedFrom(colB, 0); !ok || from == 0 {
		w.t.Fatalf("B resumed from %d (%v): the cut was not mid-snapshot", from, ok)
	}
}

// resumedFrom returns the From of the first EventResumed at or after idx.
func resumedFrom(c *collector, idx int) (wire.SeqID, bool) {
	evs := c.all()
	for _, ev := range evs[min(idx, len(evs)):] {
		if ev.Kind == kalam.EventResumed {
			return ev.From, true
		}
	}
	return 0, false
}

// S12: server bounce with three subscriptions, each at its own position.
func s12(w *world) {
	tables := []string{w.table("t1"), w.table("t2"), w.table("t3")}
	c, cs := w.client(nil)
	var cols []*collector
	for _, tb := range tables {
		col := w.live(c, "SELECT * FROM "+tb, kalam.LiveOptions{})
		w.waitSnapshot(col)
		cols = append(cols, col)
	}
	Cs := make([]wire.SeqID, 3)
	idx := make([]int, 3)
	for i, tb := range tables {
		w.insertEach(tb, seq(1, i+1)) // different positions per table
		w.waitIDs(cols[i], seq(1, i+1)...)
		Cs[i] = w.maxSeq(tb)
		w.waitPosition(cols[i], Cs[i])
	}
	for i := range cols {
		idx[i] = cols[i].len()
	}
	if err := w.srv.PauseAccepting(); err != nil {
		w.t.Fatal(err)
	}
	if err := w.srv.Restart(); err != nil {
		w.t.Fatal(err)
	}
	w.waitDisconnects(cs, 1)
	for _, tb := range tables {
		w.insert(tb, 10)
	}
	w.restore(func() {
		if err := w.srv.ResumeAccepting(); err != nil {
			w.t.Fatal(err)
		}
	})
	for i, tb := range tables {
		w.waitIDs(cols[i], 10)
		w.insert(tb, 11)
	}
	for i := range tables {
		w.waitIDs(cols[i], 11)
		w.checkStrict(cols[i], cat(seq(1, i+1), []int{10, 11})...)
		w.checkAfter(cols[i], idx[i], Cs[i])
		if from, ok := resumedFrom(cols[i], idx[i]); !ok || from != Cs[i] {
			w.t.Fatalf("subscription %d resumed from %d (%v), want its own position %d", i, from, ok, Cs[i])
		}
	}
}

// S13: five rapid flaps with writes.
func s13(w *world) {
	tb := w.table("items")
	c, cs := w.client(nil)
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
	w.waitSnapshot(col)
	for i := 1; i <= 5; i++ {
		w.proxy.Down()
		w.insert(tb, i)
		hold(150 * time.Millisecond)
		w.restore(w.proxy.Up)
		hold(250 * time.Millisecond)
	}
	w.waitIDs(col, seq(1, 5)...)
	w.insert(tb, 6)
	w.waitIDs(col, 6)
	w.waitState(cs, kalam.StateLive)
	w.checkStrict(col, seq(1, 6)...)
}

// S14: server down before the first connect.
func s14(w *world) {
	tb := w.table("items")
	access, refresh, err := w.srv.IssueTokens("alice")
	if err != nil {
		w.t.Fatal(err)
	}
	w.proxy.Down()
	c, cs := w.client(func(cfg *kalam.Config) {
		cfg.Auth = auth.JWTWithRefresh(access, refresh)
		cfg.EagerConnect = true
	})
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{Wait: true})
	w.waitUntil("a redial attempt", func() bool { return cs.reached(kalam.StateBackoff) }, cs.path)
	hold(500 * time.Millisecond)
	if n := cs.connects.Load(); n != 0 {
		w.t.Fatalf("%d connect events while the server was down", n)
	}
	start := time.Now()
	w.restore(w.proxy.Up)
	w.waitConnects(cs, 1)
	if took := time.Since(start); took > backoffMax+margin {
		w.t.Fatalf("connected %v after up; the backoff is at most %v", took, backoffMax)
	}
	w.insert(tb, 1)
	w.waitIDs(col, 1)
	w.checkStrict(col, 1)
}

// S15: down right after Live returns.
func s15(w *world) {
	tb := w.table("items")
	w.insert(tb, seq(1, 5)...)
	c, _ := w.client(nil)
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
	w.proxy.Down()
	hold(300 * time.Millisecond)
	w.restore(w.proxy.Up)
	w.waitIDs(col, seq(1, 5)...)
	w.insert(tb, 6)
	w.waitIDs(col, 6)
	w.checkStrict(col, seq(1, 6)...)
}

// S16: before the fault the reported position equals the server's max _seq.
func s16(w *world) {
	tb := w.table("items")
	c, cs := w.client(nil)
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
	w.waitSnapshot(col)
	w.insertEach(tb, seq(1, 3))
	w.waitIDs(col, 1, 2, 3)
	C := w.maxSeq(tb)
	w.waitUntil("the last row's position", func() bool { p, ok := col.sub.Position(); return ok && p == C }, col.describe)
	found := false
	for _, si := range c.Subscriptions() {
		if si.ID == col.sub.ID() {
			found = true
			if !si.HasPosition || si.Position != C {
				w.t.Fatalf("Subscriptions() reports %d (%v), server max is %d", si.Position, si.HasPosition, C)
			}
		}
	}
	if !found {
		w.t.Fatal("the subscription is not listed")
	}
	idx := col.len()
	w.proxy.Drop()
	w.proxy.Refuse()
	w.waitDisconnects(cs, 1)
	w.insertEach(tb, seq(4, 7))
	w.restore(w.proxy.Up)
	w.waitIDs(col, seq(4, 7)...)
	w.checkStrict(col, seq(1, 7)...)
	w.checkAfter(col, idx, C)
	if p, _ := col.sub.Position(); p != w.maxSeq(tb) {
		w.t.Fatalf("position %d after recovery, server max %d", p, w.maxSeq(tb))
	}
}

// S17: fast, medium and slow outages, each resuming from its checkpoint.
func s17(w *world) {
	tb := w.table("items")
	c, cs := w.client(nil)
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
	w.waitSnapshot(col)
	w.insert(tb, 1)
	w.waitIDs(col, 1)
	for k, d := range []time.Duration{50 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second} {
		C := w.maxSeq(tb)
		w.waitPosition(col, C)
		idx := col.len()
		w.proxy.Down()
		w.waitDisconnects(cs, int64(k+1))
		w.insert(tb, k+2)
		hold(d)
		w.restore(w.proxy.Up)
		w.waitIDs(col, k+2)
		if from, ok := resumedFrom(col, idx); !ok || from != C {
			w.t.Fatalf("outage %d resumed from %d (%v), want the checkpoint %d", k+1, from, ok, C)
		}
		w.checkAfter(col, idx, C)
	}
	w.checkStrict(col, 1, 2, 3, 4)
}

// S18: a new subscription issued right after the server comes back.
func s18(w *world) {
	tb := w.table("items")
	c, cs := w.client(nil)
	col1 := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
	w.waitSnapshot(col1)
	w.insert(tb, 1)
	w.waitIDs(col1, 1)
	w.proxy.Down()
	w.waitDisconnects(cs, 1)
	w.insertEach(tb, []int{2, 3})
	w.restore(w.proxy.Up)
	col2 := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
	w.waitIDs(col2, 1, 2, 3)
	w.waitIDs(col1, 2, 3)
	w.insert(tb, 4)
	w.waitIDs(col1, 4)
	w.waitIDs(col2, 4)
	w.checkStrict(col1, 1, 2, 3, 4)
	w.checkStrict(col2, 1, 2, 3, 4)
}

// S19: unsubscribe while disconnected.
func s19(w *world) {
	tb := w.table("items")
	c, cs := w.client(nil)
	keep := w.live(c, "SELECT * FROM items", kalam.LiveOptions{ID: "keep"})
	drop := w.live(c, "SELECT * FROM items", kalam.LiveOptions{ID: "drop"})
	w.waitSnapshot(keep)
	w.waitSnapshot(drop)
	w.proxy.Down()
	w.waitDisconnects(cs, 1)
	if err := drop.sub.Close(); err != nil {
		w.t.Fatal(err)
	}
	<-drop.done
	if drop.err != nil {
		w.t.Fatalf("the closed subscription ended with %v", drop.err)
	}
	w.insert(tb, 1)
	w.restore(w.proxy.Up)
	w.waitIDs(keep, 1)
	w.insert(tb, 2)
	w.waitIDs(keep, 2)
	w.checkStrict(keep, 1, 2)
	var onServer []string
	for _, s := range w.srv.Subscriptions() {
		onServer = append(onServer, s.ID)
	}
	if slices.Contains(onServer, "drop") || !slices.Contains(onServer, "keep") {
		w.t.Fatalf("server subscriptions %v, want keep without drop", onServer)
	}
	for _, si := range c.Subscriptions() {
		if si.ID == "drop" {
			w.t.Fatal("the client still lists the closed subscription")
		}
	}
	if got := added(drop.all()); len(got) != 0 {
		w.t.Fatalf("the closed subscription delivered %v", got)
	}
}

// S20: an update during the outage arrives once; the earlier update and
// delete are not replayed.
func s20(w *world) {
	tb := w.table("items")
	w.insert(tb, 1, 2)
	c, cs := w.client(nil)
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
	w.waitSnapshot(col)
	w.exec("UPDATE app.items SET v = 'u1' WHERE id = 1")
	w.exec("DELETE FROM app.items WHERE id = 2")
	w.waitUntil("the update and the delete", func() bool {
		return countKind(col, kalam.EventUpdate) == 1 && countKind(col, kalam.EventDelete) == 1
	}, col.describe)
	C, _ := col.sub.Position()
	idx := col.len()
	w.proxy.Down()
	w.waitDisconnects(cs, 1)
	w.exec("UPDATE app.items SET v = 'u2' WHERE id = 1")
	w.restore(w.proxy.Up)
	carries := func(v string) int {
		n := 0
		for _, ev := range col.all() {
			if ev.Kind == kalam.EventDelete {
				continue
			}
			for _, r := range ev.Rows {
				if rowID(r) == 1 && r.Get("v").String() == v {
					n++
				}
			}
		}
		return n
	}
	w.waitUntil("the update made during the outage", func() bool { return carries("u2") > 0 }, col.describe)
	w.insert(tb, 3)
	w.waitIDs(col, 3)
	if carries("u2") != 1 || carries("u1") != 1 || countKind(col, kalam.EventDelete) != 1 {
		w.t.Fatalf("u1 ×%d, u2 ×%d, deletes ×%d; want each once: %s", carries("u1"), carries("u2"), countKind(col, kalam.EventDelete), col.describe())
	}
	w.checkAfter(col, idx, C)
	w.checkStrictOrder(col)
}

// checkStrictOrder is checkStrict without the id multiset.
func (w *world) checkStrictOrder(c *collector) {
	w.t.Helper()
	var last wire.SeqID
	for _, ev := range c.all() {
		for _, r := range rowsOf(ev.Event) {
			s, _ := r.Seq()
			if s <= last {
				w.t.Fatalf("_seq %d after %d: %s", s, last, c.describe())
			}
			last = s
		}
	}
}

// firstDisconnect is when the client first reported the socket lost.
func firstDisconnect(cs *counters) time.Time {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for i, ev := range cs.connEvents {
		if !ev.Connected {
			return cs.connTimes[i]
		}
	}
	return time.Time{}
}

// deadLinkScenario: live, fault, the dead link is found within the pong
// timeout plus margin, restore, and nothing is replayed.
func (w *world) deadLinkScenario(fault, clear func(), bounded bool) {
	tb := w.table("items")
	c, cs := w.client(nil)
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
	w.waitSnapshot(col)
	w.insert(tb, 1)
	w.waitIDs(col, 1)
	C := w.maxSeq(tb)
	w.waitPosition(col, C)
	idx := col.len()
	start := time.Now()
	fault()
	w.insert(tb, 2)
	w.waitDisconnects(cs, 1)
	if took := firstDisconnect(cs).Sub(start); bounded && took > pingInterval+pongTimeout+margin {
		w.t.Fatalf("dead link found after %v, bound %v", took, pingInterval+pongTimeout+margin)
	}
	w.restore(clear)
	w.insert(tb, 3)
	w.waitIDs(col, 2, 3)
	w.checkStrict(col, 1, 2, 3)
	w.checkAfter(col, idx, C)
	// Close shuts down at once: it must not wait out a goodbye to the
	// socket that was declared dead (a dead peer never answers).
	start = time.Now()
	c.Close()
	if took := time.Since(start); took > time.Second {
		w.t.Fatalf("Close took %v after a dead link", took)
	}
}

// S21: blackhole with the sockets open.
func s21(w *world) {
	w.deadLinkScenario(func() { w.proxy.Blackhole(true) }, func() { w.proxy.Blackhole(false) }, true)
}

// S22: 300 ms latency held 4 s causes no false disconnect.
func s22(w *world) {
	tb := w.table("items")
	c, cs := w.client(nil)
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
	w.waitSnapshot(col)
	w.proxy.SetLatency(300 * time.Millisecond)
	start := time.Now()
	w.insert(tb, 1)
	w.waitIDs(col, 1)
	hold(4*time.Second - time.Since(start))
	w.insert(tb, 2)
	w.waitIDs(col, 2)
	w.restore(func() { w.proxy.SetLatency(0) })
	w.insert(tb, 3)
	w.waitIDs(col, 3)
	w.checkStrict(col, 1, 2, 3)
	if d, k := cs.disconnects.Load(), cs.connects.Load(); d != 0 || k != 1 {
		w.t.Fatalf("%d disconnects, %d connects under 300 ms latency: %s", d, k, cs.path())
	}
}

// S23: every chunk stalls longer than the pong timeout.
func s23(w *world) {
	// No time bound: stalled pongs still arrive, late, so the link is slow
	// rather than dead and detection may take more than one pong deadline.
	w.deadLinkScenario(func() { w.proxy.SetStall(1, pongTimeout+time.Second) }, func() { w.proxy.SetStall(0, 0) }, false)
}

// S24: writes fragmented into 3-byte pieces.
func s24(w *world) {
	w.table("items")
	w.proxy.SetFragment(3)
	c, cs := w.client(nil)
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
	w.waitSnapshot(col)
	long := strings.Repeat("x", 512)
	w.exec("INSERT INTO app.items (id, v) VALUES (1, $1)", long)
	w.waitIDs(col, 1)
	for _, ev := range col.all() {
		for _, r := range ev.Rows {
			if rowID(r) == 1 && r.Get("v").String() != long {
				w.t.Fatalf("the 512-char value arrived as %d chars", len(r.Get("v").String()))
			}
		}
	}
	w.checkStrict(col, 1)
	if d, k := cs.disconnects.Load(), cs.connects.Load(); d != 0 || k != 1 {
		w.t.Fatalf("%d disconnects, %d connects with fragmented writes", d, k)
	}
}

// S25: bandwidth 8 B/s.
func s25(w *world) {
	w.deadLinkScenario(func() { w.proxy.SetBandwidth(8) }, func() { w.proxy.SetBandwidth(0) }, false)
}

// S26: transport termination with p = 1.0, then cleared.
func s26(w *world) {
	w.deadLinkScenario(func() { w.proxy.SetTerminate(1, 26) }, func() { w.proxy.SetTerminate(0, 0) }, false)
}

// S27: the token expires during the outage.
func s27(w *world) {
	tb := w.table("items")
	var calls atomic.Int32
	basic := auth.Basic("alice", alicePassword)
	counting := auth.ProviderFunc(func(ctx context.Context, req auth.Request) (auth.Credentials, error) {
		calls.Add(1)
		return basic.Credentials(ctx, req)
	})
	c, cs := w.client(func(cfg *kalam.Config) { cfg.Auth = counting })
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
	w.waitSnapshot(col)
	w.insert(tb, 1)
	w.waitIDs(col, 1)
	C := w.maxSeq(tb)
	w.waitPosition(col, C)
	idx := col.len()
	failed := w.srv.Stats().AuthFailed
	w.proxy.Down()
	w.waitDisconnects(cs, 1)
	w.insert(tb, 2)
	hold(2500 * time.Millisecond) // longer than the 2 s token lifetime
	before := calls.Load()
	w.restore(w.proxy.Up)
	w.waitIDs(col, 2)
	w.insert(tb, 3)
	w.waitIDs(col, 3)
	w.checkStrict(col, 1, 2, 3)
	w.checkAfter(col, idx, C)
	if calls.Load() <= before {
		w.t.Fatal("the provider was not asked after the outage")
	}
	if n := w.srv.Stats().AuthFailed - failed; n != 0 {
		w.t.Fatalf("the expired token was presented: %d WebSocket auth failures", n)
	}
}

// S28: the server closes with 1008 on every reconnect (credentials revoked).
func s28(w *world) {
	tb := w.table("items")
	access, _, err := w.srv.IssueTokens("alice")
	if err != nil {
		w.t.Fatal(err)
	}
	c, cs := w.client(func(cfg *kalam.Config) { cfg.Auth = auth.JWT(access) })
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
	w.waitSnapshot(col)
	w.insert(tb, 1)
	w.waitIDs(col, 1)
	if err := w.srv.RevokeUser("alice"); err != nil {
		w.t.Fatal(err)
	}
	if err := w.srv.CloseConnections(1008, "Authentication failed"); err != nil {
		w.t.Fatal(err)
	}
	w.waitState(cs, kalam.StateUnauthed)
	accepted := w.srv.Stats().WSAccepted
	hold(time.Second) // a hot loop would redial hundreds of times here
	if n := w.srv.Stats().WSAccepted - accepted; n > 1 {
		w.t.Fatalf("%d reconnects with revoked credentials in 1 s", n)
	}
	if st := c.State(); st != kalam.StateUnauthed {
		w.t.Fatalf("state %v, want Unauthed", st)
	}
	fresh, _, err := w.srv.IssueTokens("alice")
	if err != nil {
		w.t.Fatal(err)
	}
	creds, err := auth.FromTokens(fresh, "")
	if err != nil {
		w.t.Fatal(err)
	}
	w.insert(tb, 2)
	w.restore(func() {
		if err := c.UpdateAuth(creds); err != nil {
			w.t.Fatal(err)
		}
	})
	w.waitIDs(col, 2)
	w.insert(tb, 3)
	w.waitIDs(col, 3)
	w.checkStrict(col, 1, 2, 3)
}

// S29: N clients, server restart; reconnect times are spread by jitter.
func s29(w *world) {
	const n = 8
	tb := w.table("items")
	type one struct {
		cs  *counters
		col *collector
	}
	var all []one
	for i := range n {
		c, cs := w.client(func(cfg *kalam.Config) {
			cfg.Seed = uint64(1000 + i)
			cfg.BackoffMin = 100 * time.Millisecond
			cfg.BackoffMax = 2 * time.Second
		})
		col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
		all = append(all, one{cs, col})
	}
	for _, o := range all {
		w.waitSnapshot(o.col)
	}
	w.restore(func() {
		if err := w.srv.Restart(); err != nil {
			w.t.Fatal(err)
		}
	})
	start := time.Now()
	var times []time.Duration
	for _, o := range all {
		w.waitConnects(o.cs, 2)
		o.cs.mu.Lock()
		k := 0
		for i, ev := range o.cs.connEvents {
			if ev.Connected {
				k++
				if k == 2 {
					times = append(times, o.cs.connTimes[i].Sub(start))
				}
			}
		}
		o.cs.mu.Unlock()
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	spread := times[len(times)-1] - times[0]
	w.t.Logf("reconnect times after restart: %v (spread %v)", times, spread)
	if spread < 20*time.Millisecond {
		w.t.Fatalf("%d clients reconnected within %v of each other: no jitter", n, spread)
	}
	w.insert(tb, 1)
	for _, o := range all {
		w.waitIDs(o.col, 1)
		w.checkStrict(o.col, 1)
	}
}

func viewIDs(rows []kalam.Row) string {
	var parts []string
	for _, r := range rows {
		parts = append(parts, fmt.Sprintf("%d=%s", rowID(r), r.Get("v").String()))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// freshSelect is what a fresh SELECT returns, as viewIDs renders it.
func (w *world) freshSelect(tb string) string {
	w.t.Helper()
	res, err := w.srv.Exec(context.Background(), "alice", "SELECT id, v FROM app."+tb)
	if err != nil {
		w.t.Fatal(err)
	}
	var parts []string
	for _, r := range res.Results {
		for _, row := range r.Rows {
			var id int
			var v string
			fmt.Sscan(strings.Trim(string(row[0]), `"`), &id)
			v = strings.Trim(string(row[1]), `"`)
			parts = append(parts, fmt.Sprintf("%d=%s", id, v))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// S30: delete during the outage, materialized LiveRows.
func s30(w *world) {
	tb := w.table("items")
	w.insert(tb, 1, 2, 3)
	c, cs := w.client(nil)
	view, err := c.LiveRows(w.ctx, "SELECT * FROM items", kalam.RowsOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	defer view.Close()
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
	if err := view.WaitFor(w.ctx, func(rows []kalam.Row) bool { return len(rows) == 3 }); err != nil {
		w.t.Fatal(err)
	}
	w.waitSnapshot(col)
	idx := col.len()
	w.proxy.Down()
	w.waitDisconnects(cs, 1)
	w.exec("DELETE FROM app.items WHERE id = 2")
	w.insert(tb, 4)
	w.restore(w.proxy.Up)
	want := w.freshSelect(tb)
	if want != "1=v1,3=v3,4=v4" {
		w.t.Fatalf("fresh SELECT = %s", want)
	}
	if err := view.WaitFor(w.ctx, func(rows []kalam.Row) bool { return viewIDs(rows) == want }); err != nil {
		w.t.Fatalf("the view never converged to %s: %v (rows %s)", want, err, viewIDs(view.Rows()))
	}
	if view.Resyncs() < 1 {
		w.t.Fatal("the view did not reload after an outage with a delete")
	}
	w.waitIDs(col, 4)
	var cont []kalam.Continuity
	for _, ev := range col.all()[idx:] {
		if ev.Kind == kalam.EventResumed {
			cont = append(cont, ev.Continuity)
		}
	}
	if len(cont) != 1 || cont[0] == kalam.ContinuityFull {
		w.t.Fatalf("resume continuity %v: the stream must say deletes may be missing", cont)
	}
}

// S31: update during the outage, LiveRows: one row per key, never two.
func s31(w *world) {
	tb := w.table("items")
	w.insert(tb, 1, 2)
	c, cs := w.client(nil)
	view, err := c.LiveRows(w.ctx, "SELECT * FROM items", kalam.RowsOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	defer view.Close()
	var dup atomic.Value
	unique := func(rows []kalam.Row) bool {
		seen := map[int]bool{}
		for _, r := range rows {
			if seen[rowID(r)] {
				dup.Store(viewIDs(rows))
				return false
			}
			seen[rowID(r)] = true
		}
		return true
	}
	if err := view.WaitFor(w.ctx, func(rows []kalam.Row) bool { return unique(rows) && len(rows) == 2 }); err != nil {
		w.t.Fatal(err)
	}
	w.proxy.Down()
	w.waitDisconnects(cs, 1)
	w.exec("UPDATE app.items SET v = 'u' WHERE id = 1")
	w.restore(w.proxy.Up)
	want := w.freshSelect(tb)
	if err := view.WaitFor(w.ctx, func(rows []kalam.Row) bool { return unique(rows) && viewIDs(rows) == want }); err != nil {
		w.t.Fatalf("view never reached %s: %v (%s)", want, err, viewIDs(view.Rows()))
	}
	if d := dup.Load(); d != nil {
		w.t.Fatalf("the view held two rows for one key: %s", d)
	}
}

// S32: Drain while reconnecting and while a snapshot is loading.
func s32(w *world) {
	tb := w.table("items")
	// While reconnecting.
	c1, cs1 := w.client(nil)
	col1 := w.live(c1, "SELECT * FROM items", kalam.LiveOptions{})
	w.waitSnapshot(col1)
	w.proxy.Down()
	w.waitDisconnects(cs1, 1)
	deadline := 3 * time.Second
	ctx, cancel := context.WithTimeout(w.ctx, deadline)
	start := time.Now()
	out, err := c1.Drain(ctx)
	took := time.Since(start)
	cancel()
	if err != nil || out.TimedOut || out.Subscriptions != 1 {
		w.t.Fatalf("drain while reconnecting = %+v, %v", out, err)
	}
	if took > deadline+margin {
		w.t.Fatalf("drain took %v, deadline %v", took, deadline)
	}
	<-col1.done
	if !errors.Is(col1.err, kalam.ErrDraining) {
		w.t.Fatalf("subscription ended with %v", col1.err)
	}
	w.proxy.Up()

	// While a snapshot is loading: every batch after the first crawls.
	w.insert(tb, seq(1, 30)...)
	ft := newFrameTap(func(ws int, f frame) bool {
		if f.Type == "initial_data_batch" {
			w.proxy.SetLatency(400 * time.Millisecond)
		}
		return false
	})
	w.proxy.SetTap(ft.tap)
	c2, _ := w.client(nil)
	col2 := w.live(c2, "SELECT * FROM items", kalam.LiveOptions{BatchSize: 3})
	w.waitUntil("the first batch", func() bool { return len(added(col2.all())) > 0 }, col2.describe)
	deadline = time.Second
	ctx, cancel = context.WithTimeout(w.ctx, deadline)
	start = time.Now()
	out, err = c2.Drain(ctx)
	took = time.Since(start)
	cancel()
	if !errors.Is(err, kalam.ErrDrainTimeout) || !out.TimedOut || out.LoadsAbandoned != 1 {
		w.t.Fatalf("drain while loading = %+v, %v; want a timeout abandoning the load", out, err)
	}
	if took > deadline+margin {
		w.t.Fatalf("drain took %v, deadline %v", took, deadline)
	}
	w.proxy.Clear()
}
