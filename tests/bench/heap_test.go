package bench

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
)

// heapNow returns the live heap and goroutine stacks after a full
// collection.
func heapNow() (heap, stack uint64) {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.StackInuse
}

func perItem(after, before uint64, n int) float64 {
	return (float64(after) - float64(before)) / float64(n)
}

// connectClients starts n idle clients, connected and authenticated, with
// no subscriptions.
func connectClients(tb testing.TB, srv *server, token string, n int) []*kalam.Client {
	tb.Helper()
	cs := make([]*kalam.Client, 0, n)
	for range n {
		c, err := kalam.New(kalam.Config{URL: srv.URL, Auth: auth.JWT(token), Namespace: "app", EagerConnect: true})
		if err != nil {
			tb.Fatal(err)
		}
		cs = append(cs, c)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = c.Connect(ctx)
		cancel()
		if err != nil {
			tb.Fatal(err)
		}
	}
	return cs
}

func closeClients(cs []*kalam.Client) {
	for _, c := range cs {
		c.Close()
	}
}

// BenchmarkHeap measures the heap held by idle clients and idle
// subscriptions, with the server in a child process so that only the
// client's memory counts.
//
// clients=N: N clients connected and authenticated, no subscription;
// B/client is their heap per client minus raw-B/conn, the heap per
// connection of N raw coder/websocket connections (authenticated, each
// blocked in Read) measured the same way, which is what the socket and
// its buffers cost any Go program. stack-B/client reports goroutine stacks
// per client apart.
//
// subs=N: N live queries (no snapshot) on connected clients, 100 per
// client at most (KalamDB's per-connection cap), each acknowledged and
// idle; B/sub is the heap they add, per subscription, with the default
// Config.EventBuffer.
func BenchmarkHeap(b *testing.B) {
	srv := startChild(b)
	tok := srv.login(b, clientUser)
	rawTok := srv.login(b, rawUser)
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprint("clients=", n), func(b *testing.B) {
			var client, raw, stack float64
			for range b.N {
				ctx, cancel := context.WithCancel(context.Background())
				base, _ := heapNow()
				conns := make([]*rawConn, 0, n)
				done := make(chan struct{}, n)
				for range n {
					r, err := dialRaw(ctx, srv.wsURL(), rawTok, "", 0, nil)
					if err != nil {
						b.Fatal(err)
					}
					conns = append(conns, r)
					go func() {
						defer func() { done <- struct{}{} }()
						for {
							if _, err := r.read(ctx); err != nil {
								return
							}
						}
					}()
				}
				after, _ := heapNow()
				raw = perItem(after, base, n)
				cancel()
				for _, r := range conns {
					r.Close()
				}
				for range n {
					<-done
				}
				conns = nil

				base, baseStack := heapNow()
				cs := connectClients(b, srv, tok, n)
				after, afterStack := heapNow()
				client = perItem(after, base, n)
				stack = perItem(afterStack, baseStack, n)
				closeClients(cs)
			}
			b.ReportMetric(client-raw, "B/client")
			b.ReportMetric(raw, "raw-B/conn")
			b.ReportMetric(stack, "stack-B/client")
		})
	}
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprint("subs=", n), func(b *testing.B) {
			var sub float64
			for range b.N {
				perClient := min(n, 100)
				cs := connectClients(b, srv, tok, n/perClient)
				ctx, cancel := context.WithCancel(context.Background())
				base, _ := heapNow()
				subs := make([]*kalam.Subscription, 0, n)
				for _, c := range cs {
					for range perClient {
						s, err := c.Live(ctx, "SELECT * FROM idle", kalam.LiveOptions{NoSnapshot: true})
						if err != nil {
							b.Fatal(err)
						}
						subs = append(subs, s)
					}
				}
				for _, s := range subs {
					for ev, err := range s.Events(ctx) {
						if err != nil {
							b.Fatal(err)
						}
						if ev.Kind == kalam.EventSubscribed {
							break
						}
					}
				}
				after, _ := heapNow()
				sub = perItem(after, base, n)
				runtime.KeepAlive(subs)
				cancel()
				closeClients(cs)
			}
			b.ReportMetric(sub, "B/sub")
		})
	}
}
