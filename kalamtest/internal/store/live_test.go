package store

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/kalamgo/kalam/transport/wire"
)

func liveStore(t *testing.T) *Store {
	t.Helper()
	s := newStore(t)
	mustExec(t, s, rootSess, `CREATE USER TABLE app.orders (id BIGINT PRIMARY KEY, status TEXT, note TEXT, qty INT)`)
	mustExec(t, s, rootSess, `CREATE SHARED TABLE app.board (id INT PRIMARY KEY, body TEXT) WITH (ACCESS_LEVEL = 'public')`)
	mustExec(t, s, rootSess, `CREATE SHARED TABLE app.secret (id INT PRIMARY KEY)`)
	return s
}

func TestPrepareLiveErrors(t *testing.T) {
	s := liveStore(t)
	tests := []struct {
		sess   Session
		sql    string
		status int
		code   string
		msg    string
	}{
		{aliceSess, "SELECT * FROM orders", 400, wire.CodeInvalidSQL, "Invalid SQL: Query must use namespace.table format"},
		{aliceSess, "SELECT * FROM app.orderz", 404, wire.CodeNotFound, "Not found: Table not found: app.orderz"},
		{aliceSess, "SELECT * FROM system.users", 403, wire.CodeUnauthorized, "Permission denied: Cannot subscribe to system table 'system.users': insufficient privileges. Only DBA and system roles can subscribe to system tables."},
		{aliceSess, "SELECT * FROM app.secret", 403, wire.CodeUnauthorized, "Permission denied: Cannot subscribe to shared table 'app.secret': access level 'Private' requires elevated privileges."},
		{aliceSess, "SELECT * FROM app.orders ORDER BY id", 400, wire.CodeInvalidSQL, "Invalid SQL: Subscription query does not support ORDER BY. Only SELECT ... FROM ... [WHERE ...] is supported."},
		{aliceSess, "SELECT * FROM app.orders WHERE qty > 1 ORDER BY id", 400, wire.CodeInvalidSQL, "Invalid SQL: Subscription query does not support ORDER BY. Only SELECT ... FROM ... [WHERE ...] is supported."},
		{aliceSess, "SELECT * FROM app.orders LIMIT 5", 400, wire.CodeInvalidSQL, "Invalid SQL: " + onlySelect},
		{aliceSess, "SELECT * FROM app.orders WHERE qty > 1 LIMIT 5", 400, wire.CodeInvalidSQL, "Invalid SQL: " + onlySelect},
		{aliceSess, "SELECT status FROM app.orders GROUP BY status", 400, wire.CodeInvalidSQL, "Invalid SQL: Subscription query does not support GROUP BY. Only SELECT ... FROM ... [WHERE ...] is supported."},
		{aliceSess, "WITH x AS (SELECT 1) SELECT * FROM app.orders", 400, wire.CodeInvalidSQL, "Invalid SQL: Subscription query does not support WITH clauses. Only SELECT ... FROM ... [WHERE ...] is supported."},
		{aliceSess, "SELECT * FROM app.orders o JOIN app.board b ON o.id = b.id", 400, wire.CodeInvalidSQL, "Invalid SQL: Subscription query does not support JOIN clauses. Only SELECT ... FROM ... [WHERE ...] is supported."},
		{aliceSess, "SELECT * FROM app.orders, app.board", 400, wire.CodeInvalidSQL, "Invalid SQL: Subscription query requires exactly one table in the FROM clause."},
		{aliceSess, "SELECT * FROM (SELECT * FROM app.orders)", 400, wire.CodeInvalidSQL, "Invalid SQL: Subscription query requires a direct table reference in FROM."},
		{aliceSess, "SELECT * FROM app.orders UNION SELECT * FROM app.orders", 400, wire.CodeInvalidSQL, "Invalid SQL: Subscription query supports only simple SELECT statements."},
		{aliceSess, "SELECT DISTINCT status FROM app.orders", 400, wire.CodeInvalidSQL, "Invalid SQL: " + onlySelect},
		{aliceSess, "SELECT count(*) FROM app.orders", 400, wire.CodeInvalidSQL, "Invalid SQL: Subscription query supports only column names or * in the SELECT list."},
		{aliceSess, "SELECT id, _seq FROM app.orders", 400, wire.CodeInvalidSQL, "Invalid SQL: Subscription query cannot project system columns '_seq' or '_deleted'."},
		{aliceSess, "SELECT nope FROM app.orders", 400, wire.CodeInvalidSQL, "Invalid SQL: Column 'nope' not found in app.orders"},
		{aliceSess, "SELECT * FROM app.orders WHERE nope = 1", 400, wire.CodeInvalidSQL, "Invalid SQL: no such column: nope"},
		{aliceSess, "SELECT * FROM app.orders WHERE id = $1", 400, wire.CodeInvalidSQL, "Invalid SQL: parameters are not supported in subscriptions"},
		{aliceSess, "SELECT * FROM app.orders WHERE id IN (SELECT id FROM app.board)", 400, wire.CodeInvalidSQL, "Invalid SQL: subqueries are not supported in subscription filters"},
		{aliceSess, "DELETE FROM app.orders", 400, wire.CodeInvalidSQL, "Invalid SQL: Subscription query supports only simple SELECT statements."},
		{aliceSess, "SELECT * FROM app.orders; SELECT 1", 400, wire.CodeInvalidSQL, "Invalid SQL: Subscription query must be exactly one SELECT statement."},
		{aliceSess, "SELECT * FROM app.orders WHERE", 400, wire.CodeInvalidSQL, "Invalid SQL: expected a condition after WHERE"},
		{rootSess, `SELECT * FROM app."orders#"`, 400, wire.CodeInvalidSQL, "Invalid SQL: Identifier 'app.orders#' is reserved"},
		{rootSess, `SELECT * FROM app.orders WHERE _kalam_owner = 'bob'`, 400, wire.CodeInvalidSQL, "Invalid SQL: Identifier '_kalam_owner' is reserved"},
		{rootSess, "SELECT * FROM system.users", 400, wire.CodeUnsupported, "Invalid operation: kalamtest does not support subscriptions to system tables"},
	}
	for _, tc := range tests {
		_, err := s.PrepareLive(tc.sess, tc.sql)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: error %v", tc.sql, err)
			continue
		}
		if e.Status != tc.status || e.Code != tc.code || e.Message != tc.msg {
			t.Errorf("%s:\n got %d %s %q\nwant %d %s %q", tc.sql, e.Status, e.Code, e.Message, tc.status, tc.code, tc.msg)
		}
	}
	// Accepted shapes.
	for _, sql := range []string{
		"SELECT * FROM app.orders",
		"select id, status from APP.ORDERS where status = 'open' and qty > 2",
		"SELECT o.id FROM app.orders AS o WHERE o.status = 'x'",
		"SELECT app.orders.id FROM app.orders WHERE app.orders.qty IS NULL",
		"SELECT * FROM app.board",
		"SELECT * FROM app.orders WHERE note = CURRENT_USER();",
	} {
		if _, err := s.PrepareLive(aliceSess, sql); err != nil {
			t.Errorf("%s: %v", sql, err)
		}
	}
}

func TestLiveSchema(t *testing.T) {
	s := liveStore(t)
	q, err := s.PrepareLive(aliceSess, "SELECT * FROM app.orders")
	if err != nil {
		t.Fatal(err)
	}
	if q.Table() != "app.orders" {
		t.Errorf("Table %q", q.Table())
	}
	want := `[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},{"name":"status","data_type":"Text","index":1},` +
		`{"name":"note","data_type":"Text","index":2},{"name":"qty","data_type":"Int","index":3},` +
		`{"name":"_seq","data_type":"BigInt","index":4,"flags":["nn"]},{"name":"_deleted","data_type":"Boolean","index":5,"flags":["nn"]}]`
	if got := toJSON(t, q.Schema()); got != want {
		t.Errorf("SELECT * schema\n got %s\nwant %s", got, want)
	}
	q, err = s.PrepareLive(aliceSess, "SELECT qty, id FROM app.orders")
	if err != nil {
		t.Fatal(err)
	}
	want = `[{"name":"qty","data_type":"Int","index":0},{"name":"id","data_type":"BigInt","index":1,"flags":["pk","nn","uq"]}]`
	if got := toJSON(t, q.Schema()); got != want {
		t.Errorf("projection schema\n got %s\nwant %s", got, want)
	}
}

func rowsText(rows []wire.Row) string {
	out := "["
	for i, r := range rows {
		if i > 0 {
			out += ","
		}
		out += string(r)
	}
	return out + "]"
}

// seqOf extracts _seq from a row.
func seqOf(t *testing.T, r wire.Row) wire.SeqID {
	t.Helper()
	seq, ok, err := wire.RowSeq(r)
	if err != nil || !ok {
		t.Fatalf("row %s: seq %v %v", r, ok, err)
	}
	return seq
}

func TestSnapshotPaging(t *testing.T) {
	s := liveStore(t)
	for i := 1; i <= 7; i++ {
		mustExec(t, s, aliceSess, "INSERT INTO orders (id, status, qty) VALUES ($1, $2, $3)", i, []string{"open", "paid"}[i%2], i)
	}
	mustExec(t, s, bobSess, "INSERT INTO orders (id, status) VALUES (100, 'open')")
	mustExec(t, s, aliceSess, "DELETE FROM orders WHERE id = 4")
	q, err := s.PrepareLive(aliceSess, "SELECT id, qty FROM app.orders WHERE status = 'open'")
	if err != nil {
		t.Fatal(err)
	}
	end, err := s.SnapshotEnd(q, aliceSess)
	if err != nil {
		t.Fatal(err)
	}
	// A change after the snapshot boundary is not part of the snapshot.
	mustExec(t, s, aliceSess, "INSERT INTO orders (id, status) VALUES (8, 'open')")

	var pages []string
	after := wire.SeqID(0)
	for {
		rows, err := s.Snapshot(q, aliceSess, after, end, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			break
		}
		pages = append(pages, rowsText(rows))
		for _, r := range rows {
			seq := seqOf(t, r)
			if seq <= after || seq > end {
				t.Errorf("seq %d outside (%d, %d]", seq, after, end)
			}
			after = seq
		}
	}
	// Open rows of alice: ids 2, 6 (4 was deleted); ordered by _seq.
	if len(pages) != 1 || !contains(pages[0], `"id":"2","qty":2,"_seq"`) || !contains(pages[0], `"id":"6","qty":6,"_seq"`) {
		t.Errorf("pages %q", pages)
	}
	if contains(pages[0], `_deleted`) {
		t.Errorf("projection rows carry _deleted: %s", pages[0])
	}
	if after != end {
		t.Errorf("last seq %d, snapshot end %d", after, end)
	}

	// SELECT *: full rows with _deleted, paged by 3.
	q, _ = s.PrepareLive(aliceSess, "SELECT * FROM app.orders")
	end, _ = s.SnapshotEnd(q, aliceSess)
	var all []wire.Row
	after = 0
	for n := 0; ; n++ {
		rows, err := s.Snapshot(q, aliceSess, after, end, 3)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rows...)
		if len(rows) < 3 {
			break
		}
		after = seqOf(t, rows[len(rows)-1])
	}
	if len(all) != 7 { // 1..8 without 4
		t.Fatalf("%d rows: %s", len(all), rowsText(all))
	}
	if !contains(string(all[0]), `{"id":"1","status":"paid","note":null,"qty":1,"_seq":"`) || !contains(string(all[0]), `"_deleted":false}`) {
		t.Errorf("first row %s", all[0])
	}
	for i := 1; i < len(all); i++ {
		if seqOf(t, all[i]) <= seqOf(t, all[i-1]) {
			t.Errorf("rows out of _seq order")
		}
	}

	// SnapshotLast: the newest n, ascending.
	last, err := s.SnapshotLast(q, aliceSess, end, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(last) != 2 || seqOf(t, last[0]) != seqOf(t, all[5]) || seqOf(t, last[1]) != seqOf(t, all[6]) {
		t.Errorf("SnapshotLast %s", rowsText(last))
	}
	if rows, _ := s.Snapshot(q, aliceSess, 0, end, 0); len(rows) != 0 {
		t.Errorf("limit 0 returned rows")
	}
	if rows, _ := s.Snapshot(q, aliceSess, end, end, 10); len(rows) != 0 {
		t.Errorf("after = end returned rows")
	}
	// Bob sees only his row; SnapshotEnd of an empty result is 0.
	if rows, _ := s.Snapshot(q, bobSess, 0, 1<<62, 10); len(rows) != 1 {
		t.Errorf("bob rows %s", rowsText(rows))
	}
	q, _ = s.PrepareLive(aliceSess, "SELECT * FROM app.orders WHERE status = 'none'")
	if end, err := s.SnapshotEnd(q, aliceSess); end != 0 || err != nil {
		t.Errorf("empty SnapshotEnd %d %v", end, err)
	}
}

// changesFor runs sql as sess and returns the changes it produced.
func changesFor(t *testing.T, s *Store, w *collector, sess Session, sql string) []Change {
	t.Helper()
	mustExec(t, s, sess, sql)
	return w.drain()
}

func notifyText(t *testing.T, s *Store, q *LiveQuery, sess Session, ch Change) string {
	t.Helper()
	m, ok, err := s.Notify(q, sess, ch)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return "-"
	}
	return toJSON(t, m)
}

func TestNotifyPayloads(t *testing.T) {
	s := liveStore(t)
	w := watch(t, s)
	star, err := s.PrepareLive(aliceSess, "SELECT * FROM app.orders")
	if err != nil {
		t.Fatal(err)
	}
	proj, err := s.PrepareLive(aliceSess, "SELECT status, qty FROM app.orders")
	if err != nil {
		t.Fatal(err)
	}

	ins := changesFor(t, s, w, aliceSess, "INSERT INTO orders (id, status, note, qty) VALUES (1, 'open', 'n', 2)")
	upd := changesFor(t, s, w, aliceSess, "UPDATE orders SET status = 'paid', note = NULL WHERE id = 1")
	del := changesFor(t, s, w, aliceSess, "DELETE FROM orders WHERE id = 1")
	if len(ins) != 1 || len(upd) != 1 || len(del) != 1 {
		t.Fatalf("changes %d %d %d", len(ins), len(upd), len(del))
	}
	s1, s2, s3 := ins[0].Seq.String(), upd[0].Seq.String(), del[0].Seq.String()
	for _, ch := range []Change{ins[0], upd[0], del[0]} {
		if ch.Table != "app.orders" || ch.Owner != "alice" {
			t.Errorf("change %+v", ch)
		}
	}
	if ins[0].Kind != wire.ChangeInsert || upd[0].Kind != wire.ChangeUpdate || del[0].Kind != wire.ChangeDelete {
		t.Errorf("kinds %s %s %s", ins[0].Kind, upd[0].Kind, del[0].Kind)
	}

	tests := []struct {
		name string
		q    *LiveQuery
		ch   Change
		want string
	}{
		{"insert *", star, ins[0], `{"type":"change","change_type":"insert","rows":[{"id":"1","status":"open","note":"n","qty":2,"_seq":"` + s1 + `","_deleted":false}]}`},
		{"update *", star, upd[0], `{"type":"change","change_type":"update","rows":[{"id":"1","status":"paid","qty":2,"_seq":"` + s2 + `"}],` +
			`"old_values":[{"id":"1","status":"open","note":"n","_seq":"` + s1 + `"}]}`},
		{"delete *", star, del[0], `{"type":"change","change_type":"delete","old_values":[{"id":"1","status":"paid","note":null,"qty":2,"_seq":"` + s3 + `","_deleted":true}]}`},
		{"insert projection", proj, ins[0], `{"type":"change","change_type":"insert","rows":[{"status":"open","qty":2,"_seq":"` + s1 + `"}]}`},
		{"update projection", proj, upd[0], `{"type":"change","change_type":"update","rows":[{"id":"1","status":"paid","qty":2,"_seq":"` + s2 + `"}],` +
			`"old_values":[{"id":"1","status":"open","_seq":"` + s1 + `"}]}`},
		{"delete projection", proj, del[0], `{"type":"change","change_type":"delete","old_values":[{"id":"1","status":"paid","qty":2,"_seq":"` + s3 + `","_deleted":true}]}`},
	}
	for _, tc := range tests {
		if got := notifyText(t, s, tc.q, aliceSess, tc.ch); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	// The wire decoder accepts what Notify builds.
	m, _, _ := s.Notify(star, aliceSess, upd[0])
	m.SubscriptionID = "sub-1"
	b, _ := wire.Encode(m)
	var back wire.ServerMessage
	if err := wire.DecodeServer(b, &back); err != nil {
		t.Errorf("decode: %v", err)
	}

	// Other owner, other table, other subscriber.
	bobIns := changesFor(t, s, w, bobSess, "INSERT INTO orders (id) VALUES (1)")
	if got := notifyText(t, s, star, aliceSess, bobIns[0]); got != "-" {
		t.Errorf("alice got bob's change: %s", got)
	}
	bobQ, _ := s.PrepareLive(bobSess, "SELECT * FROM app.orders")
	if got := notifyText(t, s, bobQ, bobSess, bobIns[0]); got == "-" {
		t.Errorf("bob missed his own change")
	}
	board := changesFor(t, s, w, rootSess, "INSERT INTO app.board VALUES (1, 'hi')")
	if got := notifyText(t, s, star, aliceSess, board[0]); got != "-" {
		t.Errorf("orders subscription got a board change: %s", got)
	}
	if board[0].Owner != "" {
		t.Errorf("shared change owner %q", board[0].Owner)
	}
	for _, sess := range []Session{aliceSess, bobSess} {
		bq, err := s.PrepareLive(sess, "SELECT * FROM app.board")
		if err != nil {
			t.Fatal(err)
		}
		if got := notifyText(t, s, bq, sess, board[0]); got == "-" {
			t.Errorf("%s missed a shared change", sess.User)
		}
	}
}

func TestNotifyWhereTransitions(t *testing.T) {
	s := liveStore(t)
	w := watch(t, s)
	q, err := s.PrepareLive(aliceSess, "SELECT id, status FROM app.orders WHERE status = 'open' AND (qty IS NULL OR qty < 10)")
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		sql  string
		want string // change_type delivered, or "-"
	}{
		{"INSERT INTO orders (id, status) VALUES (1, 'open')", "insert"},
		{"INSERT INTO orders (id, status) VALUES (2, 'paid')", "-"},
		{"UPDATE orders SET status = 'paid' WHERE id = 1", "-"},      // out of the filter: nothing
		{"UPDATE orders SET status = 'open' WHERE id = 2", "update"}, // into the filter: an update
		{"UPDATE orders SET qty = 50 WHERE id = 2", "-"},
		{"UPDATE orders SET qty = 5 WHERE id = 2", "update"},
		{"DELETE FROM orders WHERE id = 1", "-"}, // tombstone is 'paid'
		{"DELETE FROM orders WHERE id = 2", "delete"},
		{"INSERT INTO orders (id, status, qty) VALUES (2, 'open', '3')", "insert"}, // text '3' compared with INT affinity
	}
	for _, st := range steps {
		chs := changesFor(t, s, w, aliceSess, st.sql)
		if len(chs) != 1 {
			t.Fatalf("%s: %d changes", st.sql, len(chs))
		}
		m, ok, err := s.Notify(q, aliceSess, chs[0])
		if err != nil {
			t.Fatal(err)
		}
		got := "-"
		if ok {
			got = m.ChangeType
			if len(m.Rows)+len(m.OldValues) == 0 {
				t.Errorf("%s: empty message", st.sql)
			}
		}
		if got != st.want {
			t.Errorf("%s: got %s, want %s", st.sql, got, st.want)
		}
	}
}

func TestNotifyCurrentUser(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, "CREATE SHARED TABLE app.inbox (id INT PRIMARY KEY, recipient TEXT) WITH (ACCESS_LEVEL = 'public')")
	w := watch(t, s)
	q, err := s.PrepareLive(aliceSess, "SELECT * FROM app.inbox WHERE recipient = CURRENT_USER()")
	if err != nil {
		t.Fatal(err)
	}
	chs := changesFor(t, s, w, rootSess, "INSERT INTO app.inbox VALUES (1, 'alice'), (2, 'bob')")
	if a, b := notifyText(t, s, q, aliceSess, chs[0]), notifyText(t, s, q, aliceSess, chs[1]); a == "-" || b != "-" {
		t.Errorf("CURRENT_USER filter: %s / %s", a, b)
	}
	end, _ := s.SnapshotEnd(q, aliceSess)
	rows, _ := s.Snapshot(q, aliceSess, 0, end, 10)
	if len(rows) != 1 || !contains(string(rows[0]), `"recipient":"alice"`) {
		t.Errorf("snapshot %s", rowsText(rows))
	}
}

func TestLiveAfterDrop(t *testing.T) {
	s := liveStore(t)
	w := watch(t, s)
	q, _ := s.PrepareLive(aliceSess, "SELECT * FROM app.orders")
	old := changesFor(t, s, w, aliceSess, "INSERT INTO orders (id) VALUES (1)")
	mustExec(t, s, rootSess, "DROP TABLE app.orders")
	_, err := s.Snapshot(q, aliceSess, 0, 1<<62, 10)
	var e *Error
	if !errors.As(err, &e) || e.Code != wire.CodeNotFound || e.Status != http.StatusNotFound {
		t.Errorf("snapshot after drop: %v", err)
	}
	mustExec(t, s, rootSess, `CREATE USER TABLE app.orders (id BIGINT PRIMARY KEY, status TEXT, note TEXT, qty INT)`)
	fresh := changesFor(t, s, w, aliceSess, "INSERT INTO orders (id) VALUES (1)")
	if got := notifyText(t, s, q, aliceSess, fresh[0]); got != "-" {
		t.Errorf("stale query matched a new table's change")
	}
	q2, _ := s.PrepareLive(aliceSess, "SELECT * FROM app.orders")
	if got := notifyText(t, s, q2, aliceSess, old[0]); got != "-" {
		t.Errorf("new query matched a dropped table's change")
	}
}

func TestWatchStop(t *testing.T) {
	s := liveStore(t)
	var mu sync.Mutex
	n := 0
	stop := s.Watch(func(Change) { mu.Lock(); n++; mu.Unlock() })
	mustExec(t, s, aliceSess, "INSERT INTO orders (id) VALUES (1), (2)")
	stop()
	stop()
	mustExec(t, s, aliceSess, "INSERT INTO orders (id) VALUES (3)")
	mu.Lock()
	defer mu.Unlock()
	if n != 2 {
		t.Errorf("callbacks %d, want 2", n)
	}
}

// TestWatchCallbackMayQuery checks the no-lock promise: the callback can
// snapshot and notify without deadlocking the writer.
func TestWatchCallbackMayQuery(t *testing.T) {
	s := liveStore(t)
	q, _ := s.PrepareLive(aliceSess, "SELECT * FROM app.orders WHERE qty > 0")
	var msgs []string
	var cbErr error
	stop := s.Watch(func(ch Change) {
		m, ok, err := s.Notify(q, aliceSess, ch)
		if err != nil {
			cbErr = err
			return
		}
		if ok {
			msgs = append(msgs, m.ChangeType)
		}
		if _, err := s.Snapshot(q, aliceSess, 0, ch.Seq, 10); err != nil {
			cbErr = err
		}
	})
	defer stop()
	mustExec(t, s, aliceSess, "INSERT INTO orders (id, qty) VALUES (1, 1), (2, 0); UPDATE orders SET qty = 3 WHERE id = 2")
	if cbErr != nil {
		t.Fatal(cbErr)
	}
	if toJSON(t, msgs) != `["insert","update"]` {
		t.Errorf("messages %v", msgs)
	}
}

func TestNotifyConcurrent(t *testing.T) {
	s := liveStore(t)
	q, err := s.PrepareLive(aliceSess, "SELECT * FROM app.orders WHERE qty % 2 = 0")
	if err != nil {
		t.Fatal(err)
	}
	queue := make(chan Change, 1000)
	stop := s.Watch(func(ch Change) { queue <- ch })
	var wg sync.WaitGroup
	var mu sync.Mutex
	matched := 0
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ch := range queue {
				_, ok, err := s.Notify(q, aliceSess, ch)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					matched++
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		mustExec(t, s, aliceSess, "INSERT INTO orders (id, qty) VALUES ($1, $2)", i, i)
	}
	stop()
	close(queue)
	wg.Wait()
	if matched != 100 {
		t.Errorf("matched %d, want 100", matched)
	}
}

func TestStreamTable(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, "CREATE STREAM TABLE app.ev (kind TEXT, at TIMESTAMP DEFAULT NOW()) TTL 60")
	w := watch(t, s)
	chs := changesFor(t, s, w, aliceSess, "INSERT INTO ev (kind) VALUES ('a'), ('b')")
	if len(chs) != 2 || chs[0].Owner != "alice" {
		t.Fatalf("changes %+v", chs)
	}
	q, err := s.PrepareLive(bobSess, "SELECT * FROM app.ev")
	if err != nil {
		t.Fatal(err)
	}
	if got := notifyText(t, s, q, bobSess, chs[0]); got != "-" {
		t.Errorf("bob saw alice's stream event")
	}
	if r := query(t, s, bobSess, "SELECT count(*) FROM ev"); rowsJSON(t, r) != `[["0"]]` {
		t.Errorf("bob count %s", rowsJSON(t, r))
	}
	if r := query(t, s, aliceSess, "SELECT kind FROM ev ORDER BY _seq"); rowsJSON(t, r) != `[["a"],["b"]]` {
		t.Errorf("alice rows %s", rowsJSON(t, r))
	}
}

func TestPrepareLiveConcurrentWithDDL(t *testing.T) {
	s := liveStore(t)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			name := "app.t" + strconv.Itoa(i)
			if _, err := s.Exec(context.Background(), rootSess, "CREATE USER TABLE "+name+" (id INT PRIMARY KEY)", nil); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			if _, err := s.PrepareLive(aliceSess, "SELECT * FROM app.orders WHERE id > 1"); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
}
