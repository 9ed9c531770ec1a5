//go:build !js

package kalam_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/kalamtest"
)

// benchTopic starts a server with a service user, the topic app.feed fed
// by inserts into app.orders, and rows rows in it; it returns a client of
// the service user.
func benchTopic(b *testing.B, rows int) (*kalamtest.Server, *kalam.Client) {
	b.Helper()
	srv := kalamtest.NewServer(b, kalamtest.Config{Users: []kalamtest.User{
		{Name: "alice", Password: alicePassword},
		{Name: "worker", Password: workerPassword, Role: "service"},
	}})
	ctx := context.Background()
	for _, sql := range []string{"CREATE NAMESPACE app", "CREATE USER TABLE app.orders (id BIGINT PRIMARY KEY, status TEXT)",
		"CREATE TOPIC app.feed", "ALTER TOPIC app.feed ADD SOURCE app.orders ON INSERT"} {
		if _, err := srv.Exec(ctx, "root", sql); err != nil {
			b.Fatal(err)
		}
	}
	for from := 0; from < rows; from += 1000 {
		var sb strings.Builder
		sb.WriteString("INSERT INTO app.orders (id, status) VALUES ")
		for i := from; i < min(from+1000, rows); i++ {
			if i > from {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "(%d, 'open')", i)
		}
		if _, err := srv.Exec(ctx, "alice", sb.String()); err != nil {
			b.Fatal(err)
		}
	}
	c, err := kalam.New(kalam.Config{URL: srv.URL, Auth: auth.Basic("worker", workerPassword), Namespace: "app"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	if _, err := c.Query(ctx, "SELECT 1"); err != nil {
		b.Fatal(err)
	}
	return srv, c
}

// BenchmarkConsumer measures, against kalamtest on loopback: the round
// trip of a poll of one message next to that of "SELECT 1" (poll/query-ratio),
// messages per second through one consumer that marks and commits every
// page of 1,000 (msgs/s), and the heap of an idle consumer (B/consumer).
func BenchmarkConsumer(b *testing.B) {
	b.Run("poll-vs-query", func(b *testing.B) {
		_, c := benchTopic(b, b.N)
		ctx := context.Background()
		// One message per poll: each step of the loop is one poll round trip.
		k, err := c.Consumer("app.feed", kalam.ConsumerOptions{Group: "g", Start: kalam.StartEarliest, MaxRecords: 1, MaxAttempts: 1})
		if err != nil {
			b.Fatal(err)
		}
		defer k.Close()
		b.ResetTimer()
		var poll, query time.Duration
		n := 0
		t0 := time.Now()
		for _, err := range k.Messages(ctx) {
			if err != nil {
				b.Fatal(err)
			}
			poll += time.Since(t0)
			if n++; n == b.N {
				break
			}
			q0 := time.Now()
			if _, err := c.Query(ctx, "SELECT 1"); err != nil {
				b.Fatal(err)
			}
			query += time.Since(q0)
			t0 = time.Now()
		}
		q0 := time.Now() // the b.N-th query
		if _, err := c.Query(ctx, "SELECT 1"); err != nil {
			b.Fatal(err)
		}
		query += time.Since(q0)
		b.ReportMetric(float64(poll.Nanoseconds())/float64(b.N), "poll-ns")
		b.ReportMetric(float64(query.Nanoseconds())/float64(b.N), "query-ns")
		b.ReportMetric(float64(poll)/float64(query), "poll/query-ratio")
	})
	b.Run("throughput", func(b *testing.B) {
		const rows = 20_000
		_, c := benchTopic(b, rows)
		ctx := context.Background()
		b.ResetTimer()
		var took time.Duration
		for i := range b.N {
			k, err := c.Consumer("app.feed", kalam.ConsumerOptions{Group: fmt.Sprint("t", i), Start: kalam.StartEarliest, MaxRecords: 1000})
			if err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			n := 0
			for m, err := range k.Messages(ctx) {
				if err != nil {
					b.Fatal(err)
				}
				_ = k.MarkProcessed(m.Offset)
				if n++; n%1000 == 0 {
					if err := k.Commit(ctx); err != nil {
						b.Fatal(err)
					}
				}
				if n == rows {
					break
				}
			}
			took += time.Since(t0)
			k.Close()
		}
		b.ReportMetric(float64(rows*b.N)/took.Seconds(), "msgs/s")
	})
	b.Run("idle-heap", func(b *testing.B) {
		_, c := benchTopic(b, 0)
		const n = 1000
		for range b.N {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			ks := make([]*kalam.Consumer, n)
			for i := range ks {
				k, err := c.Consumer("app.feed", kalam.ConsumerOptions{Group: fmt.Sprint("idle", i)})
				if err != nil {
					b.Fatal(err)
				}
				ks[i] = k
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/consumer")
			for _, k := range ks {
				k.Close()
			}
		}
	})
}
