package kalamtest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const ordersStar = "SELECT * FROM app.orders"

var ordersSchema = `[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},
{"name":"status","data_type":"Text","index":1},
{"name":"_seq","data_type":"BigInt","index":2,"flags":["nn"]},
{"name":"_deleted","data_type":"Boolean","index":3,"flags":["nn"]}]`

func TestSubscribeWithoutOptions(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	insertOrders(t, srv, 1, 3)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	w.subscribe("live-only", ordersStar, nil)
	ack := w.nextFrame()
	wantJSON(t, ack.payload, `{"type":"subscription_ack","subscription_id":"live-only","total_rows":0,
		"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null},"schema":`+ordersSchema+`}`)

	// No initial batch: the next frame is the live insert.
	insertOrders(t, srv, 10, 1)
	ch := w.nextType("change")
	if keys(ch) != "change_type,rows,subscription_id,type" || ch["change_type"] != "insert" || ch["subscription_id"] != "live-only" {
		t.Fatalf("change %v", ch)
	}
	r := rows(t, ch, "rows")
	if len(r) != 1 || keys(r[0]) != "_deleted,_seq,id,status" || r[0]["id"] != "10" || r[0]["_deleted"] != false {
		t.Fatalf("insert rows %v", r)
	}
	seqOf(t, r[0])
	if subs := srv.Subscriptions(); len(subs) != 1 || subs[0].State != "live" || subs[0].User != "alice" || subs[0].SQL != ordersStar {
		t.Fatalf("Subscriptions() = %+v", subs)
	}
}

func TestSubscribeEmptyTable(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	w.subscribe("empty", ordersStar, map[string]any{})
	wantJSON(t, w.nextFrame().payload, `{"type":"subscription_ack","subscription_id":"empty","total_rows":0,
		"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null},"schema":`+ordersSchema+`}`)
	wantJSON(t, w.nextFrame().payload, `{"type":"initial_data_batch","subscription_id":"empty","rows":[],
		"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null}}`)
}

func TestSubscribePaging(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	insertOrders(t, srv, 1, 5)
	mustExec(t, srv, "bob", "INSERT INTO app.orders (id, status) VALUES (100, 'bob''s')") // not alice's
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{query: "?compress=false"})
	w.subscribe("paged", ordersStar, map[string]any{"batch_size": 2})

	ack := w.nextType("subscription_ack")
	if ack["total_rows"] != json.Number("0") {
		t.Fatalf("total_rows %v", ack["total_rows"])
	}
	b0 := w.nextType("initial_data_batch")
	if !reflect.DeepEqual(ack["batch_control"], b0["batch_control"]) {
		t.Fatalf("ack control %v differs from batch 0 %v", ack["batch_control"], b0["batch_control"])
	}
	var seen []string
	var last string
	want := []struct {
		num, status string
		more        bool
		n           int
	}{{"0", "loading", true, 2}, {"1", "loading_batch", true, 2}, {"2", "ready", false, 1}}
	for i, wb := range want {
		b := b0
		if i > 0 {
			w.nextBatch("paged", json.Number(last))
			b = w.nextType("initial_data_batch")
		}
		num, more, status, l := control(t, b)
		rs := rows(t, b, "rows")
		if num != wb.num || more != wb.more || status != wb.status || len(rs) != wb.n {
			t.Fatalf("batch %d: num %s more %v status %s rows %d", i, num, more, status, len(rs))
		}
		if l != strSeq(seqOf(t, rs[len(rs)-1])) {
			t.Fatalf("last_seq_id %s is not the last row's _seq", l)
		}
		for j, r := range rs {
			if keys(r) != "_deleted,_seq,id,status" {
				t.Fatalf("row keys %s", keys(r))
			}
			if j > 0 && seqOf(t, r) <= seqOf(t, rs[j-1]) {
				t.Fatal("rows not in _seq order")
			}
		}
		seen = append(seen, ids(rs)...)
		last = l
	}
	if !slices.Equal(seen, []string{"1", "2", "3", "4", "5"}) {
		t.Fatalf("rows %v", seen)
	}
	// Live after the last batch.
	insertOrders(t, srv, 6, 1)
	if r := rows(t, w.nextType("change"), "rows"); r[0]["id"] != "6" {
		t.Fatalf("live row %v", r)
	}
	// next_batch after the load, for unknown ids, for optionless subscriptions.
	w.nextBatch("paged", json.Number(last))
	wantJSON(t, w.nextFrame().payload, `{"type":"error","subscription_id":"paged","code":"BATCH_FETCH_FAILED","message":"Initial load already complete"}`)
	w.nextBatch("nope", nil)
	if m := w.nextType("error"); m["subscription_id"] != "nope" || m["code"] != "BATCH_FETCH_FAILED" {
		t.Fatalf("unknown id: %v", m)
	}
	w.subscribe("bare", ordersStar, nil)
	w.nextType("subscription_ack")
	w.nextBatch("bare", json.Number("1"))
	if m := w.nextType("error"); m["subscription_id"] != "bare" || m["code"] != "BATCH_FETCH_FAILED" {
		t.Fatalf("optionless: %v", m)
	}
}

func TestSubscribeProjectionAndWhere(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	insertOrders(t, srv, 1, 3)
	mustExec(t, srv, "alice", "UPDATE app.orders SET status = 'paid' WHERE id = 2")
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	w.subscribe("open", "SELECT status FROM app.orders WHERE status = 'open'", map[string]any{})
	ack := w.nextType("subscription_ack")
	wantJSON(t, mustJSON(t, ack["schema"]), `[{"name":"status","data_type":"Text","index":0}]`)
	b := w.nextType("initial_data_batch")
	rs := rows(t, b, "rows")
	if len(rs) != 2 {
		t.Fatalf("rows %v", rs)
	}
	for _, r := range rs {
		if r["status"] != "open" {
			t.Fatalf("row %v", r)
		}
		seqOf(t, r) // _seq is in every row, though not in the schema
	}
}

func TestSubscribeBatchSizeZeroAndLastRows(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	insertOrders(t, srv, 1, 5)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})

	w.subscribe("zero", ordersStar, map[string]any{"batch_size": 0})
	w.nextType("subscription_ack")
	wantJSON(t, w.nextFrame().payload, `{"type":"initial_data_batch","subscription_id":"zero","rows":[],
		"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null}}`)

	w.subscribe("last2", ordersStar, map[string]any{"last_rows": 2, "batch_size": 2})
	w.nextType("subscription_ack")
	b := w.nextType("initial_data_batch")
	if _, more, status, _ := control(t, b); more || status != "ready" {
		t.Fatalf("last_rows batch %v", b["batch_control"])
	}
	if got := ids(rows(t, b, "rows")); !slices.Equal(got, []string{"4", "5"}) {
		t.Fatalf("last_rows ids %v, want the newest two ascending", got)
	}

	w.subscribe("too-many", ordersStar, map[string]any{"last_rows": 3, "batch_size": 2})
	wantJSON(t, w.nextFrame().payload, `{"type":"error","subscription_id":"too-many","code":"UNSUPPORTED",
		"message":"last_rows (3) cannot exceed batch_size (2); paginated last_rows replay is not supported"}`)
	w.subscribe("too-many-default", ordersStar, map[string]any{"last_rows": 1001})
	if m := w.nextType("error"); m["message"] != "last_rows (1001) cannot exceed batch_size (1000); paginated last_rows replay is not supported" {
		t.Fatalf("default batch size: %v", m)
	}
	if subs := srv.Subscriptions(); len(subs) != 2 {
		t.Fatalf("failed subscribes must leave nothing behind: %+v", subs)
	}
}

func TestSubscribeResumeFrom(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	insertOrders(t, srv, 1, 4)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	w.subscribe("s", ordersStar, map[string]any{})
	w.nextType("subscription_ack")
	rs := rows(t, w.nextType("initial_data_batch"), "rows")
	checkpoint := seqOf(t, rs[len(rs)-1])
	w.c.CloseNow()

	// While "disconnected": one insert, one update, one delete.
	insertOrders(t, srv, 5, 1)
	mustExec(t, srv, "alice", "UPDATE app.orders SET status = 'paid' WHERE id = 2")
	mustExec(t, srv, "alice", "DELETE FROM app.orders WHERE id = 3")

	for _, key := range []string{"from", "from_seq_id"} {
		t.Run(key, func(t *testing.T) {
			w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
			w.subscribe("s", ordersStar, map[string]any{key: checkpoint, "batch_size": 1})
			w.nextType("subscription_ack")
			var got []map[string]any
			for {
				b := w.nextType("initial_data_batch")
				got = append(got, rows(t, b, "rows")...)
				_, more, _, last := control(t, b)
				if !more {
					break
				}
				w.nextBatch("s", json.Number(last))
			}
			// Only rows with _seq > from: the updated row and the new one; the
			// deleted row is not replayed, not even as a tombstone.
			if gotIDs := ids(got); !slices.Equal(gotIDs, []string{"5", "2"}) {
				t.Fatalf("replay ids %v, want [5 2]", gotIDs)
			}
			for _, r := range got {
				if seqOf(t, r) <= checkpoint || r["_deleted"] != false {
					t.Fatalf("replayed %v at or below from=%d", r, checkpoint)
				}
			}
		})
	}

	// from beats last_rows; from above everything gives an empty ready batch.
	w = loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	w.subscribe("p", ordersStar, map[string]any{"from": checkpoint, "last_rows": 1})
	w.nextType("subscription_ack")
	if got := ids(rows(t, w.nextType("initial_data_batch"), "rows")); len(got) != 2 {
		t.Fatalf("from must take precedence over last_rows: %v", got)
	}
	w.subscribe("future", ordersStar, map[string]any{"from": int64(1) << 62})
	w.nextType("subscription_ack")
	b := w.nextType("initial_data_batch")
	if _, more, status, last := control(t, b); more || status != "ready" || last != "" || len(rows(t, b, "rows")) != 0 {
		t.Fatalf("future from: %v", b)
	}
}

// TestSubscribeBufferDuringLoad checks §4.6: changes that happen while the
// client pages through the initial load are held back and flushed, in
// _seq order, right after the last batch.
func TestSubscribeBufferDuringLoad(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	insertOrders(t, srv, 1, 4)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	w.subscribe("slow", ordersStar, map[string]any{"batch_size": 2})
	w.nextType("subscription_ack")
	_, _, _, last := control(t, w.nextType("initial_data_batch"))
	if s := srv.Subscriptions(); s[0].State != "loading" {
		t.Fatalf("state %q during the load", s[0].State)
	}

	// The client is slow: changes pile up before it asks for more.
	insertOrders(t, srv, 10, 1)
	mustExec(t, srv, "alice", "UPDATE app.orders SET status = 'paid' WHERE id = 1")
	mustExec(t, srv, "alice", "DELETE FROM app.orders WHERE id = 10")
	insertOrders(t, srv, 11, 1)

	w.nextBatch("slow", json.Number(last))
	b := w.nextType("initial_data_batch")
	if _, more, status, _ := control(t, b); more || status != "ready" {
		t.Fatalf("second batch %v", b["batch_control"])
	}
	// The snapshot is fixed at subscribe time: only rows 3 and 4 here.
	if got := ids(rows(t, b, "rows")); !slices.Equal(got, []string{"3", "4"}) {
		t.Fatalf("batch 1 ids %v", got)
	}
	var kinds []string
	var prev int64
	for range 4 {
		m := w.nextType("change")
		key := "rows"
		if m["change_type"] == "delete" {
			key = "old_values"
		}
		r := rows(t, m, key)[0]
		seq := seqOf(t, r)
		if seq <= prev {
			t.Fatal("buffered changes not in _seq order")
		}
		prev = seq
		kinds = append(kinds, fmt.Sprint(m["change_type"], ":", r["id"]))
	}
	if want := []string{"insert:10", "update:1", "delete:10", "insert:11"}; !slices.Equal(kinds, want) {
		t.Fatalf("flushed %v, want %v", kinds, want)
	}
	eventually(t, "live state", func() bool { return srv.Subscriptions()[0].State == "live" })
}

// TestSubscribeDropsChangesInSnapshot stops a subscribe between its
// registration and its snapshot end: a row committed there is in the
// snapshot, so its change must not be delivered a second time.
func TestSubscribeDropsChangesInSnapshot(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	insertOrders(t, srv, 1, 1)
	hook := func() {
		_, _ = srv.Exec(context.Background(), "alice", "INSERT INTO app.orders (id, status) VALUES (2, 'open')")
	}
	srv.hooks.afterRegister.Store(&hook)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	w.subscribe("race", ordersStar, map[string]any{})
	w.nextType("subscription_ack")
	if got := ids(rows(t, w.nextType("initial_data_batch"), "rows")); !slices.Equal(got, []string{"1", "2"}) {
		t.Fatalf("snapshot %v", got)
	}
	srv.hooks.afterRegister.Store(nil)
	insertOrders(t, srv, 3, 1)
	// The first change must be row 3, not a duplicate of row 2.
	if r := rows(t, w.nextType("change"), "rows"); r[0]["id"] != "3" {
		t.Fatalf("got %v, want the change for row 3", r)
	}
}

func TestChangeShapes(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	w.subscribe("c", ordersStar, nil)
	w.nextType("subscription_ack")

	insertOrders(t, srv, 7, 1)
	ins := w.nextType("change")
	insSeq := seqOf(t, rows(t, ins, "rows")[0])

	mustExec(t, srv, "alice", "UPDATE app.orders SET status = 'paid' WHERE id = 7")
	up := w.nextType("change")
	if keys(up) != "change_type,old_values,rows,subscription_id,type" || up["change_type"] != "update" {
		t.Fatalf("update %v", up)
	}
	nw, old := rows(t, up, "rows")[0], rows(t, up, "old_values")[0]
	if nw["id"] != "7" || nw["status"] != "paid" || old["status"] != "open" || seqOf(t, old) != insSeq || seqOf(t, nw) <= insSeq {
		t.Fatalf("update rows %v old %v", nw, old)
	}

	mustExec(t, srv, "alice", "DELETE FROM app.orders WHERE id = 7")
	del := w.nextType("change")
	if keys(del) != "change_type,old_values,subscription_id,type" || del["change_type"] != "delete" {
		t.Fatalf("delete %v", del)
	}
	if tomb := rows(t, del, "old_values")[0]; tomb["id"] != "7" || tomb["_deleted"] != true {
		t.Fatalf("tombstone %v", tomb)
	}
}

func TestSubscribeIsolationAndUnsubscribe(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	a := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	b := loginWS(t, srv, cl, "bob", bobPW, dialOpts{})
	a.subscribe("mine", ordersStar, nil)
	a.nextType("subscription_ack")
	b.subscribe("mine", ordersStar, nil) // same id, other connection
	b.nextType("subscription_ack")

	mustExec(t, srv, "bob", "INSERT INTO app.orders (id, status) VALUES (1, 'bob')")
	if r := rows(t, b.nextType("change"), "rows"); r[0]["status"] != "bob" {
		t.Fatalf("bob got %v", r)
	}
	insertOrders(t, srv, 2, 1)
	// alice's first event is her own row: bob's never reached her.
	if r := rows(t, a.nextType("change"), "rows"); r[0]["id"] != "2" {
		t.Fatalf("alice got %v", r)
	}

	// unsubscribe: no ack; unknown ids are ignored. The subscribe after it
	// is answered only once both were processed, in order.
	a.send(map[string]any{"type": "unsubscribe", "subscription_id": "mine"})
	a.send(map[string]any{"type": "unsubscribe", "subscription_id": "never-was"})
	a.subscribe("other", ordersStar, nil)
	if m := a.next(); m["type"] != "subscription_ack" || m["subscription_id"] != "other" {
		t.Fatalf("after unsubscribe got %v", m)
	}
	insertOrders(t, srv, 3, 1)
	if m := a.nextType("change"); m["subscription_id"] != "other" {
		t.Fatalf("change for %v after unsubscribe", m["subscription_id"])
	}
	insertOrders(t, srv, 4, 1)
	if m := a.nextType("change"); m["subscription_id"] != "other" || rows(t, m, "rows")[0]["id"] != "4" {
		t.Fatalf("change %v", m)
	}
}

func TestResubscribeReplaces(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.MaxSubscriptionsPerUser = 1 })
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	w.subscribe("x", ordersStar, nil)
	w.nextType("subscription_ack")
	// Same id again: replaces, does not count twice against the cap of 1.
	w.subscribe("x", "SELECT id FROM app.orders WHERE id > 100", nil)
	w.nextType("subscription_ack")
	insertOrders(t, srv, 1, 1)
	insertOrders(t, srv, 101, 1)
	if r := rows(t, w.nextType("change"), "rows"); r[0]["id"] != "101" {
		t.Fatalf("the replaced query still delivers: %v", r)
	}
	if s := srv.Subscriptions(); len(s) != 1 || !strings.Contains(s[0].SQL, "id > 100") {
		t.Fatalf("Subscriptions() = %+v", s)
	}
}

func TestSubscribeErrors(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	mustExec(t, srv, "root", "CREATE SHARED TABLE app.secret (id INT PRIMARY KEY)")

	// Before authentication: the literal "subscribe" placeholder.
	w := dialWS(t, srv, dialOpts{})
	w.subscribe("early", ordersStar, nil)
	wantJSON(t, w.nextFrame().payload, `{"type":"error","subscription_id":"subscribe","code":"AUTH_REQUIRED","message":"Authentication required"}`)

	w = loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	tests := []struct {
		id, sql string
		wantID  string
		code    string
		msg     string // prefix
	}{
		{"  ", ordersStar, "invalid_subscription", "INVALID_SUBSCRIPTION_ID", ""},
		{"q1", "SELECT * FROM orders", "q1", "INVALID_SQL", "Invalid SQL: Query must use namespace.table format"},
		{"q2", "DELETE FROM app.orders", "q2", "INVALID_SQL", "Invalid SQL: "},
		{"q3", "SELECT * FROM app.orderz", "q3", "NOT_FOUND", "Not found: "},
		{"q4", "SELECT * FROM system.users", "q4", "UNAUTHORIZED", ""},
		{"q5", "SELECT * FROM app.secret", "q5", "UNAUTHORIZED", ""},
		{"q6", "SELECT * FROM app.orders ORDER BY id", "q6", "INVALID_SQL", "Invalid SQL: "},
	}
	for _, tt := range tests {
		w.subscribe(tt.id, tt.sql, map[string]any{})
		m := w.nextType("error")
		if keys(m) != "code,message,subscription_id,type" || m["subscription_id"] != tt.wantID || m["code"] != tt.code ||
			!strings.HasPrefix(m["message"].(string), tt.msg) {
			t.Errorf("subscribe %q %q: %v", tt.id, tt.sql, m)
		}
	}
	if s := srv.Subscriptions(); len(s) != 0 {
		t.Fatalf("failed subscribes left %+v", s)
	}
	cl.healthy()
}

func TestSubscriptionCaps(t *testing.T) {
	srv := startServer(t, func(c *Config) {
		c.MaxMessagesPerSec = -1 // 100 subscribes in a row are the point here
		// The per-user cap (100 by default) is checked before the
		// per-connection cap, so it must be higher to reach the latter.
		c.MaxSubscriptionsPerUser = 1000
	})
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	for i := range MaxSubscriptionsPerConnection {
		w.subscribe("s"+strconv.Itoa(i), ordersStar, nil)
		w.nextType("subscription_ack")
	}
	w.subscribe("one-too-many", ordersStar, nil)
	wantJSON(t, w.nextFrame().payload, `{"type":"error","subscription_id":"one-too-many","code":"UNSUPPORTED",
		"message":"Invalid operation: Maximum subscriptions (100) per connection exceeded"}`)
	// Replacing an existing id is still allowed at the cap.
	w.subscribe("s0", ordersStar, nil)
	w.nextType("subscription_ack")
	// A second connection of the same user has its own 100.
	w2 := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	w2.subscribe("s0", ordersStar, nil)
	w2.nextType("subscription_ack")
	if n := len(srv.Subscriptions()); n != 101 {
		t.Fatalf("%d subscriptions", n)
	}
	cl.healthy()
}

func TestPerUserSubscriptionCap(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.MaxSubscriptionsPerUser = 2 })
	cl := newClient(t, srv)
	a1 := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	a2 := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	a1.subscribe("a", ordersStar, nil)
	a1.nextType("subscription_ack")
	a2.subscribe("b", ordersStar, nil)
	a2.nextType("subscription_ack")
	a2.subscribe("c", ordersStar, nil)
	wantJSON(t, a2.nextFrame().payload, `{"type":"error","subscription_id":"c","code":"SUBSCRIPTION_LIMIT_EXCEEDED","message":"Maximum subscriptions reached"}`)
	// bob is not affected.
	b := loginWS(t, srv, cl, "bob", bobPW, dialOpts{})
	b.subscribe("c", ordersStar, nil)
	b.nextType("subscription_ack")
	// Unsubscribing frees a slot; a closed connection frees its slots.
	a1.send(map[string]any{"type": "unsubscribe", "subscription_id": "a"})
	eventually(t, "the slot to free", func() bool {
		a2.subscribe("c", ordersStar, nil)
		return a2.next()["type"] == "subscription_ack"
	})
	a2.c.CloseNow()
	eventually(t, "the connection to go", func() bool { return srv.Connections() == 2 })
	a1.subscribe("d", ordersStar, nil)
	a1.nextType("subscription_ack")
}

func TestGzipFrames(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	insertOrders(t, srv, 1, 50)

	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	w.subscribe("big", ordersStar, map[string]any{})
	if ack := w.nextFrame(); ack.binary != (len(ack.payload) >= 512) {
		t.Fatalf("ack of %d bytes: binary %v", len(ack.payload), ack.binary)
	}
	b := w.nextFrame()
	if !b.binary || b.raw[0] != 0x1f || b.raw[1] != 0x8b || len(b.raw) >= len(b.payload) || len(rows(t, b.msg, "rows")) != 50 {
		t.Fatalf("batch: binary %v, %d bytes for %d", b.binary, len(b.raw), len(b.payload))
	}
	// Small messages stay text.
	w.subscribe("small", ordersStar, nil)
	w.nextType("subscription_ack")
	insertOrders(t, srv, 100, 1)
	for range 2 {
		f := w.nextFrame()
		if f.binary || len(f.payload) >= 512 {
			t.Fatalf("small change: binary %v, %d bytes", f.binary, len(f.payload))
		}
	}

	w = loginWS(t, srv, cl, "alice", alicePW, dialOpts{query: "?compress=false"})
	w.subscribe("big", ordersStar, map[string]any{})
	for range 2 {
		if f := w.nextFrame(); f.binary {
			t.Fatal("compress=false must send text frames")
		}
	}
	w = loginWS(t, srv, cl, "alice", alicePW, dialOpts{query: "?COMPRESS=FALSE"})
	w.subscribe("big", ordersStar, map[string]any{})
	if f := w.nextFrame(); f.binary {
		t.Fatal("query parameters match case-insensitively")
	}
}

// TestBurstDelivered: with an unbounded outgoing queue a large burst is
// delivered whole and in order; nothing is dropped or cut. (With the
// default queue of 128 most of it is dropped: TestQueueDropsSilently.)
func TestBurstDelivered(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.OutgoingQueue = -1 })
	cl := newClient(t, srv)
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	w.subscribe("burst", ordersStar, nil)
	w.nextType("subscription_ack")
	const n = 3000
	insertOrders(t, srv, 1, n)
	var prev int64
	for i := 1; i <= n; i++ {
		r := rows(t, w.nextType("change"), "rows")[0]
		if r["id"] != strconv.Itoa(i) || seqOf(t, r) <= prev {
			t.Fatalf("change %d: %v", i, r)
		}
		prev = seqOf(t, r)
	}
	if st := srv.Stats(); st.NotificationsDropped != 0 || st.OverflowCloses != 0 {
		t.Fatalf("stats %+v", st)
	}
}
