package main

import (
	"fmt"
	"math"
	"strings"
)

// series is one line of a chart.
type series struct {
	label  string
	color  string
	points [][2]float64 // x, y
}

// scalingSVG draws the scaling curves: client and raw events/s against
// subscriptions and against clients, and heap per subscription and per
// client, on logarithmic x axes. Absent points are left out.
func scalingSVG(rn *run) string {
	pt := func(bench, unit string, x float64) [][2]float64 {
		if vs := rn.values("tests/bench", bench, unit); vs != nil {
			return [][2]float64{{x, summarize(vs).med}}
		}
		return nil
	}
	line := func(label, color, unit string, benches []string, xs []float64) series {
		s := series{label: label, color: color}
		for i, b := range benches {
			s.points = append(s.points, pt(b, unit, xs[i])...)
		}
		return s
	}
	subsX := []float64{1, 10, 100, 1000}
	subsEv := []string{"Events/subs=1", "Events/subs=10", "Events/subs=100", "Events/subs=1000"}
	cliX := []float64{1, 10, 100}
	cliEv := []string{"Events/subs=1", "Events/clients=10", "Events/clients=100"}
	subsHeap := []string{"Heap/subs=1", "Heap/subs=10", "Heap/subs=100", "Heap/subs=1000"}
	cliHeap := []string{"Heap/clients=1", "Heap/clients=10", "Heap/clients=100"}

	const w, h = 960, 640
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	chart(&b, 0, 0, "live events/s vs subscriptions (1 client; 1,000 = 10 × 100)", "subscriptions", "events/s", subsX, []series{
		line("client", "#1f77b4", "client-events/s", subsEv, subsX),
		line("raw websocket + encoding/json", "#ff7f0e", "raw-events/s", subsEv, subsX),
	})
	chart(&b, w/2, 0, "live events/s vs clients (1 subscription each)", "clients", "events/s", cliX, []series{
		line("client", "#1f77b4", "client-events/s", cliEv, cliX),
		line("raw websocket + encoding/json", "#ff7f0e", "raw-events/s", cliEv, cliX),
	})
	chart(&b, 0, h/2, "heap per idle subscription", "subscriptions", "bytes", subsX, []series{
		line("client", "#1f77b4", "B/sub", subsHeap, subsX),
	})
	chart(&b, w/2, h/2, "heap per idle client (socket excluded)", "clients", "bytes", cliX, []series{
		line("client", "#1f77b4", "B/client", cliHeap, cliX),
		line("raw websocket connection", "#ff7f0e", "raw-B/conn", cliHeap, cliX),
	})
	b.WriteString("</svg>\n")
	return b.String()
}

// chart draws one 480×320 panel at (ox, oy) with a log x axis over xs and
// a linear y axis from zero.
func chart(b *strings.Builder, ox, oy int, title, xlabel, ylabel string, xs []float64, ss []series) {
	const pw, ph = 480, 320
	const left, right, top, bottom = 70, 20, 40, 84
	iw, ih := float64(pw-left-right), float64(ph-top-bottom)
	ymax := 0.0
	for _, s := range ss {
		for _, p := range s.points {
			ymax = math.Max(ymax, p[1])
		}
	}
	ymax = niceCeil(ymax)
	lx0, lx1 := math.Log10(xs[0]), math.Log10(xs[len(xs)-1])
	xpos := func(x float64) float64 {
		if lx1 == lx0 {
			return float64(ox+left) + iw/2
		}
		return float64(ox+left) + (math.Log10(x)-lx0)/(lx1-lx0)*iw
	}
	ypos := func(y float64) float64 { return float64(oy+top) + ih - y/ymax*ih }
	fmt.Fprintf(b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", ox+left, oy+24, esc(title))
	// Axes and grid.
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", ox+left, oy+top, ox+left, oy+top+int(ih))
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", ox+left, oy+top+int(ih), ox+left+int(iw), oy+top+int(ih))
	for i := 0; i <= 4; i++ {
		y := ymax * float64(i) / 4
		py := ypos(y)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", ox+left, py, ox+left+int(iw), py)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", ox+left-6, py+4, esc(axisNum(y)))
	}
	for _, x := range xs {
		px := xpos(x)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", px, oy+top+int(ih)+16, esc(axisNum(x)))
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s (log scale)</text>`+"\n", float64(ox+left)+iw/2, oy+top+int(ih)+32, esc(xlabel))
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" transform="rotate(-90 %d %d)">%s</text>`+"\n", ox+16, oy+top+int(ih)/2, ox+16, oy+top+int(ih)/2, esc(ylabel))
	// Lines, points and legend.
	for i, s := range ss {
		if len(s.points) > 0 {
			var pts []string
			for _, p := range s.points {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", xpos(p[0]), ypos(p[1])))
			}
			fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.color, strings.Join(pts, " "))
			for _, p := range s.points {
				fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", xpos(p[0]), ypos(p[1]), s.color)
			}
		}
		ly := oy + ph - 16 - 14*(len(ss)-1-i)
		label := s.label
		if len(s.points) == 0 {
			label += " (not measured)"
		}
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", ox+left, ly-9, s.color, ox+left+14, ly, esc(label))
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func axisNum(v float64) string {
	switch {
	case v >= 1e6:
		return trimZero(v/1e6) + "M"
	case v >= 1e3:
		return trimZero(v/1e3) + "k"
	}
	return trimZero(v)
}

func trimZero(v float64) string {
	s := fmt.Sprintf("%.1f", v)
	return strings.TrimSuffix(s, ".0")
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
