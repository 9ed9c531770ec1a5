package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
)

// topicRows is how many rows one measurement writes to app.stream.
const topicRows = 20000

// BenchmarkTopicConsumer sets messages per second through one topic
// consumer against live events per second for the same rows, in the same
// run: each round writes topicRows rows into app.stream while a gate holds
// back the live stream of one subscription, times the subscription taking
// them in once released (live-events/s), then times one consumer reading
// the same rows as messages of app.stream_feed, 1,000 per poll, marking
// each processed and committing every page (consumer-msgs/s).
func BenchmarkTopicConsumer(b *testing.B) {
	srv := startChild(b)
	token := srv.login(b, clientUser)
	live := newGate(b, hostOf(srv.URL))
	tl := newTally()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lc := benchClient(b, live.URL(), auth.JWT(token), topicRows)
	sub, err := lc.Live(ctx, "SELECT * FROM stream", kalam.LiveOptions{NoSnapshot: true})
	if err != nil {
		b.Fatal(err)
	}
	ready := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		first := true
		for ev, err := range sub.Events(ctx) {
			if first {
				first = false
				ready <- err
			}
			if err != nil {
				return
			}
			if ev.Kind == kalam.EventInsert || ev.Kind == kalam.EventSnapshot {
				tl.add(len(ev.Rows))
			}
		}
	}()
	select {
	case err := <-ready:
		if err != nil {
			b.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		b.Fatal("subscription not live within 30s")
	}
	// The consumer goes through a gate of its own, never held: the same
	// proxy hop as the live stream.
	wc := benchClient(b, newGate(b, hostOf(srv.URL)).URL(), auth.Basic(workerUser, benchPass), 0)
	var liveN, msgN int
	var liveT, msgT time.Duration
	b.ResetTimer()
	for range b.N {
		n, d := streamRound(b, srv, token, live, tl)
		liveN, liveT = liveN+n, liveT+d
		n, d = consumeRound(b, ctx, wc)
		msgN, msgT = msgN+n, msgT+d
	}
	b.StopTimer()
	cancel()
	<-done
	le, me := float64(liveN)/liveT.Seconds(), float64(msgN)/msgT.Seconds()
	b.ReportMetric(me, "consumer-msgs/s")
	b.ReportMetric(le, "live-events/s")
	b.ReportMetric(me/le, "ratio")
}

func benchClient(b *testing.B, url string, p auth.Provider, buffer int) *kalam.Client {
	b.Helper()
	c, err := kalam.New(kalam.Config{URL: url, Auth: p, Namespace: "app",
		PingInterval: time.Minute, PongTimeout: time.Minute, EventBuffer: buffer})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// streamRound writes topicRows rows behind the held gate, releases them
// and times the subscription taking every one in.
func streamRound(b *testing.B, srv *server, token string, g *gate, tl *tally) (int, time.Duration) {
	b.Helper()
	tl.target.Store(tl.total.Load() + topicRows)
	g.Hold()
	if err := insertStream(srv, token, topicRows); err != nil {
		b.Fatal(err)
	}
	if err := waitUntil(60*time.Second, func() bool { return g.Frames() >= topicRows }); err != nil {
		b.Fatalf("server did not produce %d notifications: %v (held %d)", topicRows, err, g.Frames())
	}
	start := time.Now()
	g.Release()
	select {
	case <-tl.done:
	case <-time.After(60 * time.Second):
		b.Fatalf("the subscription took %d of %d events within 60s", tl.total.Load()-(tl.target.Load()-topicRows), topicRows)
	}
	return topicRows, time.Since(start)
}

// consumeRound reads the round's rows as topic messages through one
// consumer of the group "bench", which resumes after the last round's
// commit, and times it.
func consumeRound(b *testing.B, ctx context.Context, c *kalam.Client) (int, time.Duration) {
	b.Helper()
	k, err := c.Consumer("app.stream_feed", kalam.ConsumerOptions{Group: "bench", Start: kalam.StartEarliest, MaxRecords: 1000})
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	start := time.Now()
	n := 0
	for m, err := range k.Messages(ctx) {
		if err != nil {
			b.Fatal(err)
		}
		if err := k.MarkProcessed(m.Offset); err != nil {
			b.Fatal(err)
		}
		if n++; n%1000 == 0 {
			if err := k.Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}
		if n == topicRows {
			break
		}
	}
	if err := k.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	return n, time.Since(start)
}

// insertStream writes n rows into app.stream as the token's user, 500 per
// statement.
func insertStream(s *server, token string, n int) error {
	var sb strings.Builder
	for n > 0 {
		k := min(n, 500)
		sb.Reset()
		sb.WriteString("INSERT INTO app.stream (id, status, note) VALUES ")
		for i := range k {
			if i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "(%d, 'open', 'leave it at the door')", s.ids.Add(1))
		}
		if err := s.post("/v1/api/sql", token, map[string]string{"sql": sb.String()}, nil); err != nil {
			return err
		}
		n -= k
	}
	return nil
}
