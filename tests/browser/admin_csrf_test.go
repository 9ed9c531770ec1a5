package browser

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/kalamgo/kalam/kalamtest"
)

// refusals counts the admin endpoint's "request refused" log records.
type refusals struct {
	mu    sync.Mutex
	lines []string
}

func (r *refusals) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if strings.Contains(string(p), "admin request refused") {
		r.lines = append(r.lines, string(p))
	}
	return len(p), nil
}

func (r *refusals) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.lines)
}

// TestAdminEndpointRefusesOtherOrigins: a page from another origin tries
// to create a role-system user through the admin endpoint of a developer's
// local kalamtest (CSRF) with a text/plain fetch, a no-cors fetch, a
// preflighted JSON fetch and a form POST; then a page whose host name
// resolves to loopback (DNS rebinding, simulated with Chromium's resolver
// rules) tries a same-origin request that even carries the token. Every
// attempt must reach the server and be refused, and no user may appear.
func TestAdminEndpointRefusesOtherOrigins(t *testing.T) {
	log := &refusals{}
	srv := kalamtest.NewServer(t, kalamtest.Config{
		Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	_, port, _ := net.SplitHostPort(srv.Addr())
	admin := "http://127.0.0.1:" + port + "/_kalamtest/users"

	evil := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><title>evil</title><iframe name="sink"></iframe>`)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = evil.Serve(ln) }()
	t.Cleanup(func() { _ = evil.Close() })

	tab := newTab(t, chromedp.Flag("host-resolver-rules", "MAP rebind.example 127.0.0.1"))
	ctx, cancel := context.WithTimeout(tab.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+ln.Addr().String()+"/")); err != nil {
		t.Fatalf("navigate to the attacker's page: %v", err)
	}
	user := func(n int) string {
		return fmt.Sprintf(`{"name":"eve%d","password":"Eve-pass-123","role":"system"}`, n)
	}
	// Each attempt resolves to a short outcome string; none may throw out
	// of the page.
	attempts := fmt.Sprintf(`(async () => {
		const url = %q, out = [];
		const attempt = async (name, f) => { try { out.push(name + ": " + await f()); } catch (e) { out.push(name + ": threw " + e.name); } };
		await attempt("text/plain fetch", async () => (await fetch(url, {method: "POST", headers: {"Content-Type": "text/plain"}, body: %q})).status);
		await attempt("no-cors fetch", async () => (await fetch(url, {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: %q})).type);
		await attempt("json fetch", async () => (await fetch(url, {method: "POST", headers: {"Content-Type": "application/json", "X-Kalamtest-Admin": "guess"}, body: %q})).status);
		await attempt("form post", () => new Promise((resolve) => {
			const f = document.createElement("form");
			f.method = "POST"; f.action = url; f.enctype = "text/plain"; f.target = "sink";
			const i = document.createElement("input");
			i.name = %q; i.value = '"}';
			f.appendChild(i); document.body.appendChild(f);
			document.querySelector("iframe").onload = () => resolve("submitted");
			f.submit();
		}));
		return out.join("\n");
	})()`, admin, user(1), user(2), user(3), strings.TrimSuffix(user(4), "}")+`,"x":"`)
	outcome, err := chromedp.Run(ctx, chromedp.Evaluate[string](attempts, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("running the attempts: %v", err)
	}
	t.Logf("cross-origin attempts:\n%s", outcome)
	if !strings.Contains(outcome, "form post: submitted") {
		t.Fatalf("the form was never submitted:\n%s", outcome)
	}

	// DNS rebinding: the page's own origin is the attacker's name, which
	// now resolves to loopback, so the request is same-origin to the
	// browser. Even with the token, the Host header gives it away.
	rebound := "http://rebind.example:" + port
	if err := chromedp.Do(ctx, chromedp.Navigate(rebound+"/health")); err != nil {
		t.Fatalf("navigate to the rebound name: %v", err)
	}
	js := fmt.Sprintf(`fetch("/_kalamtest/users", {method: "POST", headers: {"Content-Type": "application/json", "X-Kalamtest-Admin": %q}, body: %q}).then(r => r.status)`,
		srv.AdminToken(), user(5))
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("rebinding attempt: %v", err)
	}
	if status != http.StatusForbidden {
		t.Errorf("same-origin request through a rebound name: HTTP %d, want 403", status)
	}

	// The four cross-origin requests and the rebound one reached the server
	// (the JSON fetch as its preflight) and were refused.
	if n := log.count(); n < 5 {
		t.Errorf("%d admin refusals logged, want at least 5 (every attempt must reach the server and be refused)", n)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	for i := 1; i <= 5; i++ {
		res, err := hc.Post(srv.URL+"/v1/api/auth/login", "application/json",
			strings.NewReader(fmt.Sprintf(`{"user":"eve%d","password":"Eve-pass-123"}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("eve%d can log in (HTTP %d): the admin endpoint obeyed a foreign page", i, res.StatusCode)
		}
	}
}
