package chaos

import (
	"slices"
	"testing"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/kalamtest"
)

// BenchmarkResumeAfterDrop measures, per outage, the time from the proxy
// accepting again to the subscriber receiving the row written while it was
// down (redial, authentication, resubscribe from the last _seq, replay).
// One iteration is one outage. It reports the p50 and p99 of that time and
// the configured backoff floor, which bounds how soon a redial can start.
func BenchmarkResumeAfterDrop(b *testing.B) {
	w := newWorld(b, drivers[0], kalamtest.Config{})
	tb := w.table("items")
	c, cs := w.client(nil)
	col := w.live(c, "SELECT * FROM items", kalam.LiveOptions{})
	w.waitSnapshot(col)
	var times []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		w.proxy.Down()
		w.waitDisconnects(cs, int64(i+1))
		w.insert(tb, i+1)
		start := time.Now()
		w.proxy.Up()
		w.waitIDs(col, i+1)
		for _, ev := range slices.Backward(col.all()) {
			if ids := added([]stamped{ev}); len(ids) > 0 && ids[len(ids)-1] == i+1 {
				times = append(times, ev.at.Sub(start))
				if d := ev.at.Sub(start); d > 500*time.Millisecond {
					b.Logf("outlier %v at iteration %d: connects %d lost %d disconnect events %d path %s", d, i, cs.connects.Load(), cs.lost.Load(), cs.disconnects.Load(), cs.path()[max(0, len(cs.path())-300):])
					cs.mu.Lock()
					for j, ce := range cs.connEvents[max(0, len(cs.connEvents)-6):] {
						b.Logf("  %v %+v", cs.connTimes[max(0, len(cs.connEvents)-6)+j].Sub(start), ce)
					}
					cs.mu.Unlock()
				}
				break
			}
		}
	}
	b.StopTimer()
	slices.Sort(times)
	pct := func(p float64) float64 {
		if len(times) == 0 {
			return 0
		}
		k := min(int(p*float64(len(times))), len(times)-1)
		return float64(times[k]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(backoffMin)/float64(time.Millisecond), "floor-ms")
	b.ReportMetric(0, "ns/op")
}
