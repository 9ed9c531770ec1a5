package bench

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
)

// resumeFloor is the client's backoff for the resume benchmark: BackoffMin
// and BackoffMax both, so the first redial waits exactly this long and can
// be subtracted.
const resumeFloor = 10 * time.Millisecond

// BenchmarkResume measures the time from a socket drop (kalamtest
// DropConnections: no close frame, 1006) to the subscription live again
// (its EventResumed), minus the configured backoff floor, over 50 drops
// per round. The reference is a raw coder/websocket connection that
// redials, authenticates and resubscribes from its last _seq (as the
// client does) as soon as its read fails. Metrics: p50-ns, p99-ns (net of
// the floor), raw-p50-ns, raw-p99-ns, floor-ns.
func BenchmarkResume(b *testing.B) {
	const drops = 50
	srv := startInProcess(b)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	tok := srv.login(b, clientUser)
	c, err := kalam.New(kalam.Config{
		URL: srv.URL, Auth: auth.JWT(tok), Namespace: "app",
		BackoffMin: resumeFloor, BackoffMax: resumeFloor,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{NoSnapshot: true})
	if err != nil {
		b.Fatal(err)
	}
	live := make(chan time.Time, 1)
	inserted := make(chan struct{}, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ev, err := range sub.Events(ctx) {
			if err != nil {
				return
			}
			switch ev.Kind {
			case kalam.EventSubscribed, kalam.EventResumed:
				live <- time.Now()
			case kalam.EventInsert:
				inserted <- struct{}{}
			}
		}
	}()
	wait := func(ch <-chan time.Time) time.Time {
		select {
		case t := <-ch:
			return t
		case <-time.After(10 * time.Second):
			b.Fatal("not live again within 10s")
			return time.Time{}
		}
	}
	wait(live)
	// One row, so that the subscription has a position to resume from.
	if err := srv.insert(tok, 1); err != nil {
		b.Fatal(err)
	}
	select {
	case <-inserted:
	case <-time.After(10 * time.Second):
		b.Fatal("no event for the first row")
	}

	// The reference: redial, authenticate and resubscribe from the last
	// _seq seen, as the client does, so the server does the same work.
	rawTok := srv.login(b, rawUser)
	first, err := dialRaw(ctx, srv.wsURL(), rawTok, "SELECT * FROM app.orders", 1, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.insert(rawTok, 1); err != nil {
		b.Fatal(err)
	}
	m, err := first.expect(ctx, "change")
	if err != nil || len(m.Rows) != 1 {
		b.Fatalf("raw reference: first row: %v", err)
	}
	from := json.Number(strings.Trim(string(m.Rows[0]["_seq"]), `"`))
	rawLive := make(chan time.Time, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := first
		for ctx.Err() == nil {
			if r == nil {
				var err error
				if r, err = dialRaw(ctx, srv.wsURL(), rawTok, "SELECT * FROM app.orders", 1, map[string]any{"from": from}); err != nil {
					continue
				}
			}
			rawLive <- time.Now()
			for {
				if _, err := r.read(ctx); err != nil {
					break
				}
			}
			r.Close()
			r = nil
		}
	}()
	wait(rawLive)

	var cl, raw []time.Duration
	for range b.N {
		for range drops {
			start := time.Now()
			srv.srv.DropConnections()
			cl = append(cl, wait(live).Sub(start)-resumeFloor)
			raw = append(raw, wait(rawLive).Sub(start))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(cl, 50)), "p50-ns")
	b.ReportMetric(float64(percentile(cl, 99)), "p99-ns")
	b.ReportMetric(float64(percentile(raw, 50)), "raw-p50-ns")
	b.ReportMetric(float64(percentile(raw, 99)), "raw-p99-ns")
	b.ReportMetric(float64(resumeFloor), "floor-ns")
}
