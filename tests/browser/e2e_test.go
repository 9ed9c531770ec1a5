package browser

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam/kalamtest"
)

// TestBrowserEndToEnd drives the browser build in headless Chromium against
// kalamtest through the page server and the fault proxy: login through a
// Promise-returning auth provider, queries, a live query through insert,
// update and delete, token refreshes while live, the proxy cutting the
// socket (the client reconnects by itself and resumes with nothing lost or
// duplicated), the page's offline/online and visibility events, LiveRows,
// the async iterator, error codes, and drain.
func TestBrowserEndToEnd(t *testing.T) {
	w := newWorld(t, kalamtest.Config{
		AccessTokenTTL:    3 * time.Second,
		Leeway:            -1,
		HeartbeatInterval: 50 * time.Millisecond,
	})
	tab := newTab(t)
	tab.navigate(w.page.URL + "/")

	// Login happens through the JavaScript provider (fetch → Promise).
	tab.run(fmt.Sprintf(`T.start({user: "alice", password: %q})`, alicePassword))
	tab.waitFor(`T.authCalls[0] === "initial" && T.client.state === "Authed"`, 10*time.Second)

	// Queries over HTTP (fetch), with parameters.
	tab.run(`T.client.query("INSERT INTO orders (id, status) VALUES ($1, $2), ($3, $4)", [1, "open", 2, "open"])`)
	rows := eval[[]map[string]any](tab, `T.query("SELECT id, status FROM orders ORDER BY id")`)
	if len(rows) != 2 || rows[0]["id"] != "1" || rows[1]["status"] != "open" {
		t.Fatalf("query rows = %v", rows)
	}
	if code := eval[string](tab, `T.errorCode(() => T.client.query("SELEC nonsense"))`); code != "QUERY" {
		t.Fatalf("bad SQL: error code %q, want QUERY", code)
	}

	// Live: snapshot, then insert, update, delete.
	tab.run(`T.live("SELECT * FROM orders")`)
	tab.waitFor(`T.client.state === "Live" && T.events.some(e => e.kind === "snapshot" && e.last)`, 10*time.Second)
	w.write(t, "INSERT INTO app.orders (id, status) VALUES (3, 'open')")
	w.write(t, "UPDATE app.orders SET status = 'paid' WHERE id = 1")
	w.write(t, "DELETE FROM app.orders WHERE id = 2")
	tab.waitFor(`T.ids(["insert"]).includes("3") && T.ids(["update"]).includes("1") && T.ids(["delete"]).includes("2")`, 10*time.Second)
	if kinds := eval[[]string](tab, `T.events.map(e => e.kind).filter(k => k !== "snapshot")`); !slices.Equal(kinds, []string{"subscribed", "insert", "update", "delete"}) {
		t.Fatalf("event kinds = %v", kinds)
	}
	if st := eval[string](tab, `T.events.find(e => e.kind === "update").rows[0].status`); st != "paid" {
		t.Fatalf("update row status = %q", st)
	}

	// Token refresh while live: the 3 s tokens are refreshed through the
	// provider and the subscription never leaves Live; HTTP calls and new
	// changes keep working past the first token's expiry.
	liveMark := eval[int](tab, `T.states.length`)
	tab.waitFor(`T.authCalls.filter(r => r === "refresh").length >= 2`, 15*time.Second)
	w.write(t, "INSERT INTO app.orders (id, status) VALUES (4, 'open')")
	tab.waitFor(`T.ids(["insert"]).includes("4")`, 10*time.Second)
	if n := eval[int](tab, `T.query("SELECT id FROM orders").then(r => r.length)`); n != 3 {
		t.Fatalf("rows after refresh = %d, want 3", n)
	}
	if left := eval[[]string](tab, fmt.Sprintf(`T.states.slice(%d).filter(s => s !== "Live")`, liveMark)); len(left) != 0 {
		t.Fatalf("the lifecycle moved during token refreshes: %v", left)
	}

	// The proxy cuts the socket and refuses new connections; rows are
	// written during the outage; the client reconnects on its own.
	cutMark := eval[int](tab, `T.states.length`)
	w.proxy.Down()
	w.proxy.Drop()
	tab.waitFor(fmt.Sprintf(`T.states.slice(%d).includes("Backoff")`, cutMark), 10*time.Second)
	for id := 5; id <= 14; id++ {
		w.write(t, "INSERT INTO app.orders (id, status) VALUES ($1, 'outage')", id)
	}
	w.proxy.Up()
	want := []string{"1", "2", "3", "4"}
	for id := 5; id <= 14; id++ {
		want = append(want, strconv.Itoa(id))
	}
	tab.waitFor(fmt.Sprintf(`T.client.state === "Live" && T.ids(["snapshot", "insert"]).length >= %d`, len(want)), 20*time.Second)
	got := eval[[]string](tab, `T.ids(["snapshot", "insert"])`)
	slices.SortFunc(got, byNumber)
	if !slices.Equal(got, want) {
		t.Fatalf("rows delivered across the outage = %v, want each of %v exactly once", got, want)
	}
	if bad := eval[string](tab, `(() => { const s = T.seqs().map(BigInt);
		for (let i = 1; i < s.length; i++) if (s[i] <= s[i-1]) return "seq " + s[i] + " after " + s[i-1];
		return "" })()`); bad != "" {
		t.Fatalf("_seq not strictly increasing: %s", bad)
	}
	if !eval[bool](tab, `T.events.some(e => e.kind === "resumed")`) {
		t.Fatal("no resumed event after the outage")
	}
	if calls := eval[int](tab, `T.connections.filter(c => c.connected).length`); calls < 2 {
		t.Fatalf("connections opened = %d, want a reconnect", calls)
	}

	// The page's lifecycle: offline drops the socket and holds redials,
	// online redials at once; a hidden period followed by visible wakes the
	// client (token and socket checked at once).
	offMark := eval[int](tab, `T.states.length`)
	tab.run(`window.dispatchEvent(new Event("offline"))`)
	tab.waitFor(fmt.Sprintf(`T.states.slice(%d).length > 0 && T.client.state !== "Live" && T.client.lifecycleStats().offline === 1`, offMark), 10*time.Second)
	w.write(t, "INSERT INTO app.orders (id, status) VALUES (15, 'offline')")
	tab.run(`window.dispatchEvent(new Event("online"))`)
	tab.waitFor(`T.client.state === "Live" && T.ids(["snapshot", "insert"]).includes("15")`, 10*time.Second)
	tab.run(`(async () => {
		Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
		document.dispatchEvent(new Event("visibilitychange"));
		await new Promise(r => setTimeout(r, 50));
		Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "visible"});
		document.dispatchEvent(new Event("visibilitychange"));
	})()`)
	tab.waitFor(`T.client.lifecycleStats().wakes === 1 && T.client.lifecycleStats().lastHiddenMs >= 50`, 5*time.Second)
	w.write(t, "INSERT INTO app.orders (id, status) VALUES (16, 'after-wake')")
	tab.waitFor(`T.client.state === "Live" && T.ids(["insert"]).includes("16")`, 10*time.Second)
	if n := eval[int](tab, `T.ids(["snapshot", "insert"]).length`); n != len(want)+2 {
		t.Fatalf("rows delivered = %d, want %d (a duplicate or a loss)", n, len(want)+2)
	}

	// LiveRows converges to what SELECT returns; the async iterator form.
	tab.run(`(async () => {
		T.view = await T.client.liveRows("SELECT * FROM orders");
		await T.view.waitFor(rows => rows.length === 15);
	})()`)
	w.write(t, "DELETE FROM app.orders WHERE id = 3")
	tab.run(`T.view.waitFor(rows => rows.length === 14 && !rows.some(r => r.id === "3"))`)
	tab.run(`T.view.close()`)
	if kinds := eval[[]string](tab, `T.iterate("SELECT * FROM orders WHERE id > 100", 2)`); len(kinds) != 2 || kinds[0] != "subscribed" {
		t.Fatalf("iterator kinds = %v", kinds)
	}

	// Errors carry stable codes.
	if code := eval[string](tab, `T.errorCode(async () => { for await (const ev of T.client.live("SELECT * FROM nowhere.nothing")) {} })`); code != "SERVER" {
		t.Fatalf("live on a missing table: code %q, want SERVER", code)
	}

	// Drain: the subscription ends, the client closes, later calls fail
	// with CLOSED.
	out := eval[map[string]any](tab, `T.client.drain({timeoutMs: 5000})`)
	if out["timedOut"] != false || out["subscriptions"].(float64) < 1 {
		t.Fatalf("drain outcome = %v", out)
	}
	tab.waitFor(`T.subEnded && T.client.state === "Closed"`, 5*time.Second)
	if code := eval[string](tab, `T.errorCode(() => T.client.query("SELECT 1"))`); code != "CLOSED" {
		t.Fatalf("query after drain: code %q, want CLOSED", code)
	}
	// onError: nothing final, and nothing recoverable but what the proxy
	// outage above can cause (a socket the proxy held open until the pong
	// deadline, a dial it left hanging, or the provider's login, asked
	// again for the reconnect, answered 502 by the proxy while it was down).
	for _, e := range eval[[]string](tab, `T.errors`) {
		outage := strings.HasPrefix(e, "DEAD_LINK: ") || strings.HasPrefix(e, "CONNECT_TIMEOUT: ") ||
			strings.HasPrefix(e, "CALLBACK: ") && strings.Contains(e, "login answered 502")
		if !outage {
			t.Errorf("onError report: %s", e)
		}
	}
}

// TestBrowserClose checks Close: immediate, idempotent with CLOSED, and
// ending live queries.
func TestBrowserClose(t *testing.T) {
	w := newWorld(t, kalamtest.Config{})
	tab := newTab(t)
	tab.navigate(w.page.URL + "/")
	tab.run(fmt.Sprintf(`T.start({user: "alice", password: %q, eagerConnect: true})`, alicePassword))
	tab.run(`T.client.connect()`)
	tab.run(`T.live("SELECT * FROM orders")`)
	tab.waitFor(`T.client.state === "Live"`, 10*time.Second)
	tab.run(`T.client.close()`)
	tab.waitFor(`T.client.state === "Closed" && T.subEnded`, 5*time.Second)
	if code := eval[string](tab, `T.errorCode(() => T.client.close())`); code != "CLOSED" {
		t.Fatalf("second close: code %q, want CLOSED", code)
	}
	if code := eval[string](tab, `T.errorCode(() => T.client.live("SELECT * FROM orders").ready)`); code != "CLOSED" {
		t.Fatalf("live after close: code %q, want CLOSED", code)
	}
	// The lifecycle diagram is exposed.
	if d := eval[string](tab, `T.kalam.lifecycleDiagram()`); len(d) < 100 {
		t.Fatalf("lifecycle diagram = %q", d)
	}
	// The server sees the socket gone.
	for deadline := time.Now().Add(5 * time.Second); w.srv.Connections() != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("server still has %d connections after close", w.srv.Connections())
		}
	}
}

func byNumber(a, b string) int {
	x, _ := strconv.Atoi(a)
	y, _ := strconv.Atoi(b)
	return x - y
}

// TestBrowserPushedAuthAndNamespace covers a client without a provider or
// a namespace: live fails with NO_NAMESPACE, then NO_CREDENTIALS, until
// setNamespace and updateAuth supply them.
func TestBrowserPushedAuthAndNamespace(t *testing.T) {
	w := newWorld(t, kalamtest.Config{})
	tab := newTab(t)
	tab.navigate(w.page.URL + "/")
	tab.run(`(async () => {
		T.client = await T.kalam.createClient({
			url: "/",
			onStateChange: (t) => T.states.push(t.to),
		});
	})()`)
	liveCode := `T.errorCode(async () => { for await (const ev of T.client.live("SELECT * FROM orders")) {} })`
	if code := eval[string](tab, liveCode); code != "NO_NAMESPACE" {
		t.Fatalf("live without a namespace: code %q, want NO_NAMESPACE", code)
	}
	tab.run(`T.client.setNamespace("app")`)
	if ns := eval[string](tab, `T.client.namespace()`); ns != "app" {
		t.Fatalf("namespace = %q", ns)
	}
	if code := eval[string](tab, liveCode); code != "NO_CREDENTIALS" {
		t.Fatalf("live without credentials: code %q, want NO_CREDENTIALS", code)
	}
	// The application logs in by itself and pushes the tokens.
	tab.run(fmt.Sprintf(`(async () => {
		const r = await fetch("/v1/api/auth/login", {method: "POST", headers: {"content-type": "application/json"},
			body: JSON.stringify({user: "alice", password: %q})});
		await T.client.updateAuth(await r.json());
	})()`, alicePassword))
	tab.waitFor(`T.client.state === "Authed"`, 5*time.Second)
	w.write(t, "INSERT INTO app.orders (id, status) VALUES (7, 'open')")
	tab.run(`T.live("SELECT * FROM orders")`)
	tab.waitFor(`T.client.state === "Live" && T.ids(["snapshot"]).includes("7")`, 10*time.Second)
	tab.run(`T.client.close()`)
}

// TestBrowserSlowConsumerPauses: a JavaScript consumer that stops reading
// does not make events pile up on the JavaScript side: the Go client's
// bounded buffer fills and the subscription is paused on the server; once
// the consumer reads again it resumes, and every row arrives once, in
// order.
func TestBrowserSlowConsumerPauses(t *testing.T) {
	const eventBuffer, rows = 16, 300
	w := newWorld(t, kalamtest.Config{})
	tab := newTab(t)
	tab.navigate(w.page.URL + "/")
	tab.run(fmt.Sprintf(`T.start({user: "alice", password: %q, eventBuffer: %d})`, alicePassword, eventBuffer))
	id := eval[string](tab, `T.slowStart("SELECT * FROM orders")`)
	onServer := func() bool {
		for _, s := range w.srv.Subscriptions() {
			// Each incarnation on a socket has its own wire id: id#n.
			if s.ID == id || strings.HasPrefix(s.ID, id+"#") {
				return true
			}
		}
		return false
	}
	waitServer := func(want bool, what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for onServer() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s (server subscriptions %+v)\n%s", what, w.srv.Subscriptions(), tab.describe())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitServer(true, "the subscription never reached the server")
	// The consumer reads the first row, then stops while a burst arrives.
	w.write(t, "INSERT INTO app.orders (id, status) VALUES (1, 'open')")
	if ids := eval[[]string](tab, `T.slowRead(1)`); !slices.Equal(ids, []string{"1"}) {
		t.Fatalf("first read: ids %v", ids)
	}
	var sb strings.Builder
	sb.WriteString("INSERT INTO app.orders (id, status) VALUES ")
	for i := 2; i <= rows; i++ {
		if i > 2 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, "(%d, 'open')", i)
	}
	w.write(t, sb.String())
	waitServer(false, "the subscription was never paused: the JavaScript side buffered the burst")
	// Reading again resumes it: every row once, in order.
	got := eval[[]string](tab, fmt.Sprintf(`T.slowRead(%d)`, rows))
	want := make([]string, rows)
	for i := range want {
		want[i] = strconv.Itoa(i + 1)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("rows delivered (%d) = %v, want 1..%d once each in order", len(got), got, rows)
	}
	waitServer(true, "the subscription is not back on the server after the consumer caught up")
}

// TestBrowserHandlesReleased checks that closed subscriptions and views,
// and subscriptions that ended on their own, release their Go functions
// (a page that opens and closes live queries for hours must not grow), and
// that the JavaScript objects stay usable after that.
func TestBrowserHandlesReleased(t *testing.T) {
	w := newWorld(t, kalamtest.Config{})
	tab := newTab(t)
	tab.navigate(w.page.URL + "/")
	tab.run(fmt.Sprintf(`T.start({user: "alice", password: %q})`, alicePassword))
	tab.run(`T.client.query("INSERT INTO orders (id, status) VALUES (1, 'open')")`)
	base := eval[int](tab, `__kalamgo.liveHandles()`)

	// Closed by close(), by leaving a for-await loop, and views.
	got := eval[string](tab, `(async () => {
		const subs = [];
		for (let i = 0; i < 10; i++) {
			const s = T.client.live("SELECT * FROM orders");
			await s.ready;
			subs.push(s);
		}
		const during = __kalamgo.liveHandles();
		for (const s of subs.slice(0, 5)) await s.close();
		for (const s of subs.slice(5)) {
			for await (const ev of s) { if (ev.kind === "snapshot") break; }
		}
		const view = await T.client.liveRows("SELECT * FROM orders");
		await view.waitFor((rows) => rows.length === 1);
		await view.close();
		await view.close(); // twice is fine
		await subs[0].close();
		return JSON.stringify({during, after: __kalamgo.liveHandles(),
			pos: subs[5].position(), len: view.length, ready: view.ready, rows: view.rows.length});
	})()`)
	var r struct {
		During, After int
		Pos           *string
		Len           int
		Ready         bool
		Rows          int
	}
	if err := json.Unmarshal([]byte(got), &r); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if r.During != base+10 || r.After != base {
		t.Fatalf("live handles: %d before, %d with 10 subscriptions, %d after closing them (want %d)", base, r.During, r.After, base)
	}
	if r.Pos == nil || *r.Pos == "" || r.Len != 1 || !r.Ready || r.Rows != 1 {
		t.Fatalf("objects after release: %s", got)
	}

	// Subscriptions that end because the client closes release too.
	tab.run(`(async () => {
		T.ended = T.client.live("SELECT * FROM orders");
		await T.ended.ready;
		// the iteration ends with the client's CLOSED error
		T.endedDone = (async () => { try { for await (const ev of T.ended) {} } catch (e) { T.endedCode = e.code; } })();
		await T.client.close();
		await T.endedDone;
	})()`)
	if n := eval[int](tab, `__kalamgo.liveHandles()`); n != base {
		t.Fatalf("live handles after the client closed: %d, want %d", n, base)
	}
	if code := eval[string](tab, `T.endedCode`); code != "CLOSED" {
		t.Fatalf("iteration ended with %q, want CLOSED", code)
	}
}
