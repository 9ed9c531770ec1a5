package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
)

// eventsPerRound is how many live events one measurement delivers in all,
// spread over the subscriptions of the point.
const eventsPerRound = 30000

// tally counts the rows delivered to a set of consumers and signals when a
// round's target is crossed.
type tally struct {
	total  atomic.Int64
	target atomic.Int64
	done   chan struct{}
}

func newTally() *tally { return &tally{done: make(chan struct{}, 1)} }

func (t *tally) add(n int) {
	v := t.total.Add(int64(n))
	if tg := t.target.Load(); v >= tg && v-int64(n) < tg {
		select {
		case t.done <- struct{}{}:
		default:
		}
	}
}

// consumers is one side of a comparison: clients or raw connections, all
// following app.orders of one user through one gate.
type consumers struct {
	user  string
	token string
	gate  *gate
	tally *tally
	stop  func()
}

// startClients starts n kalam clients with subs live queries each, through
// a fresh gate, and one goroutine per subscription counting inserted rows.
//
// Each subscription buffers every row of a round (Config.EventBuffer), so
// flow control never pauses it: the figure is the steady path. (At the
// time of writing, a subscription paused for a slow consumer that resumes
// while change frames of its old server-side subscription are still in
// flight can skip rows: the engine applies those stale frames while the
// resubscribe is pending, its position moves past rows the consumer never
// got, and the replay starts after them.)
func startClients(tb testing.TB, srv *server, n, subs, buffer int) *consumers {
	tb.Helper()
	cs := &consumers{user: clientUser, token: srv.login(tb, clientUser), gate: newGate(tb, hostOf(srv.URL)), tally: newTally()}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var clients []*kalam.Client
	cs.stop = func() {
		cancel()
		for _, c := range clients {
			c.Close()
		}
		wg.Wait()
	}
	tb.Cleanup(cs.stop)
	ready := make(chan error, n*subs)
	for range n {
		c, err := kalam.New(kalam.Config{
			URL:          cs.gate.URL(),
			Auth:         auth.JWT(cs.token),
			Namespace:    "app",
			PingInterval: time.Minute, // a held stream must not look like a dead link
			PongTimeout:  time.Minute,
			EventBuffer:  buffer,
		})
		if err != nil {
			tb.Fatal(err)
		}
		clients = append(clients, c)
		for range subs {
			sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{NoSnapshot: true})
			if err != nil {
				tb.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				first := true
				for ev, err := range sub.Events(ctx) {
					if first {
						first = false
						ready <- err
					}
					if err != nil {
						return
					}
					// A consumer that falls behind pauses its subscription,
					// which resumes with the rows it missed as snapshot
					// batches: both kinds carry the stream's rows.
					if ev.Kind == kalam.EventInsert || ev.Kind == kalam.EventSnapshot {
						cs.tally.add(len(ev.Rows))
					}
				}
			}()
		}
	}
	for range n * subs {
		select {
		case err := <-ready:
			if err != nil {
				tb.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			tb.Fatal("subscriptions not live within 30s")
		}
	}
	return cs
}

// startRaw starts n raw connections with subs subscriptions each, through
// a fresh gate, each read by one goroutine.
func startRaw(tb testing.TB, srv *server, n, subs int) *consumers {
	tb.Helper()
	cs := &consumers{user: rawUser, token: srv.login(tb, rawUser), tally: newTally()}
	cs.gate = newGate(tb, hostOf(srv.URL))
	wsURL := "ws://" + cs.gate.ln.Addr().String() + "/v1/ws"
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var conns []*rawConn
	cs.stop = func() {
		cancel()
		for _, r := range conns {
			r.Close()
		}
		wg.Wait()
	}
	tb.Cleanup(cs.stop)
	for range n {
		r, err := dialRaw(ctx, wsURL, cs.token, "SELECT * FROM app.orders", subs, nil)
		if err != nil {
			tb.Fatal(err)
		}
		conns = append(conns, r)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := r.read(ctx)
				if err != nil {
					return
				}
				if m.Type == "change" {
					cs.tally.add(len(m.Rows))
				}
			}
		}()
	}
	return cs
}

// round produces rows inserted rows for cs behind its held gate, then
// releases them and times how fast the consumers take in every event.
func round(tb testing.TB, srv *server, cs *consumers, rows, fanout int) (events int, took time.Duration) {
	tb.Helper()
	want := int64(rows * fanout)
	cs.tally.target.Store(cs.tally.total.Load() + want)
	cs.gate.Hold()
	if err := srv.insert(cs.token, rows); err != nil {
		tb.Fatal(err)
	}
	if err := waitUntil(60*time.Second, func() bool { return int64(cs.gate.Frames()) >= want }); err != nil {
		tb.Fatalf("server did not produce %d notifications: %v (held %d)", want, err, cs.gate.Frames())
	}
	start := time.Now()
	cs.gate.Release()
	select {
	case <-cs.tally.done:
	case <-time.After(60 * time.Second):
		tb.Fatalf("consumers took %d of %d events within 60s", cs.tally.total.Load()-(cs.tally.target.Load()-want), want)
	}
	return int(want), time.Since(start)
}

// BenchmarkEvents measures live events per second taken in through the
// client (Subscription.Events, one goroutine per subscription) against a
// raw coder/websocket + encoding/json loop (one goroutine per connection)
// reading the same kind of stream, at growing numbers of subscriptions
// and clients. The stream is made in advance and held in a gate, so the
// figures measure the consumers: metrics client-events/s, raw-events/s and
// their ratio.
func BenchmarkEvents(b *testing.B) {
	srv := startChild(b)
	for _, p := range []struct {
		name          string
		clients, subs int
	}{
		{"subs=1", 1, 1},
		{"subs=10", 1, 10},
		{"subs=100", 1, 100},
		{"subs=1000", 10, 100},
		{"clients=10", 10, 1},
		{"clients=100", 100, 1},
	} {
		b.Run(p.name, func(b *testing.B) {
			fanout := p.clients * p.subs
			rows := max(1, eventsPerRound/fanout)
			raw := startRaw(b, srv, p.clients, p.subs)
			cl := startClients(b, srv, p.clients, p.subs, max(256, 2*rows))
			var rawN, clN int
			var rawT, clT time.Duration
			// Raw, client, client, raw: drift in the machine's load hits
			// both sides alike.
			for range b.N {
				for _, cs := range []*consumers{raw, cl, cl, raw} {
					n, d := round(b, srv, cs, rows, fanout)
					if cs == raw {
						rawN, rawT = rawN+n, rawT+d
					} else {
						clN, clT = clN+n, clT+d
					}
				}
			}
			b.StopTimer()
			cl.stop()
			raw.stop()
			re, ce := float64(rawN)/rawT.Seconds(), float64(clN)/clT.Seconds()
			b.ReportMetric(ce, "client-events/s")
			b.ReportMetric(re, "raw-events/s")
			b.ReportMetric(ce/re, "ratio")
		})
	}
}

func hostOf(url string) string {
	var host string
	if _, err := fmt.Sscanf(url, "http://%s", &host); err != nil {
		return url
	}
	return host
}
