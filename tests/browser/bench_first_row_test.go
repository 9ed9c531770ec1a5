package browser

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/kalamgo/kalam/kalamtest"
)

// BenchmarkFirstLiveRow compares, in the same Chromium against the same
// page server and kalamtest, navigation start → the first live row through
// the client (bench-first-row.html) with navigation start → the first
// message on a bare WebSocket page that logs in and authenticates by hand
// (bench-bare.html). Both pages are loaded alternately, warm (from the
// HTTP cache after the first load); the reported ratio is of the medians.
func BenchmarkFirstLiveRow(b *testing.B) {
	w := newWorld(b, kalamtest.Config{})
	w.write(b, "INSERT INTO app.orders (id, status) VALUES (1, 'open')")
	tab := newTab(b)
	load := func(page, expr string) float64 {
		ctx, cancel := context.WithTimeout(tab.ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Navigate(w.page.URL+"/"+page)); err != nil {
			b.Fatal(err)
		}
		tab.waitFor(fmt.Sprintf(`window.benchError != null || (%s) != null`, expr), 30*time.Second)
		if e := eval[any](tab, `window.benchError ?? null`); e != nil {
			b.Fatalf("%s: %v", page, e)
		}
		return eval[float64](tab, expr)
	}
	// One cold load of each first, not counted: it fills the HTTP cache.
	load("bench-first-row.html", "window.firstRowAt")
	load("bench-bare.html", "window.firstRowAt")
	var client, bareMsg, bareRow []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		client = append(client, load("bench-first-row.html", "window.firstRowAt"))
		bareMsg = append(bareMsg, load("bench-bare.html", "window.firstRowAt"))
		bareRow = append(bareRow, eval[float64](tab, "window.firstRowAt"))
		bareMsg[len(bareMsg)-1] = eval[float64](tab, "window.firstMessageAt")
	}
	b.StopTimer()
	load("bench-first-row.html", "window.firstRowAt")
	b.Logf("phases of a client page load (ms from navigation start): %v", eval[map[string]any](tab, `window.marks`))
	c, m, r := median(client), median(bareMsg), median(bareRow)
	b.ReportMetric(c, "client-first-row-ms")
	b.ReportMetric(m, "bare-first-message-ms")
	b.ReportMetric(r, "bare-first-row-ms")
	b.ReportMetric(c/m, "ratio")
	b.ReportMetric(c/r, "ratio-to-bare-row")
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
