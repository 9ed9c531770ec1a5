package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's chromium (or CHROMIUM=/path).
func chromiumPath(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	need(tb, "chromium", "sudo bash scripts/setup-browser.sh (apt-get install chromium)", errors.New("not on PATH"))
	return ""
}

// tab is a page in a fresh headless Chromium, with its console captured.
type tab struct {
	tb  testing.TB
	ctx context.Context

	mu      sync.Mutex
	console []string
}

// newTab starts Chromium with a fresh profile and returns its first tab;
// extra adds allocator options (flags). The browser stops at cleanup.
func newTab(tb testing.TB, extra ...chromedp.ExecAllocatorOption) *tab {
	tb.Helper()
	exe := chromiumPath(tb)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
	}
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t := &tab{tb: tb}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(t.listen))
	t.ctx = ctx
	tb.Cleanup(func() {
		cancel()
		cancelAlloc()
		if tb.Failed() {
			t.mu.Lock()
			tb.Logf("browser console:\n%s", strings.Join(t.console, "\n"))
			t.mu.Unlock()
		}
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		tb.Fatalf("starting chromium (%s): %v", exe, err)
	}
	return t
}

func (t *tab) listen(ev any) {
	var line string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range ev.Args {
			if len(a.Value) > 0 {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		line = string(ev.Type) + ": " + strings.Join(parts, " ")
	case *runtime.EventExceptionThrown:
		line = "exception: " + exceptionText(ev.ExceptionDetails)
	default:
		return
	}
	t.mu.Lock()
	t.console = append(t.console, line)
	t.mu.Unlock()
}

// navigate loads url and waits for the harness module to be ready.
func (t *tab) navigate(url string) {
	t.tb.Helper()
	ctx, cancel := context.WithTimeout(t.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.tb.Fatalf("navigate: %v", err)
	}
	t.waitFor("window.harnessReady === true", 30*time.Second)
}

// eval evaluates expr (awaiting a Promise) and returns its value.
func eval[T any](t *tab, expr string) T {
	t.tb.Helper()
	ctx, cancel := context.WithTimeout(t.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.tb.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// run evaluates expr for its effect.
func (t *tab) run(expr string) {
	t.tb.Helper()
	eval[any](t, "(async () => { await ("+expr+"); return null })()")
}

// waitFor polls cond (a JavaScript expression) until it is true, failing
// the test at the deadline with what the page recorded.
func (t *tab) waitFor(cond string, d time.Duration) {
	t.tb.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.tb.Fatalf("waiting for %s: timed out after %v (last error %v)\n%s", cond, d, err, t.describe())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// describe summarizes the harness's records for a failure message.
func (t *tab) describe() string {
	ctx, cancel := context.WithTimeout(t.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.T ? JSON.stringify({
		state: T.client && T.client.state, states: T.states.slice(-20), auth: T.authCalls,
		errors: T.errors.slice(-10), events: T.events.length, subError: T.subError}) : "no harness"`))
	if err != nil {
		return fmt.Sprintf("(page state unavailable: %v)", err)
	}
	return "page: " + s
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return ""
	}
	if d.Exception != nil && d.Exception.Description != "" {
		return d.Exception.Description
	}
	return d.Text
}

// eval2 evaluates expr with ctx and returns the error instead of failing,
// for use off the test's goroutine.
func eval2(ctx context.Context, t *tab, expr string) (any, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[any](expr, chromedp.EvalAwaitPromise))
}

// waitForBench waits until bench.html reports Live (or an error).
func (t *tab) waitForBench(d time.Duration) {
	t.tb.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(t.ctx, 5*time.Second)
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.benchError ? "error: " + window.benchError : (typeof window.liveAt === "number" ? "live" : "")`))
		cancel()
		if err == nil && s == "live" {
			return
		}
		if err == nil && strings.HasPrefix(s, "error") {
			t.tb.Fatal(s)
		}
		if time.Now().After(deadline) {
			t.tb.Fatalf("bench page never reached Live (last error %v)", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
