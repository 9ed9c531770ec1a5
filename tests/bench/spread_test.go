package bench

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
)

// BenchmarkReconnectSpread restarts the server under 100 connected
// clients and measures how their reconnections spread in time: the
// p10–p90 spread of the moments they are connected again. With
// BackoffMin 100 ms the first redial waits a uniformly random time in
// [100 ms, 200 ms), so working jitter spreads the herd over about 80 ms
// (p10–p90 of that window). The same 100 clients with BackoffMin =
// BackoffMax (no jitter) are measured too. Metrics: spread-ns,
// window-ns (the configured p10–p90), nojitter-spread-ns.
func BenchmarkReconnectSpread(b *testing.B) {
	const n = 100
	const floor = 100 * time.Millisecond
	srv := startInProcess(b)
	tok := srv.login(b, clientUser)

	measure := func(max time.Duration) time.Duration {
		var mu sync.Mutex
		var since time.Time
		var times []time.Duration
		clients := make([]*kalam.Client, 0, n)
		defer func() {
			for _, c := range clients {
				c.Close()
			}
		}()
		for i := range n {
			c, err := kalam.New(kalam.Config{
				URL: srv.URL, Auth: auth.JWT(tok), Namespace: "app",
				EagerConnect: true, BackoffMin: floor, BackoffMax: max,
				Seed: uint64(i + 1),
				OnConnection: func(ev kalam.ConnectionEvent) {
					mu.Lock()
					defer mu.Unlock()
					if ev.Connected && !since.IsZero() {
						times = append(times, time.Since(since))
					}
				},
			})
			if err != nil {
				b.Fatal(err)
			}
			clients = append(clients, c)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err = c.Connect(ctx)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
		}
		mu.Lock()
		since = time.Now()
		mu.Unlock()
		if err := srv.srv.Restart(); err != nil {
			b.Fatal(err)
		}
		if err := waitUntil(30*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(times) >= n }); err != nil {
			b.Fatal("clients did not all reconnect:", err)
		}
		mu.Lock()
		defer mu.Unlock()
		slices.Sort(times)
		return percentile(times, 90) - percentile(times, 10)
	}
	var spread, herd []time.Duration
	for range b.N {
		spread = append(spread, measure(time.Second))
		herd = append(herd, measure(floor))
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(spread, 50)), "spread-ns")
	b.ReportMetric(float64(floor*8/10), "window-ns")
	b.ReportMetric(float64(percentile(herd, 50)), "nojitter-spread-ns")
}
