package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The browser driver of scenario 33: the browser build (wasm/browser with
// bindings/js) in headless Chromium, on a page whose origin forwards /v1/
// to the fault proxy, so the proxy can cut the page's socket.

func init() { browserSubscriber = startChromium }

var wasmBuild struct {
	once          sync.Once
	dir           string
	wasm, wasmExe string
	err           error
}

// buildBrowserWasm builds wasm/browser once per run with the go tool
// running the tests.
func buildBrowserWasm() (string, string, error) {
	wasmBuild.once.Do(func() {
		goCmd, root := goToolchain()
		wasmBuild.dir, wasmBuild.err = os.MkdirTemp("", "kalam-chaos-browser-")
		if wasmBuild.err != nil {
			return
		}
		wasmBuild.wasm = filepath.Join(wasmBuild.dir, "kalam.wasm")
		cmd := exec.Command(goCmd, "build", "-trimpath", "-ldflags=-s -w", "-o", wasmBuild.wasm, "github.com/kalamgo/kalam/wasm/browser")
		cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			wasmBuild.err = fmt.Errorf("building wasm/browser: %v\n%s", err, out)
			return
		}
		wasmBuild.wasmExe = filepath.Join(root, "lib", "wasm", "wasm_exec.js")
		if _, err := os.Stat(wasmBuild.wasmExe); err != nil {
			wasmBuild.err = err
		}
	})
	return wasmBuild.wasm, wasmBuild.wasmExe, wasmBuild.err
}

func closeBrowserBuild() {
	if wasmBuild.dir != "" {
		os.RemoveAll(wasmBuild.dir)
	}
}

// s33Page records the page's live events and socket openings in window.S.
const s33Page = `<!doctype html>
<html><head><meta charset="utf-8"><title>kalam chaos S33</title></head><body>
<script type="module">
import * as kalam from '/kalam/index.js';
const S = { events: [], connects: 0, losses: 0, errors: [], client: null };
window.S = S;
window.startS33 = async (cfg) => {
  S.client = await kalam.createClient({
    url: '/', namespace: cfg.namespace,
    backoffMinMs: 20, backoffMaxMs: 200, pingIntervalMs: 500, pongTimeoutMs: 1500, seed: 1,
    auth: async () => {
      const r = await fetch('/v1/api/auth/login', { method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: cfg.user, password: cfg.password }) });
      if (!r.ok) throw new Error('login answered ' + r.status);
      return r.json();
    },
    onConnection: (ev) => { console.log('conn', JSON.stringify(ev)); if (ev.connected) S.connects++; else S.losses++; },
    onStateChange: (t) => console.log('state', t.from, t.to, t.trigger),
    onError: (err) => S.errors.push(String(err.code) + ': ' + err.message),
  });
  const cost = (cfg.rowCostMicros || 0) / 1000;
  const sub = S.client.live(cfg.sql, {}, (ev) => {
    if (!cost) console.log('event', ev.kind);
    const rows = ev.rows || ev.old || [];
    S.events.push({ kind: ev.kind, ids: rows.map((r) => Number(r.id)), seqs: rows.map((r) => String(r._seq)),
      cont: ev.continuity || '', from: ev.from || '' });
    if (cost) { const end = performance.now() + cost * Math.max(1, rows.length); while (performance.now() < end) {} }
  });
  await sub.ready;
};
window.pageReady = true;
</script></body></html>`

// chromiumPath finds Chromium (or CHROMIUM=/path).
func chromiumPath() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium is not on PATH: install it (apt-get install chromium) or set CHROMIUM")
}

type chromiumSub struct {
	ctx      context.Context
	cancel   func()
	events   chan BrowserEvent
	stop     chan struct{}
	done     chan struct{}
	trace    *pageTrace
	mu       sync.Mutex
	err      error
	connects int
	losses   int
}

func startChromium(ctx context.Context, tb testing.TB, cfg BrowserConfig) (BrowserSubscriber, error) {
	exe, err := chromiumPath()
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatal(err)
		}
		tb.Skip("NOT RUN: " + err.Error())
	}
	wasmPath, wasmExec, err := buildBrowserWasm()
	if err != nil {
		return nil, err
	}
	target, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	transport := &http.Transport{}
	rp.Transport = transport
	rp.ErrorLog = log.New(io.Discard, "", 0) // a refusing proxy is the point
	tb.Cleanup(transport.CloseIdleConnections)
	mux := http.NewServeMux()
	trace := &pageTrace{}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("page trace:\n%s", trace.String())
		}
	})
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		trace.add("page server: %s %s", r.Method, r.URL.Path)
		rp.ServeHTTP(w, r)
		trace.add("page server: %s %s done after %v", r.Method, r.URL.Path, time.Since(t0))
	})
	serve := func(path, file, ctype string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			http.ServeFile(w, r, file)
		})
	}
	serve("/kalam/kalam.wasm", wasmPath, "application/wasm")
	serve("/kalam/wasm_exec.js", wasmExec, "text/javascript")
	serve("/kalam/index.js", filepath.Join("..", "..", "bindings", "js", "index.js"), "text/javascript")
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(s33Page))
	})
	page := httptest.NewServer(mux)
	tb.Cleanup(page.Close)

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(tb.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true))
	bctx, cancelTab := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		switch ev := ev.(type) {
		case *cdpruntime.EventConsoleAPICalled:
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			trace.add("console: %s", strings.Join(parts, " "))
		case *cdpruntime.EventExceptionThrown:
			trace.add("exception: %s %v", ev.ExceptionDetails.Text, ev.ExceptionDetails.Exception)
		}
	}))
	s := &chromiumSub{
		ctx:    bctx,
		cancel: func() { cancelTab(); cancelAlloc() },
		events: make(chan BrowserEvent, 1024),
		trace:  trace,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	fail := func(err error) (BrowserSubscriber, error) { s.cancel(); return nil, err }
	// The first action on the tab's own context starts the browser: a
	// derived context with a timeout would take the browser down with it.
	if err := chromedp.Do(bctx); err != nil {
		return fail(fmt.Errorf("starting chromium (%s): %w", exe, err))
	}
	nctx, ncancel := context.WithTimeout(bctx, 60*time.Second)
	defer ncancel()
	if _, err := chromedp.Run(nctx, chromedp.Navigate(page.URL+"/")); err != nil {
		return fail(fmt.Errorf("starting chromium and loading the page: %w", err))
	}
	for {
		ok, err := chromedp.Run(nctx, chromedp.Evaluate[bool]("window.pageReady === true"))
		if err == nil && ok {
			break
		}
		if nctx.Err() != nil {
			return fail(fmt.Errorf("the page never got ready: %v", err))
		}
		time.Sleep(20 * time.Millisecond)
	}
	arg, _ := json.Marshal(map[string]any{"user": cfg.User, "password": cfg.Password, "namespace": cfg.Namespace, "sql": cfg.SQL, "rowCostMicros": cfg.RowCostMicros})
	if _, err := chromedp.Run(nctx, chromedp.Evaluate[any](fmt.Sprintf("window.startS33(%s).then(() => null)", arg), chromedp.EvalAwaitPromise)); err != nil {
		return fail(fmt.Errorf("starting the live query in the page: %w", err))
	}
	go s.poll()
	return s, nil
}

// poll moves the page's recorded events to the channel.
func (s *chromiumSub) poll() {
	defer close(s.done)
	defer close(s.events)
	for {
		select {
		case <-s.stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		t0 := time.Now()
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const e = S.events; S.events = []; return JSON.stringify({events: e, connects: S.connects, losses: S.losses}); })()`))
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && s.ctx.Err() == nil {
			// The page did not answer for 10 s: its main thread is busy.
			s.trace.add("poll: the page did not answer for %v", time.Since(t0))
			continue
		}
		if err != nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			return
		}
		var got struct {
			Events []struct {
				Kind string   `json:"kind"`
				IDs  []int    `json:"ids"`
				Seqs []string `json:"seqs"`
				Cont string   `json:"cont"`
				From string   `json:"from"`
			} `json:"events"`
			Connects int `json:"connects"`
			Losses   int `json:"losses"`
		}
		json.Unmarshal([]byte(raw), &got)
		s.mu.Lock()
		s.connects, s.losses = got.Connects, got.Losses
		s.mu.Unlock()
		for _, ev := range got.Events {
			be := BrowserEvent{Kind: ev.Kind, IDs: ev.IDs, Continuity: ev.Cont}
			be.From, _ = strconv.ParseInt(ev.From, 10, 64)
			for _, sq := range ev.Seqs {
				n, _ := strconv.ParseInt(sq, 10, 64)
				be.Seqs = append(be.Seqs, n)
			}
			select {
			case s.events <- be:
			case <-s.stop:
				return
			}
		}
	}
}

func (s *chromiumSub) Events() <-chan BrowserEvent { return s.events }

func (s *chromiumSub) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Connects and Losses are as of the last poll: the DevTools session is
// used from the polling goroutine only.
func (s *chromiumSub) Connects() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connects
}

func (s *chromiumSub) Losses() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.losses
}

func (s *chromiumSub) Close() error {
	select {
	case <-s.stop:
		return nil
	default:
	}
	close(s.stop)
	<-s.done
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	chromedp.Run(ctx, chromedp.Evaluate[any]("S.client && S.client.close(), null"))
	cancel()
	s.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// pageTrace keeps the page's console and the page server's requests, with
// times, for a failure report.
type pageTrace struct {
	mu    sync.Mutex
	lines []string
}

func (p *pageTrace) add(format string, args ...any) {
	p.mu.Lock()
	p.lines = append(p.lines, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
	p.mu.Unlock()
}

func (p *pageTrace) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}
