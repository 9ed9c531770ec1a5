package wazero

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/kalamtest"
)

// BenchmarkClientEvents is the live events/s of a kalam client whose engine
// runs in wazero (Host.Factory as kalam.Config.Engine) against the native
// client, on the same kalamtest stream: each pass inserts 2,000 rows in
// 500-row INSERTs and times until the client's subscription has delivered
// them all. The two clients run one after the other on the same server and
// table, with the same passes.
func BenchmarkClientEvents(b *testing.B) {
	const eventsPerPass, rowsPerInsert, eventBuffer = 2000, 500, 4096
	h := sharedHost(b)
	srv := kalamtest.NewServer(b, kalamtest.Config{Users: []kalamtest.User{{Name: "alice", Password: alicePassword, Role: "user"}}})
	ctx := context.Background()
	for _, sql := range []string{"CREATE NAMESPACE app", "CREATE USER TABLE app.orders (id BIGINT PRIMARY KEY, status TEXT, note TEXT)"} {
		if _, err := srv.Exec(ctx, "root", sql); err != nil {
			b.Fatal(err)
		}
	}
	nextID := 1
	writePass := func() {
		for n := 0; n < eventsPerPass; n += rowsPerInsert {
			var sb strings.Builder
			sb.WriteString("INSERT INTO app.orders (id, status, note) VALUES ")
			for j := range rowsPerInsert {
				if j > 0 {
					sb.WriteByte(',')
				}
				fmt.Fprintf(&sb, "(%d, 'open', 'a note of some length for row %d')", nextID, nextID)
				nextID++
			}
			if _, err := srv.Exec(ctx, "alice", sb.String()); err != nil {
				b.Fatal(err)
			}
		}
	}
	// rate runs b.N passes through a client built with engine and returns
	// its events per second.
	rate := func(engine func(fsm.Config) (fsm.Stepper, error)) float64 {
		c, err := kalam.New(kalam.Config{URL: srv.URL, Auth: auth.Basic("alice", alicePassword), Namespace: "app", EventBuffer: eventBuffer, Engine: engine})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		sctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		sub, err := c.Live(sctx, "SELECT * FROM orders", kalam.LiveOptions{NoSnapshot: true})
		if err != nil {
			b.Fatal(err)
		}
		counts := make(chan int, 1024)
		go func() {
			defer close(counts)
			for ev, err := range sub.Events(sctx) {
				if err != nil {
					return
				}
				switch ev.Kind {
				case kalam.EventSubscribed:
					counts <- 0 // the server has it: writes from now on reach it
				case kalam.EventInsert, kalam.EventSnapshot:
					counts <- len(ev.Rows)
				}
			}
		}()
		if _, ok := <-counts; !ok {
			b.Fatal("the subscription ended before it was live")
		}
		var spent time.Duration
		for i := 0; i < b.N; i++ {
			start := time.Now()
			writePass()
			for got := 0; got < eventsPerPass; {
				select {
				case n, ok := <-counts:
					if !ok {
						b.Fatalf("pass %d: the subscription ended after %d rows", i, got)
					}
					got += n
				case <-time.After(60 * time.Second):
					b.Fatalf("pass %d: %d of %d rows after 60 s", i, got, eventsPerPass)
				}
			}
			spent += time.Since(start)
		}
		sub.Close()
		for range counts {
		}
		return float64(b.N*eventsPerPass) / spent.Seconds()
	}
	b.ResetTimer()
	wasm := rate(h.Factory(ctx))
	native := rate(nil)
	b.StopTimer()
	b.ReportMetric(wasm, "wazero-events/s")
	b.ReportMetric(native, "native-events/s")
	b.ReportMetric(wasm/native, "wazero/native")
}
