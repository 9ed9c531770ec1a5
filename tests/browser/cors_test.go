package browser

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam/kalamtest"
)

// TestBrowserCrossOrigin loads the page from one loopback port and talks to
// kalamtest on another, as a web app beside its database does: login
// (a JSON POST, so a CORS preflight), queries and a live query work with
// KalamDB's default CORS. A server restricted to other origins makes the
// same page fail at login, with a typed error.
func TestBrowserCrossOrigin(t *testing.T) {
	w := newWorld(t, kalamtest.Config{HeartbeatInterval: 50 * time.Millisecond})
	page := httptest.NewServer(pageMux(t))
	t.Cleanup(page.Close)
	tab := newTab(t)
	tab.navigate(page.URL + "/")
	if origin := eval[string](tab, `location.origin`); origin == w.srv.URL || !strings.HasPrefix(origin, "http://127.0.0.1:") {
		t.Fatalf("page origin %s, server %s: not a cross-origin setup", origin, w.srv.URL)
	}

	tab.run(fmt.Sprintf(`(async () => {
		T.client = await T.kalam.createClient({url: %q, namespace: "app", backoffMinMs: 20, backoffMaxMs: 200,
			auth: {user: "alice", password: %q},
			onStateChange: (t) => T.states.push(t.to)});
		await T.client.query("INSERT INTO orders (id, status) VALUES ($1, $2)", [1, "open"]);
	})()`, w.srv.URL, alicePassword))
	rows := eval[[]map[string]any](tab, `T.query("SELECT id, status FROM orders")`)
	if len(rows) != 1 || rows[0]["id"] != "1" {
		t.Fatalf("cross-origin query rows = %v", rows)
	}
	tab.run(`T.live("SELECT * FROM orders")`)
	tab.waitFor(`T.client.state === "Live" && T.ids(["snapshot"]).includes("1")`, 10*time.Second)
	w.write(t, "INSERT INTO app.orders (id, status) VALUES (2, 'open')")
	tab.waitFor(`T.ids(["insert"]).includes("2")`, 10*time.Second)
	tab.run(`T.client.close()`)

	// The same page against a server that allows only another origin.
	strict := newWorld(t, kalamtest.Config{CORSOrigins: []string{"https://app.example"}})
	msg := eval[string](tab, fmt.Sprintf(`(async () => {
		const c = await T.kalam.createClient({url: %q, namespace: "app", auth: {user: "alice", password: %q}});
		try { await c.query("SELECT 1"); return "no error"; }
		catch (err) { return (T.kalam.isKalamError(err) ? err.code : "untyped") + ": " + err.message; }
		finally { c.close(); }
	})()`, strict.srv.URL, alicePassword))
	if !strings.HasPrefix(msg, "NO_CREDENTIALS") && !strings.HasPrefix(msg, "NETWORK") {
		t.Fatalf("a refused origin: %s", msg)
	}
	if strings.Contains(msg, alicePassword) {
		t.Fatal("the error carries the password")
	}
}
