package browser

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/kalamtest"
)

// BenchmarkPageLoadToLive measures, in headless Chromium on loopback, the
// time from the start of a navigation to bench.html to the client's first
// Live state: the module and the wasm (from the HTTP cache after the first
// load), the login, the socket and the first subscription. The time is the
// page's own performance.now() at the Live transition (its origin is the
// navigation's start), reported as ns/op. first-ms is the first, cold load.
func BenchmarkPageLoadToLive(b *testing.B) {
	w := newWorld(b, kalamtest.Config{})
	tab := newTab(b)
	var total, first float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(tab.ctx, 30*time.Second)
		err := chromedp.Do(ctx, chromedp.Navigate(w.page.URL+"/bench.html"))
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		tab.waitForBench(30 * time.Second)
		ms := eval[float64](tab, `window.liveAt`)
		if i == 0 {
			first = ms
		}
		total += ms
	}
	b.ReportMetric(total*1e6/float64(b.N), "ns/op")
	b.ReportMetric(first, "first-ms")
	tab.run(`window.benchClient.close()`)
}

// BenchmarkBrowserEvents measures live events per second through the
// browser build (in Chromium, from the socket to the JavaScript callback)
// and, as the reference, through the native client on the same stream:
// the same server, page server and proxy, the same rows, the same batch
// writes. Each pass writes eventsPerPass rows as multi-row INSERTs and
// times until the consumer has seen every insert. The browser passes run
// first, then the native ones, so the two never share the CPU.
func BenchmarkBrowserEvents(b *testing.B) {
	// eventBuffer holds a whole pass, so that neither consumer is paused:
	// the benchmark measures delivery, not flow control.
	const eventsPerPass, rowsPerInsert, eventBuffer = 2000, 500, 4096
	// KalamDB's outgoing queue (128 changes per connection) is off: a
	// 500-row INSERT overflows it, and the changes it drops would never
	// reach either consumer.
	w := newWorld(b, kalamtest.Config{OutgoingQueue: -1})
	tab := newTab(b)
	tab.navigate(w.page.URL + "/")
	tab.run(fmt.Sprintf(`T.start({user: "alice", password: %q, eventBuffer: %d})`, alicePassword, eventBuffer))
	tab.run(`T.live("SELECT * FROM orders", {noSnapshot: true})`)
	tab.waitFor(`T.client.state === "Live"`, 10*time.Second)

	nextID := 1
	writePass := func() {
		for n := 0; n < eventsPerPass; n += rowsPerInsert {
			var sb strings.Builder
			sb.WriteString("INSERT INTO app.orders (id, status, note) VALUES ")
			for j := 0; j < rowsPerInsert; j++ {
				if j > 0 {
					sb.WriteByte(',')
				}
				fmt.Fprintf(&sb, "(%d, 'open', 'a note of some length for row %d')", nextID, nextID)
				nextID++
			}
			w.write(b, sb.String())
		}
	}

	var browserTime time.Duration
	seen := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		seen += eventsPerPass
		done := make(chan error, 1)
		go func(target int) {
			ctx, cancel := context.WithTimeout(tab.ctx, 60*time.Second)
			defer cancel()
			_, err := eval2(ctx, tab, fmt.Sprintf(`T.waitCount(%d).then(() => true)`, target))
			done <- err
		}(seen)
		start := time.Now()
		writePass()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		browserTime += time.Since(start)
	}
	b.StopTimer()
	tab.run(`T.sub.close()`)

	// The reference: the native client, same path, same rows.
	c, err := kalam.New(kalam.Config{URL: w.page.URL, Auth: auth.Basic("alice", alicePassword), Namespace: "app", EventBuffer: eventBuffer})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{NoSnapshot: true})
	if err != nil {
		b.Fatal(err)
	}
	counts := make(chan int, 1024)
	var subErr error
	go func() {
		defer close(counts)
		for ev, err := range sub.Events(ctx) {
			if err != nil {
				subErr = err
				return
			}
			switch ev.Kind {
			case kalam.EventSubscribed:
				counts <- 0 // the server has it: writes from now on reach it
			case kalam.EventInsert, kalam.EventSnapshot:
				// a consumer that falls behind is paused and resumed;
				// the rows it missed meanwhile come back as snapshot rows
				counts <- len(ev.Rows)
			}
		}
	}()
	if _, ok := <-counts; !ok {
		b.Fatalf("native subscription ended: %v", subErr)
	}
	var nativeTime time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		writePass()
		for got := 0; got < eventsPerPass; {
			var n int
			var ok bool
			select {
			case n, ok = <-counts:
			case <-time.After(30 * time.Second):
				b.Fatalf("native pass %d: %d of %d rows after 30 s (subscriptions %+v)", i, got, eventsPerPass, c.Subscriptions())
			}
			if !ok {
				b.Fatalf("native subscription ended: %v", subErr)
			}
			got += n
		}
		nativeTime += time.Since(start)
	}
	sub.Close()
	for range counts {
	}
	browserRate := float64(b.N*eventsPerPass) / browserTime.Seconds()
	nativeRate := float64(b.N*eventsPerPass) / nativeTime.Seconds()
	b.ReportMetric(browserRate, "browser-events/s")
	b.ReportMetric(nativeRate, "native-events/s")
	b.ReportMetric(browserRate/nativeRate, "ratio")
}
