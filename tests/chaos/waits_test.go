package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
)

// Scenarios 38–40: every waiting call ends.
func init() {
	scenarios = append(scenarios,
		scenario{name: "S38_WrongPasswordEndsWaitingCalls", core: true, run: s38},
		scenario{name: "S39_ProviderTokensKeepBeingRefused", core: true, run: s39},
		scenario{name: "S40_UnreachableWithGiveUpPolicy", core: true, run: s40},
	)
}

// httpTap counts the requests the client makes and remembers each bearer
// token it sent over HTTP, as a hash-free equality set held in memory only
// (nothing is printed).
type httpTap struct {
	logins atomic.Int64
	mu     sync.Mutex
	tokens map[string]int
}

func (h *httpTap) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/auth/login") {
		h.logins.Add(1)
	}
	if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
		h.mu.Lock()
		if h.tokens == nil {
			h.tokens = map[string]int{}
		}
		h.tokens[a]++
		h.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

// reused reports how many bearer tokens were sent more than once.
func (h *httpTap) reused() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.tokens {
		if c > 1 {
			n++
		}
	}
	return n
}

// timed runs f and reports how long it took and its error.
func timed(f func() error) (time.Duration, error) {
	start := time.Now()
	err := f()
	return time.Since(start), err
}

// endOf returns the error that ends sub's events.
func endOf(ctx context.Context, sub *kalam.Subscription) error {
	for _, err := range sub.Events(ctx) {
		if err != nil {
			return err
		}
	}
	return errors.New("events ended without an error")
}

// S38: a wrong password (Basic; nothing can fix it but the application):
// Live, LiveRows and Query waiting each end with ErrCredentialsRejected
// within one round trip, and the password is not tried again.
func s38(w *world) {
	w.table("items")
	tap := &httpTap{}
	c, cs := w.client(func(cfg *kalam.Config) {
		cfg.Auth = auth.Basic("alice", "not-"+alicePassword)
		cfg.HTTPClient = &http.Client{Transport: tap}
	})
	var wg sync.WaitGroup
	results := map[string]error{}
	took := map[string]time.Duration{}
	var mu sync.Mutex
	run := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := timed(f)
			mu.Lock()
			results[name], took[name] = err, d
			mu.Unlock()
		}()
	}
	run("Live", func() error {
		sub, err := c.Live(w.ctx, "SELECT * FROM items", kalam.LiveOptions{})
		if err != nil {
			return err
		}
		return endOf(w.ctx, sub)
	})
	run("LiveRows", func() error {
		v, err := c.LiveRows(w.ctx, "SELECT * FROM items", kalam.RowsOptions{})
		if err != nil {
			return err
		}
		defer v.Close()
		return v.WaitFor(w.ctx, func([]kalam.Row) bool { return true })
	})
	run("Query", func() error {
		_, err := c.Query(w.ctx, "SELECT * FROM items")
		return err
	})
	wg.Wait()
	for name, err := range results {
		if !errors.Is(err, kalam.ErrCredentialsRejected) {
			w.t.Errorf("%s ended with %v, want ErrCredentialsRejected", name, err)
		}
		// One login round trip on loopback; margin covers a loaded machine.
		if took[name] > margin {
			w.t.Errorf("%s took %v to end, want one round trip (at most %v)", name, took[name], margin)
		}
	}
	accepted := w.srv.Stats().WSAccepted
	hold(time.Second) // a retry storm would show here
	if n := tap.logins.Load(); n != 1 {
		w.t.Errorf("%d logins with the wrong password, want 1", n)
	}
	if n := w.srv.Stats().WSAccepted - accepted; n != 0 || accepted != 0 {
		w.t.Errorf("sockets opened without credentials: %d, then %d more", accepted, n)
	}
	if st := cs.current(); st != kalam.StateUnauthed {
		w.t.Errorf("state %v, want Unauthed", st)
	}
}

// S39: a provider whose tokens the server keeps refusing. The provider is
// asked at once after each refusal, a Query never waits out a backoff (the
// backoff here is seconds long), and no refused token is presented again.
func s39(w *world) {
	w.table("items")
	tap := &httpTap{}
	var asked atomic.Int64
	var mu sync.Mutex
	var askTimes []time.Time
	failedBefore := w.srv.Stats().AuthFailed
	c, _ := w.client(func(cfg *kalam.Config) {
		cfg.HTTPClient = &http.Client{Transport: tap}
		cfg.BackoffMin, cfg.BackoffMax = 4*time.Second, 8*time.Second
		cfg.Auth = auth.Dynamic(func(context.Context, auth.Request) (auth.Credentials, error) {
			n := asked.Add(1)
			mu.Lock()
			askTimes = append(askTimes, time.Now())
			mu.Unlock()
			// Opaque tokens the server does not know: every one is refused.
			return auth.Credentials{AccessToken: auth.NewSecret(fmt.Sprintf("never-valid-%d", n)), Lifetime: time.Hour}, nil
		})
	})
	// A live query keeps the socket side refusing too (auth_error after
	// auth_error), so the provider's retries back off.
	if _, err := c.Live(w.ctx, "SELECT * FROM items", kalam.LiveOptions{Wait: true}); err != nil {
		w.t.Fatal(err)
	}
	w.waitUntil("two socket refusals", func() bool { return w.srv.Stats().AuthFailed-failedBefore >= 2 }, nil)
	for i := range 5 {
		before := asked.Load()
		start := time.Now()
		d, err := timed(func() error { _, err := c.Query(w.ctx, "SELECT * FROM items"); return err })
		if !errors.Is(err, auth.ErrRejected) && !errors.Is(err, kalam.ErrCredentialsRejected) {
			w.t.Fatalf("query %d ended with %v, want a refusal", i, err)
		}
		if d > margin {
			w.t.Fatalf("query %d took %v: it waited out a backoff (at least %v)", i, d, 4*time.Second)
		}
		if asked.Load() <= before {
			w.t.Fatalf("query %d: the provider was not asked", i)
		}
		mu.Lock()
		first := askTimes[before]
		mu.Unlock()
		if wait := first.Sub(start); wait > margin {
			w.t.Fatalf("query %d: the provider was asked %v after the query started", i, wait)
		}
	}
	if n := tap.reused(); n != 0 {
		w.t.Fatalf("%d refused tokens presented again over HTTP", n)
	}
	// Over the socket each token is refused at most once.
	if failed := w.srv.Stats().AuthFailed - failedBefore; failed > asked.Load() {
		w.t.Fatalf("%d socket refusals for %d tokens: a refused token was presented again", failed, asked.Load())
	}
}

// S40: the server is unreachable and a give-up policy is set: the waiting
// calls fail with *GiveUpError by the policy's limit. One client has its
// credentials and gives up after a time window; the other must log in
// through the unreachable server and gives up after a number of attempts.
func s40(w *world) {
	w.table("items")
	access, _, err := w.srv.IssueTokens("alice")
	if err != nil {
		w.t.Fatal(err)
	}
	w.proxy.Refuse()
	const window = 1500 * time.Millisecond
	withToken, _ := w.client(func(cfg *kalam.Config) {
		cfg.Auth = auth.JWT(access)
		cfg.GiveUpAfter = window
	})
	withLogin, _ := w.client(func(cfg *kalam.Config) { cfg.GiveUpAttempts = 4 })

	type outcome struct {
		err  error
		took time.Duration
	}
	var mu sync.Mutex
	got := map[string]outcome{}
	var wg sync.WaitGroup
	run := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := timed(f)
			mu.Lock()
			got[name] = outcome{err, d}
			mu.Unlock()
		}()
	}
	for name, c := range map[string]*kalam.Client{"token": withToken, "login": withLogin} {
		run(name+"/Live", func() error {
			sub, err := c.Live(w.ctx, "SELECT * FROM items", kalam.LiveOptions{})
			if err != nil {
				return err
			}
			return endOf(w.ctx, sub)
		})
		run(name+"/LiveRows", func() error {
			v, err := c.LiveRows(w.ctx, "SELECT * FROM items", kalam.RowsOptions{})
			if err != nil {
				return err
			}
			defer v.Close()
			return v.WaitFor(w.ctx, func([]kalam.Row) bool { return true })
		})
		run(name+"/Connect", func() error { return c.Connect(w.ctx) })
	}
	run("login/Query", func() error { _, err := withLogin.Query(w.ctx, "SELECT * FROM items"); return err })
	wg.Wait()

	// The attempt-limited client: four failed logins, each bounded by the
	// loopback's refusal and the backoff (at most 200 ms).
	attemptsLimit := 4*backoffMax + margin
	for name, o := range got {
		limit := window + margin
		if strings.HasPrefix(name, "login/") {
			limit = attemptsLimit
		}
		if o.took > limit {
			w.t.Errorf("%s ended after %v, the policy's limit is %v", name, o.took, limit)
		}
		if name == "login/Query" {
			// A query waiting for credentials fails with the login's
			// failure at once, or with the give-up: both end it.
			if o.err == nil {
				w.t.Errorf("%s succeeded against an unreachable server", name)
			}
			continue
		}
		var ge *kalam.GiveUpError
		if !errors.As(o.err, &ge) || !errors.Is(o.err, kalam.ErrGaveUp) {
			w.t.Errorf("%s ended with %v, want a *GiveUpError", name, o.err)
			continue
		}
		if ge.Attempts < 1 || ge.Last == nil {
			w.t.Errorf("%s: the give-up does not say what was tried: %v", name, o.err)
		}
		if strings.HasPrefix(name, "token/") && ge.Elapsed < window {
			w.t.Errorf("%s gave up after %v, before the window of %v", name, ge.Elapsed, window)
		}
		if strings.HasPrefix(name, "login/") && ge.Attempts < 4 {
			w.t.Errorf("%s gave up after %d attempts, the policy says 4", name, ge.Attempts)
		}
	}
	// New work tries again once the server is back.
	w.restore(w.proxy.Up)
	col := w.live(withToken, "SELECT * FROM items", kalam.LiveOptions{})
	w.waitSnapshot(col)
}
