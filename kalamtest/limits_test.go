package kalamtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kalamgo/kalam/transport/wire"
)

// Tests of KalamDB's limits, which kalamtest applies by default
// (PROTOCOL.md §4.3, §4.6, §4.9), and of the drop report.

// rowSeqs returns the _seq of alice's orders matching where, ascending.
func rowSeqs(t *testing.T, srv *Server, where string) []wire.SeqID {
	t.Helper()
	r := mustExec(t, srv, "alice", "SELECT _seq FROM app.orders WHERE "+where+" ORDER BY _seq")
	var out []wire.SeqID
	for _, row := range r.Results[0].Rows {
		var s wire.SeqID
		if err := json.Unmarshal(row[0], &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// changeSeq returns the _seq of a change message's row.
func changeSeq(t *testing.T, m map[string]any) wire.SeqID {
	t.Helper()
	key := "rows"
	if m["change_type"] == "delete" {
		key = "old_values"
	}
	return wire.SeqID(seqOf(t, rows(t, m, key)[0]))
}

func subDrops(t *testing.T, r DropReport, conn uint64, id string) SubscriptionDrops {
	t.Helper()
	for _, c := range r.Connections {
		if c.Conn != conn {
			continue
		}
		for _, s := range c.Subscriptions {
			if s.ID == id {
				return s
			}
		}
	}
	t.Fatalf("no drops of subscription %q on connection %d in %+v", id, conn, r)
	return SubscriptionDrops{}
}

func sortedSeqs(s []wire.SeqID) []wire.SeqID {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestQueueDropsSilentlyDefault: with the defaults, a connection whose
// writer is stuck keeps exactly 128 changes; the others are dropped
// without a word to the client, counted per subscription with their _seq,
// and the connection lives on.
func TestQueueDropsSilentlyDefault(t *testing.T) {
	srv := startServer(t, nil)
	if c := srv.Config(); c.OutgoingQueue != 128 || c.Overflow != OverflowDrop {
		t.Fatalf("defaults: queue %d overflow %q", c.OutgoingQueue, c.Overflow)
	}
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	w.subscribe("a", ordersStar, nil)
	w.nextType("subscription_ack")
	w.subscribe("b", ordersStar+" WHERE id > 100", nil)
	w.nextType("subscription_ack")

	release := blockWrites(srv)
	defer release()
	insertOrders(t, srv, 1, 200) // "a" gets 200 changes, "b" 100
	eventually(t, "the drops", func() bool { return srv.Drops().Changes == 300-128 })
	release()

	got := map[string][]wire.SeqID{}
	for range 128 {
		m := w.nextType("change")
		id := m["subscription_id"].(string)
		got[id] = append(got[id], changeSeq(t, m))
	}
	// Nothing else arrives for those 300 changes: a marker insert is next.
	insertOrders(t, srv, 1000, 1)
	for range 2 {
		if m := w.nextType("change"); rows(t, m, "rows")[0]["id"] != "1000" {
			t.Fatalf("after the 128 kept: %v", m)
		}
	}

	r := srv.Drops()
	if r.Changes != 172 || r.Queue != 172 || r.Flush != 0 || r.LoadBuffer != 0 || len(r.Connections) != 1 {
		t.Fatalf("report %+v", r)
	}
	c := r.Connections[0]
	if c.User != "alice" || !c.Open || c.Changes != 172 || c.Queue != 172 {
		t.Fatalf("connection %+v", c)
	}
	for id, where := range map[string]string{"a": "id <= 200", "b": "id > 100 AND id <= 200"} {
		all := rowSeqs(t, srv, where)
		d := subDrops(t, r, c.Conn, id)
		if !d.Complete() || d.Changes != d.Queue || int(d.Changes)+len(got[id]) != len(all) {
			t.Fatalf("%s: %d delivered, drops %+v, %d changes", id, len(got[id]), d, len(all))
		}
		// Delivered and dropped together are every change, each once.
		union := sortedSeqs(append(slices.Clone(got[id]), d.Seqs...))
		if !slices.Equal(union, all) {
			t.Fatalf("%s: delivered ∪ dropped is not the set of changes", id)
		}
		if d.MinSeq != slices.Min(d.Seqs) || d.MaxSeq != slices.Max(d.Seqs) {
			t.Fatalf("%s: min/max %v %v", id, d.MinSeq, d.MaxSeq)
		}
	}
	if st := srv.Stats(); st.NotificationsDropped != 172 || st.OverflowCloses != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestQueueDropsWhenReaderStops: a real client that stops reading fills
// the socket buffers, then the queue; changes beyond are dropped. When it
// reads again it gets exactly the changes the server did not report as
// dropped.
func TestQueueDropsWhenReaderStops(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{query: "?compress=false"})
	w.subscribe("s", ordersStar, nil)
	w.nextType("subscription_ack")

	// About 2 KiB per change, uncompressed: 40 statements of 100 rows
	// are 8 MiB, more than loopback socket buffers hold.
	pad := strings.Repeat("x", 2000)
	const stmts, per = 40, 100
	for i := range stmts {
		var b strings.Builder
		b.WriteString("INSERT INTO app.orders (id, status) VALUES ")
		for j := range per {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "(%d, '%s')", i*per+j+1, pad)
		}
		mustExec(t, srv, "alice", b.String())
	}
	const total = stmts * per
	// The writer is stuck on the full socket: every change is written,
	// queued or dropped.
	eventually(t, "every change written, queued or dropped", func() bool {
		return srv.Stats().NotificationsSent+int64(queuedNotifications(srv))+srv.Drops().Changes == total
	})
	dropped := srv.Drops().Changes
	if dropped == 0 {
		t.Fatal("a reader that stopped lost nothing: the queue is not bounded")
	}
	var got []wire.SeqID
	for int64(len(got)) < total-dropped {
		got = append(got, changeSeq(t, w.nextType("change")))
	}
	d := subDrops(t, srv.Drops(), srv.Drops().Connections[0].Conn, "s")
	union := sortedSeqs(append(got, d.Seqs...))
	if !d.Complete() || !slices.Equal(union, rowSeqs(t, srv, "id > 0")) {
		t.Fatalf("delivered %d + dropped %d do not make up the %d changes", len(got), len(d.Seqs), total)
	}
	t.Logf("reader stopped: %d delivered, %d dropped", len(got), dropped)
}

// TestQueueLoosened: a larger queue keeps more; a negative one keeps all.
func TestQueueLoosened(t *testing.T) {
	for _, q := range []int{300, -1} {
		t.Run(strconv.Itoa(q), func(t *testing.T) {
			srv := startServer(t, func(c *Config) { c.OutgoingQueue = q })
			cl := newClient(t, srv)
			w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
			w.subscribe("s", ordersStar, nil)
			w.nextType("subscription_ack")
			release := blockWrites(srv)
			defer release()
			insertOrders(t, srv, 1, 400)
			want := int64(100)
			if q < 0 {
				want = 0
			}
			eventually(t, "the changes to be queued or dropped", func() bool {
				return int64(queuedNotifications(srv))+srv.Drops().Changes == 400
			})
			if got := srv.Drops().Changes; got != want {
				t.Fatalf("dropped %d, want %d", got, want)
			}
		})
	}
}

// loadWithBuffered subscribes with batch_size 1 to 3 existing rows, writes
// n more while batch 0 is out, then pages to the end. It returns the
// connection number.
func loadWithBuffered(t *testing.T, srv *Server, w *wsClient, n int) uint64 {
	t.Helper()
	insertOrders(t, srv, 1, 3)
	w.subscribe("load", ordersStar, map[string]any{"batch_size": 1})
	w.nextType("subscription_ack")
	_, _, _, last := control(t, w.nextType("initial_data_batch"))
	insertOrders(t, srv, 10, n)
	eventually(t, "the changes to reach the buffer", func() bool {
		st := srv.Stats()
		return st.NotificationsDropped+int64(bufferedLen(srv, "load")) == int64(n)
	})
	for {
		w.nextBatch("load", json.Number(last))
		b := w.nextType("initial_data_batch")
		var more bool
		_, more, _, last = control(t, b)
		if !more {
			break
		}
	}
	return srv.Subscriptions()[0].Conn
}

// bufferedLen is the length of the loading buffer of subscription id.
func bufferedLen(srv *Server, id string) int {
	srv.mu.Lock()
	conns := srv.wsListLocked()
	srv.mu.Unlock()
	for _, c := range conns {
		c.mu.Lock()
		sub := c.subs[id]
		c.mu.Unlock()
		if sub != nil {
			sub.mu.Lock()
			n := len(sub.buffered)
			sub.mu.Unlock()
			return n
		}
	}
	return 0
}

// TestLoadingBufferKeepsNewest: 1,500 changes during a load; the buffer
// keeps the newest 1,024 and the 476 oldest are dropped and reported.
func TestLoadingBufferKeepsNewest(t *testing.T) {
	// The outgoing queue is unbounded here so that the whole flush of
	// 1,024 fits and the buffer's own limit is what is measured.
	srv := startServer(t, func(c *Config) { c.OutgoingQueue = -1 })
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	conn := loadWithBuffered(t, srv, w, 1500)

	all := rowSeqs(t, srv, "id >= 10")
	var got []wire.SeqID
	for range 1024 {
		got = append(got, changeSeq(t, w.nextType("change")))
	}
	if !slices.Equal(got, all[476:]) {
		t.Fatal("the flush is not the newest 1,024 changes in _seq order")
	}
	d := subDrops(t, srv.Drops(), conn, "load")
	if d.LoadBuffer != 476 || d.Changes != 476 || !slices.Equal(sortedSeqs(d.Seqs), all[:476]) {
		t.Fatalf("drops %d/%d, seqs match %v", d.LoadBuffer, d.Changes, slices.Equal(sortedSeqs(d.Seqs), all[:476]))
	}
	eventually(t, "live state", func() bool { return srv.Subscriptions()[0].State == "live" })
}

// TestLoadingBufferFlushThroughQueue: with both defaults, the flush of
// 1,024 buffered changes meets the 128-change queue: the oldest 128 go
// out, the rest are dropped as Flush drops.
func TestLoadingBufferFlushThroughQueue(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	conn := loadWithBuffered(t, srv, w, 1100)

	all := rowSeqs(t, srv, "id >= 10")
	var got []wire.SeqID
	for range 128 {
		got = append(got, changeSeq(t, w.nextType("change")))
	}
	kept := all[1100-1024:]
	if !slices.Equal(got, kept[:128]) {
		t.Fatal("the flush did not start with the oldest buffered changes")
	}
	d := subDrops(t, srv.Drops(), conn, "load")
	if d.LoadBuffer != 76 || d.Flush != 1024-128 || d.Changes != 76+896 {
		t.Fatalf("drops %+v", d)
	}
	if !slices.Equal(sortedSeqs(d.Seqs), sortedSeqs(append(slices.Clone(all[:76]), kept[128:]...))) {
		t.Fatal("the reported seqs are not the changes that never arrived")
	}
	insertOrders(t, srv, 5000, 1)
	if m := w.nextType("change"); rows(t, m, "rows")[0]["id"] != "5000" {
		t.Fatalf("after the flush: %v", m)
	}
}

// TestLoadingBufferLoosened: an unbounded buffer (and queue) keeps all.
func TestLoadingBufferLoosened(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.LoadingBuffer = -1; c.OutgoingQueue = -1 })
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	loadWithBuffered(t, srv, w, 1500)
	for range 1500 {
		w.nextType("change")
	}
	if r := srv.Drops(); r.Changes != 0 {
		t.Fatalf("drops %+v", r)
	}
}

const rateLimitError = `{"type":"error","subscription_id":"rate_limit","code":"RATE_LIMIT_EXCEEDED","message":"Too many messages"}`

// burstPings sends n pings at once and returns how many were refused, once
// the server has read them all.
func burstPings(t *testing.T, srv *Server, w *wsClient, n int) int {
	t.Helper()
	in0, rl0 := srv.Stats().MessagesIn, srv.Drops().RateLimited
	for range n {
		w.sendText(`{"type":"ping"}`)
	}
	eventually(t, "the server to read the burst", func() bool { return srv.Stats().MessagesIn == in0+int64(n) })
	refused := int(srv.Drops().RateLimited - rl0)
	for range refused {
		wantJSON(t, w.nextFrame().payload, rateLimitError)
	}
	return refused
}

// TestRateLimitBurst: 60 text frames at once against 50/s: about 50 pass,
// the rest are answered with the rate_limit error; the bucket refills;
// binary frames take no token.
func TestRateLimitBurst(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	time.Sleep(40 * time.Millisecond) // the token authenticate took comes back
	refused := burstPings(t, srv, w, 60)
	t.Logf("%d of 60 refused", refused)
	if refused < 5 || refused > 11 {
		t.Fatalf("%d of 60 refused, want about 10", refused)
	}
	// 200 ms refill 10 tokens at 50/s: 8 pings now all pass.
	time.Sleep(200 * time.Millisecond)
	if n := burstPings(t, srv, w, 8); n != 0 {
		t.Fatalf("%d refused after the refill", n)
	}
	// Binary frames are not rate-limited: 60 get UNSUPPORTED_DATA each.
	rl := srv.Drops().RateLimited
	for range 60 {
		if err := w.c.Write(t.Context(), websocket.MessageBinary, []byte{1}); err != nil {
			t.Fatal(err)
		}
	}
	for range 60 {
		if m := w.nextType("error"); m["code"] != "UNSUPPORTED_DATA" {
			t.Fatalf("binary frame: %v", m)
		}
	}
	if got := srv.Drops().RateLimited; got != rl {
		t.Fatalf("binary frames were rate-limited: %d", got-rl)
	}
	r := srv.Drops()
	if r.Changes != 0 || len(r.Connections) != 1 || r.Connections[0].RateLimited != int64(refused) ||
		r.Connections[0].User != "alice" || len(r.Connections[0].Subscriptions) != 0 {
		t.Fatalf("report %+v", r)
	}
	// The connection works.
	time.Sleep(40 * time.Millisecond)
	w.subscribe("after", ordersStar, nil)
	w.nextType("subscription_ack")
}

// TestRateLimitLoosened: at 100/s the same burst passes whole.
func TestRateLimitLoosened(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.MaxMessagesPerSec = 100 })
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	if n := burstPings(t, srv, w, 60); n != 0 {
		t.Fatalf("%d refused at 100/s", n)
	}
}

// subscribeN subscribes ids prefix0… on w and expects an ack for each.
func subscribeN(t *testing.T, w *wsClient, prefix string, n int) {
	t.Helper()
	for i := range n {
		w.subscribe(prefix+strconv.Itoa(i), ordersStar, nil)
		w.nextType("subscription_ack")
	}
}

// TestPerUserCapDefault: the per-user cap of 100 holds across connections.
func TestPerUserCapDefault(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.MaxMessagesPerSec = -1 }) // 100 subscribes in a row are the point
	if c := srv.Config(); c.MaxSubscriptionsPerUser != 100 || c.MaxSubscriptionsPerConnection != 100 {
		t.Fatalf("defaults %d %d", c.MaxSubscriptionsPerUser, c.MaxSubscriptionsPerConnection)
	}
	cl := newClient(t, srv)
	a1 := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	a2 := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	subscribeN(t, a1, "a", 60)
	subscribeN(t, a2, "b", 40)
	a2.subscribe("b40", ordersStar, nil)
	wantJSON(t, a2.nextFrame().payload,
		`{"type":"error","subscription_id":"b40","code":"SUBSCRIPTION_LIMIT_EXCEEDED","message":"Maximum subscriptions reached"}`)
	// The per-user check comes before the table checks (§4.6 order).
	a1.subscribe("a60", "SELECT * FROM app.nope", nil)
	if m := a1.nextType("error"); m["code"] != "SUBSCRIPTION_LIMIT_EXCEEDED" {
		t.Fatalf("check order: %v", m)
	}
}

// TestSubscriptionCapsLoosened: without caps one connection holds 150.
func TestSubscriptionCapsLoosened(t *testing.T) {
	srv := startServer(t, func(c *Config) {
		c.MaxMessagesPerSec = -1 // 150 subscribes in a row
		c.MaxSubscriptionsPerUser = -1
		c.MaxSubscriptionsPerConnection = -1
	})
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	subscribeN(t, w, "s", 150)
	if n := len(srv.Subscriptions()); n != 150 {
		t.Fatalf("%d subscriptions", n)
	}
}

// TestPerConnectionCapConfigured: a per-connection cap of 3 is refused
// with UNSUPPORTED naming 3.
func TestPerConnectionCapConfigured(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.MaxSubscriptionsPerConnection = 3 })
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	subscribeN(t, w, "s", 3)
	w.subscribe("s3", ordersStar, nil)
	wantJSON(t, w.nextFrame().payload, `{"type":"error","subscription_id":"s3","code":"UNSUPPORTED",
		"message":"Invalid operation: Maximum subscriptions (3) per connection exceeded"}`)
}

// TestDropReportAdmin: Go and the admin endpoint report the same drops,
// with _seq values as strings; the records outlive the connection.
func TestDropReportAdmin(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.OutgoingQueue = 2 })
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	w.subscribe("s", ordersStar, nil)
	w.nextType("subscription_ack")
	release := blockWrites(srv)
	defer release()
	insertOrders(t, srv, 1, 7)
	eventually(t, "5 drops", func() bool { return srv.Drops().Changes == 5 })
	release()
	for range 2 {
		w.nextType("change")
	}
	_ = w.c.Close(websocket.StatusNormalClosure, "")
	eventually(t, "the connection to go", func() bool { return srv.Connections() == 0 })

	goReport := srv.Drops()
	res := cl.request(http.MethodGet, "/_kalamtest/drops", "")
	if res.Status != 200 {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	var raw struct {
		Connections []struct {
			Subscriptions []struct {
				Seqs   []any `json:"seqs"`
				MinSeq any   `json:"min_seq"`
			} `json:"subscriptions"`
		} `json:"connections"`
	}
	if err := json.Unmarshal(res.Body, &raw); err != nil {
		t.Fatal(err)
	}
	sd := raw.Connections[0].Subscriptions[0]
	if _, ok := sd.Seqs[0].(string); !ok || len(sd.Seqs) != 5 {
		t.Fatalf("seqs are not strings: %s", res.Body)
	}
	if _, ok := sd.MinSeq.(string); !ok {
		t.Fatalf("min_seq is not a string: %s", res.Body)
	}
	var httpReport DropReport
	if err := json.Unmarshal(res.Body, &httpReport); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(goReport, httpReport) {
		t.Fatalf("Go %+v\nHTTP %+v", goReport, httpReport)
	}
	if c := goReport.Connections[0]; c.Open || c.Queue != 5 || !slices.Equal(sortedSeqs(c.Subscriptions[0].Seqs), rowSeqs(t, srv, "id > 2")) {
		t.Fatalf("report %+v", goReport)
	}
	if seqs, complete := goReport.Seqs("s"); !complete || !slices.Equal(seqs, rowSeqs(t, srv, "id > 2")) {
		t.Fatalf("Seqs(s) = %v, %v", seqs, complete)
	}
	if seqs, complete := goReport.Seqs("other"); len(seqs) != 0 || !complete {
		t.Fatalf("Seqs(other) = %v, %v", seqs, complete)
	}
	srv.ResetDrops()
	if r := srv.Drops(); r.Changes != 0 || len(r.Connections) != 0 {
		t.Fatalf("after ResetDrops %+v", r)
	}
}

// TestDropSeqsBounded: past MaxDropSeqs drops a subscription's record
// keeps counting and keeps the smallest and largest _seq, but lists only
// the first MaxDropSeqs.
func TestDropSeqsBounded(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	w.subscribe("s", ordersStar, nil)
	w.nextType("subscription_ack")
	release := blockWrites(srv)
	defer release()
	const n = MaxDropSeqs + 500
	for i := 0; i < n; i += 1000 {
		insertOrders(t, srv, i+1, min(1000, n-i))
	}
	eventually(t, "the drops", func() bool { return srv.Drops().Changes == n-128 })
	d := subDrops(t, srv.Drops(), srv.Subscriptions()[0].Conn, "s")
	all := rowSeqs(t, srv, "id > 0")
	if d.Complete() || len(d.Seqs) != MaxDropSeqs || d.Changes != n-128 ||
		!slices.Equal(d.Seqs, all[128:128+MaxDropSeqs]) || d.MinSeq != all[128] || d.MaxSeq != all[n-1] {
		t.Fatalf("record: %d seqs, %d changes, complete %v", len(d.Seqs), d.Changes, d.Complete())
	}
	if _, complete := srv.Drops().Seqs("s"); complete {
		t.Fatal("Seqs claims a truncated record is complete")
	}
}
