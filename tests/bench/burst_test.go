package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/kalamtest"
)

// burstRows is the burst: 50,000 inserts.
const burstRows = 50_000

// repairGiveUp bounds one round of BenchmarkLoadOverflowRepair: a repair
// takes a catch-up delay and a replay, well under a second on loopback.
const repairGiveUp = 5 * time.Second

// burstGiveUp bounds the wait for rows that may never come (a drop the
// client failed to repair): the figure then shows the shortfall rather
// than the benchmark hanging.
const burstGiveUp = 20 * time.Second

// limitsConfig is a fresh server for one burst: KalamDB's default limits,
// or (loose) a queue and loading buffer that never overflow. The rate
// limit is KalamDB's in both: the client paces itself under it.
func limitsConfig(loose bool) kalamtest.Config {
	cfg := kalamtest.Config{
		Users:             []kalamtest.User{{Name: clientUser, Password: benchPass}},
		IdleTimeout:       -1,
		HeartbeatInterval: time.Second,
	}
	if loose {
		cfg.OutgoingQueue = 1 << 20
		cfg.LoadingBuffer = 1 << 20
	}
	return cfg
}

// burstResult is one burst: rows delivered (distinct ids) and the time
// from the first write to the last row, or to the give-up.
type burstResult struct {
	delivered int
	took      time.Duration
	dropped   int64
}

// runBurst writes burstRows inserts, 100 per statement, straight on a
// fresh server, to one subscription of a client with default settings
// whose consumer only counts.
func runBurst(tb testing.TB, loose bool) burstResult {
	tb.Helper()
	srv := kalamtest.NewServer(tb, limitsConfig(loose))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, sql := range []string{"CREATE NAMESPACE app", "CREATE USER TABLE app.orders (id BIGINT PRIMARY KEY, status TEXT, note TEXT)"} {
		if _, err := srv.Exec(ctx, "root", sql); err != nil {
			tb.Fatal(err)
		}
	}
	c, err := kalam.New(kalam.Config{URL: srv.URL, Auth: auth.Basic(clientUser, benchPass), Namespace: "app"})
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{NoSnapshot: true})
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	seen := make([]bool, burstRows+1)
	delivered := 0
	var last time.Time
	acked := make(chan struct{})
	all := make(chan struct{})
	go func() {
		for ev, err := range sub.Events(ctx) {
			if err != nil {
				return
			}
			if ev.Kind == kalam.EventSubscribed {
				close(acked)
			}
			rows := ev.Rows
			if ev.Kind != kalam.EventInsert && ev.Kind != kalam.EventSnapshot {
				continue
			}
			mu.Lock()
			for _, r := range rows {
				id, err := r.Get("id").Int64()
				if err == nil && id > 0 && id <= burstRows && !seen[id] {
					seen[id] = true
					delivered++
				}
			}
			last = time.Now()
			done := delivered == burstRows
			mu.Unlock()
			if done {
				close(all)
				return
			}
		}
	}()
	select {
	case <-acked:
	case <-ctx.Done():
		tb.Fatal("no ack")
	}
	start := time.Now()
	var sb strings.Builder
	for lo := 1; lo <= burstRows; lo += 100 {
		sb.Reset()
		sb.WriteString("INSERT INTO app.orders (id, status) VALUES ")
		for id := lo; id < lo+100; id++ {
			if id > lo {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "(%d, 'open')", id)
		}
		if _, err := srv.Exec(ctx, clientUser, sb.String()); err != nil {
			tb.Fatal(err)
		}
	}
	select {
	case <-all:
	case <-time.After(burstGiveUp):
	case <-ctx.Done():
	}
	mu.Lock()
	defer mu.Unlock()
	return burstResult{delivered: delivered, took: last.Sub(start), dropped: srv.Drops().Changes}
}

// BenchmarkBurst: a burst of 50,000 inserts to one subscription under
// KalamDB's default limits (kalamtest's defaults), and the same burst with
// the limits loosened, in one run. Metrics: delivered-ratio (distinct rows
// delivered ÷ rows written, default limits; repairs included),
// events/s (rows delivered ÷ first write to last row, default limits),
// loose-events/s (the same, limits loosened), server-drops (changes the
// server dropped under the default limits).
func BenchmarkBurst(b *testing.B) {
	for b.Loop() {
		strict := runBurst(b, false)
		loose := runBurst(b, true)
		b.ReportMetric(float64(strict.delivered)/burstRows, "delivered-ratio")
		b.ReportMetric(float64(strict.delivered)/strict.took.Seconds(), "events/s")
		b.ReportMetric(float64(loose.delivered)/loose.took.Seconds(), "loose-events/s")
		b.ReportMetric(float64(strict.dropped), "server-drops")
	}
}

// BenchmarkLoadOverflowRepair: the time from a loading-buffer overflow to
// the repaired rows delivered. Each round subscribes to a 2,000-row table
// in batches of 100 (the client paces next_batch under the server's rate
// limit, so the load lasts about half a second) while 2,000 more rows are
// written: the server's 1,024-change buffer overflows. The time runs from
// the load's last batch (the flush that follows it is where the drops
// show) to the last missing row delivered by the catch-up. Metrics:
// p50-ns, p99-ns (over the rounds that overflowed and were repaired),
// overflows (rounds whose buffer overflowed), unrepaired (rows still
// missing after the give-up, over all rounds).
func BenchmarkLoadOverflowRepair(b *testing.B) {
	const rounds, loaded, written = 10, 2000, 2000
	for b.Loop() {
		var times []time.Duration
		unrepaired, overflows := 0, 0
		for range rounds {
			d, missing, overflowed := overflowRound(b, loaded, written)
			unrepaired += missing
			if overflowed {
				overflows++
				if missing == 0 {
					times = append(times, d)
				}
			}
		}
		b.ReportMetric(float64(overflows), "overflows")
		if len(times) > 0 {
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2]), "p50-ns")
			b.ReportMetric(float64(times[min(len(times)-1, len(times)*99/100)]), "p99-ns")
		}
		b.ReportMetric(float64(unrepaired), "unrepaired")
	}
}

// overflowRound runs one round: the time from the load's last batch to the
// last row, the rows still missing at the give-up, and whether the
// loading buffer overflowed at all.
func overflowRound(tb testing.TB, loaded, written int) (time.Duration, int, bool) {
	tb.Helper()
	srv := kalamtest.NewServer(tb, limitsConfig(false))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, sql := range []string{"CREATE NAMESPACE app", "CREATE USER TABLE app.orders (id BIGINT PRIMARY KEY, status TEXT, note TEXT)"} {
		if _, err := srv.Exec(ctx, "root", sql); err != nil {
			tb.Fatal(err)
		}
	}
	insert := func(lo, hi int) {
		var sb strings.Builder
		sb.WriteString("INSERT INTO app.orders (id, status) VALUES ")
		for id := lo; id <= hi; id++ {
			if id > lo {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "(%d, 'open')", id)
		}
		if _, err := srv.Exec(ctx, clientUser, sb.String()); err != nil {
			tb.Fatal(err)
		}
	}
	for lo := 1; lo <= loaded; lo += 500 {
		insert(lo, min(lo+499, loaded))
	}
	c, err := kalam.New(kalam.Config{URL: srv.URL, Auth: auth.Basic(clientUser, benchPass), Namespace: "app"})
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{BatchSize: 100})
	if err != nil {
		tb.Fatal(err)
	}
	total := loaded + written
	var mu sync.Mutex
	seen := make([]bool, total+1)
	n := 0
	var lastBatch, complete time.Time
	all := make(chan struct{})
	first := make(chan struct{})
	go func() {
		for ev, err := range sub.Events(ctx) {
			if err != nil {
				return
			}
			if ev.Kind == kalam.EventSnapshot && ev.Batch == 0 {
				select {
				case <-first:
				default:
					close(first)
				}
			}
			mu.Lock()
			if ev.Kind == kalam.EventSnapshot && ev.Last && lastBatch.IsZero() {
				lastBatch = time.Now()
			}
			if ev.Kind == kalam.EventSnapshot || ev.Kind == kalam.EventInsert {
				for _, r := range ev.Rows {
					if id, err := r.Get("id").Int64(); err == nil && id > 0 && int(id) <= total && !seen[id] {
						seen[id] = true
						n++
					}
				}
			}
			done := n == total
			if done {
				complete = time.Now()
			}
			mu.Unlock()
			if done {
				close(all)
				return
			}
		}
	}()
	select {
	case <-first:
	case <-ctx.Done():
		tb.Fatal("no first batch")
	}
	for lo := loaded + 1; lo <= total; lo += 100 {
		insert(lo, lo+99)
	}
	select {
	case <-all:
	case <-time.After(repairGiveUp):
	}
	mu.Lock()
	defer mu.Unlock()
	return complete.Sub(lastBatch), total - n, srv.Drops().LoadBuffer > 0
}
