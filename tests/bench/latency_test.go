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

// BenchmarkLatency measures insert → event latency: from sending a
// one-row INSERT over HTTP to the row's event, through the client
// (Subscription.Events) and through a raw coder/websocket + encoding/json
// loop (the reference round trip), interleaved, 200 of each per round.
// Metrics: client-p50-ns, client-p99-ns, raw-p50-ns, raw-p99-ns.
func BenchmarkLatency(b *testing.B) {
	const perRound = 200
	srv := startChild(b)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	// The client, following alice's orders.
	clTok := srv.login(b, clientUser)
	c, err := kalam.New(kalam.Config{URL: srv.URL, Auth: auth.JWT(clTok), Namespace: "app"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{NoSnapshot: true})
	if err != nil {
		b.Fatal(err)
	}
	clArrived := make(chan time.Time, 1)
	ready := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ev, err := range sub.Events(ctx) {
			if err != nil {
				return
			}
			switch ev.Kind {
			case kalam.EventSubscribed:
				close(ready)
			case kalam.EventInsert:
				clArrived <- time.Now()
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		b.Fatal("client subscription not live within 30s")
	}

	// The reference, following bob's.
	rawTok := srv.login(b, rawUser)
	r, err := dialRaw(ctx, srv.wsURL(), rawTok, "SELECT * FROM app.orders", 1, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	rawArrived := make(chan time.Time, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			m, err := r.read(ctx)
			if err != nil {
				return
			}
			if m.Type == "change" {
				rawArrived <- time.Now()
			}
		}
	}()

	one := func(token string, arrived chan time.Time) time.Duration {
		start := time.Now()
		if err := srv.insert(token, 1); err != nil {
			b.Fatal(err)
		}
		select {
		case t := <-arrived:
			return t.Sub(start)
		case <-time.After(10 * time.Second):
			b.Fatal("no event within 10s of the insert")
			return 0
		}
	}
	// Warm both paths (connections, pools) before measuring.
	for range 20 {
		one(clTok, clArrived)
		one(rawTok, rawArrived)
	}
	var cl, raw []time.Duration
	for range b.N {
		for range perRound {
			cl = append(cl, one(clTok, clArrived))
			raw = append(raw, one(rawTok, rawArrived))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(cl, 50)), "client-p50-ns")
	b.ReportMetric(float64(percentile(cl, 99)), "client-p99-ns")
	b.ReportMetric(float64(percentile(raw, 50)), "raw-p50-ns")
	b.ReportMetric(float64(percentile(raw, 99)), "raw-p99-ns")
}

// percentile returns the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}
