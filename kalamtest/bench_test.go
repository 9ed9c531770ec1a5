package kalamtest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// BenchmarkNotifications measures change notifications delivered per second
// to one raw WebSocket subscriber on loopback, while a writer inserts rows
// (100 per statement, at most 20,000 ahead of the subscriber).
func BenchmarkNotifications(b *testing.B) {
	srv := startServer(b, func(c *Config) {
		c.MaxMessagesPerSec = -1
		// Throughput, not loss: an unbounded queue so that no change of
		// the 20,000-row window is dropped (the default 128 would drop).
		c.OutgoingQueue = -1
	})
	cl := newClient(b, srv)
	w := loginWS(b, srv, cl, "alice", alicePW, dialOpts{})
	w.subscribe("bench", ordersStar, nil)
	w.nextType("subscription_ack")

	const perStmt, window = 100, 20000
	var received atomic.Int64
	progress := make(chan struct{}, 1)
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	b.ResetTimer()
	start := time.Now()
	go func() {
		var sb strings.Builder
		for sent := 0; sent < b.N; {
			for int64(sent)-received.Load() > window {
				select {
				case <-progress:
				case <-ctx.Done():
					errc <- ctx.Err()
					return
				}
			}
			n := min(perStmt, b.N-sent)
			sb.Reset()
			sb.WriteString("INSERT INTO app.orders (id, status) VALUES ")
			for i := range n {
				if i > 0 {
					sb.WriteByte(',')
				}
				fmt.Fprintf(&sb, "(%d, 'open')", sent+i+1)
			}
			if _, err := srv.Exec(ctx, "alice", sb.String()); err != nil {
				errc <- err
				return
			}
			sent += n
		}
		errc <- nil
	}()
	for i := 0; i < b.N; i++ {
		typ, msg, err := w.c.Read(ctx)
		if err != nil {
			b.Fatalf("read after %d: %v", i, err)
		}
		if typ != websocket.MessageText || !bytes.HasPrefix(msg, []byte(`{"type":"change"`)) {
			b.Fatalf("unexpected frame %.100s", msg)
		}
		if received.Add(1)%1000 == 0 {
			signal(progress)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "notifications/s")
}

// BenchmarkStartup measures the start of an empty in-memory server up to
// its first /health answer.
func BenchmarkStartup(b *testing.B) {
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	for b.Loop() {
		srv, err := Start(Config{RootPassword: rootPW, JWTSecret: testSecret})
		if err != nil {
			b.Fatal(err)
		}
		res, err := hc.Get(srv.URL + "/health")
		if err != nil {
			b.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("health %d", res.StatusCode)
		}
		b.StopTimer()
		if err := srv.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkInitialLoad measures rows per second of a 10,000-row initial
// load paged in batches of 1,000 (gzip on, as by default).
func BenchmarkInitialLoad(b *testing.B) {
	srv := startServer(b, func(c *Config) { c.MaxMessagesPerSec = -1 })
	cl := newClient(b, srv)
	const total = 10000
	for i := 0; i < total; i += 500 {
		insertOrders(b, srv, i+1, 500)
	}
	w := loginWS(b, srv, cl, "alice", alicePW, dialOpts{})
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprint("load-", i)
		w.subscribe(id, ordersStar, map[string]any{"batch_size": 1000})
		w.nextType("subscription_ack")
		got := 0
		for {
			m := w.nextType("initial_data_batch")
			got += len(m["rows"].([]any))
			_, more, _, last := control(b, m)
			if !more {
				break
			}
			w.nextBatch(id, jsonNumber(last))
		}
		if got != total {
			b.Fatalf("%d rows", got)
		}
		w.send(map[string]any{"type": "unsubscribe", "subscription_id": id})
	}
	b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "rows/s")
}
