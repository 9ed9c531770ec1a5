//go:build !js

package kalam_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/internal/e2etest"
	"github.com/kalamgo/kalam/kalamtest"
)

// Every waiting call ends, against the real test server over loopback.

// countingTransport counts the login requests that reach the server.
type countingTransport struct {
	logins atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/auth/login") {
		c.logins.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// endsWith runs f, which must return an error matching target within
// limit.
func endsWith(t *testing.T, what string, limit time.Duration, target error, f func() error) {
	t.Helper()
	start := time.Now()
	err := f()
	took := time.Since(start)
	if !errors.Is(err, target) {
		t.Errorf("%s ended with %v, want %v", what, err, target)
	}
	if took > limit {
		t.Errorf("%s took %v, want at most %v", what, took, limit)
	}
}

// firstErr returns the error that ends sub's events.
func firstErr(ctx context.Context, sub *kalam.Subscription) error {
	for _, err := range sub.Events(ctx) {
		if err != nil {
			return err
		}
	}
	return errors.New("events ended without an error")
}

func TestWrongPasswordEndsEveryWaitingCall(t *testing.T) {
	e := newEnv(t, kalamtest.Config{}, false)
	ct := &countingTransport{}
	c := e.client(func(cfg *kalam.Config) {
		cfg.Auth = auth.Basic("alice", "not-the-password")
		cfg.HTTPClient = &http.Client{Transport: ct}
	})
	ctx := e2etest.Ctx(t, 20*time.Second)
	// One round trip on loopback, with room for a loaded machine.
	const limit = 3 * time.Second
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		endsWith(t, "Live", limit, kalam.ErrCredentialsRejected, func() error {
			sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{})
			if err != nil {
				return err
			}
			return firstErr(ctx, sub)
		})
	}()
	go func() {
		defer wg.Done()
		endsWith(t, "LiveRows", limit, kalam.ErrCredentialsRejected, func() error {
			v, err := c.LiveRows(ctx, "SELECT * FROM orders", kalam.RowsOptions{})
			if err != nil {
				return err
			}
			defer v.Close()
			return v.WaitFor(ctx, func([]kalam.Row) bool { return true })
		})
	}()
	go func() {
		defer wg.Done()
		endsWith(t, "Query", limit, kalam.ErrCredentialsRejected, func() error {
			_, err := c.Query(ctx, "SELECT * FROM orders")
			return err
		})
	}()
	wg.Wait()
	// No retry storm: the password was tried once; the calls that came in
	// after the refusal failed without asking again. The hold gives a
	// storm time to show.
	time.Sleep(500 * time.Millisecond)
	if n := ct.logins.Load(); n != 1 {
		t.Fatalf("%d logins with the wrong password, want 1", n)
	}
	// Later calls fail at once with the same cause.
	endsWith(t, "a later Query", limit/3, kalam.ErrCredentialsRejected, func() error {
		_, err := c.Query(ctx, "SELECT 1")
		return err
	})
}

func TestGiveUpWhenTheServerStaysUnreachable(t *testing.T) {
	e := newEnv(t, kalamtest.Config{}, true)
	access, _, err := e.srv.IssueTokens("alice")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var backoffs []kalam.Transition
	c := e.client(func(cfg *kalam.Config) {
		cfg.Auth = auth.JWT(access)
		cfg.GiveUpAfter = time.Second
		cfg.OnStateChange = func(tr kalam.Transition) {
			if tr.To == kalam.StateBackoff && tr.From != tr.To {
				mu.Lock()
				backoffs = append(backoffs, tr)
				mu.Unlock()
			}
		}
	})
	e.proxy.Refuse()
	ctx := e2etest.Ctx(t, 20*time.Second)
	start := time.Now()
	sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.LiveRows(ctx, "SELECT * FROM orders", kalam.RowsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	connectErr := c.Connect(ctx)
	liveErr := firstErr(ctx, sub)
	rowsErr := v.WaitFor(ctx, func([]kalam.Row) bool { return true })
	took := time.Since(start)
	for what, err := range map[string]error{"Connect": connectErr, "Live": liveErr, "LiveRows": rowsErr} {
		var ge *kalam.GiveUpError
		if !errors.As(err, &ge) || !errors.Is(err, kalam.ErrGaveUp) {
			t.Errorf("%s ended with %v, want a *GiveUpError", what, err)
			continue
		}
		if ge.Attempts < 1 || ge.Last == nil || ge.Elapsed < time.Second {
			t.Errorf("%s: the give-up does not say what was tried: %+v", what, ge)
		}
	}
	if took > 3*time.Second {
		t.Errorf("the calls ended after %v, the policy says 1 s", took)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(backoffs) == 0 {
		t.Fatal("no Backoff transition reported")
	}
	for _, tr := range backoffs {
		if tr.Reason == nil || tr.Attempt < 1 || tr.RetryIn <= 0 {
			t.Fatalf("Backoff transition without its reason, attempt or delay: %v", tr)
		}
	}
	// New work tries again: the server is back, the new Live goes live.
	e.proxy.Up()
	sub, err = c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e2etest.Collect(ctx, sub).WaitFor(t, ctx, "the ack after the server came back", func(evs []kalam.Event) bool {
		return len(evs) > 0 && evs[0].Kind == kalam.EventSubscribed
	})
}

func TestQualifiedLiveNeedsNoNamespace(t *testing.T) {
	e := newEnv(t, kalamtest.Config{}, false)
	c := e.client(func(cfg *kalam.Config) { cfg.Namespace = "" })
	ctx := e2etest.Ctx(t, 10*time.Second)
	sub, err := c.Live(ctx, "SELECT * FROM app.orders", kalam.LiveOptions{})
	if err != nil {
		t.Fatalf("qualified Live = %v", err)
	}
	col := e2etest.Collect(ctx, sub)
	e.write("INSERT INTO app.orders (id, status) VALUES (1, 'open')")
	col.WaitFor(t, ctx, "row 1", e2etest.HasIDs("1"))

	// Misspelled SQL names no table: the server judges it, and its answer,
	// not a namespace hint, says what is wrong.
	bad, err := c.Live(ctx, "SELEKT * FORM orders", kalam.LiveOptions{})
	if err != nil {
		t.Fatalf("misspelled Live refused before the server saw it: %v", err)
	}
	var se *kalam.ServerError
	if err := firstErr(ctx, bad); !errors.As(err, &se) {
		t.Fatalf("misspelled Live ended with %v, want the server's error", err)
	}
}
