// Command benchtable reads `go test -bench` output on stdin and prints the
// project's performance table: each figure with its value, the reference
// measured in the same run, their ratio, the target and a verdict.
//
// Usage (what `make bench` does):
//
//	go test -run '^$' -bench . -benchmem ./... | go run ./internal/cmd/benchtable
//
// It exits non-zero when a benchmark named by a figure is missing, so a
// renamed benchmark cannot silently drop a row. Targets are reported, not
// enforced: performance is read, not asserted.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
)

// result is one benchmark line: its metrics by unit.
type result map[string]float64

// figure is one row of the table.
type figure struct {
	name   string
	bench  string // benchmark name without the Benchmark prefix and -N suffix
	unit   string // metric read from bench
	ref    string // reference benchmark (same unit unless refUnit), or ""
	refU   string
	target float64 // 0: none
	atMost bool    // target is an upper bound on the ratio (or on the value when ref == "")
	invert bool    // ratio = ref/value (throughput figures read better that way)
	note   string
}

var figures = []figure{
	{name: "engine Step, one live change frame", bench: "StepChange", unit: "ns/op", ref: "DecodeChangeStruct", target: 1.5, atMost: true,
		note: "ratio = Step ÷ encoding/json decoding the same frame into the same type"},
	{name: "engine Step allocations per change", bench: "StepChange", unit: "allocs/op", ref: "DecodeChangeStruct"},
	{name: "engine Step vs decode into map[string]any", bench: "StepChange", unit: "ns/op", ref: "DecodeChangeMap"},
	{name: "lifecycle transition (stateless + guards + effects)", bench: "Transition", unit: "ns/transition", target: 1000, atMost: true,
		note: "absolute: ns per transition"},
}

func main() {
	in := flag.String("in", "-", "benchmark output to read (- for stdin)")
	echo := flag.Bool("echo", true, "copy the raw benchmark output to stderr")
	flag.Parse()
	var r io.Reader = os.Stdin
	if *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchtable:", err)
			os.Exit(2)
		}
		defer f.Close()
		r = f
	}
	if *echo {
		r = io.TeeReader(r, os.Stderr)
	}
	results, err := parse(r)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(2)
	}
	if missing := render(os.Stdout, results); len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "benchtable: benchmarks missing from the run: %s\n", strings.Join(missing, ", "))
		os.Exit(1)
	}
}

// parse reads benchmark lines ("BenchmarkName-2  N  v unit  v unit …").
// When a benchmark appears several times (-count), the median of each
// metric is kept.
func parse(r io.Reader) (map[string]result, error) {
	runs := map[string]map[string][]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndex(name, "-"); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		if runs[name] == nil {
			runs[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			runs[name][f[i+1]] = append(runs[name][f[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	out := map[string]result{}
	for name, metrics := range runs {
		out[name] = result{}
		for unit, vs := range metrics {
			out[name][unit] = median(vs)
		}
	}
	return out, nil
}

func median(vs []float64) float64 {
	s := append([]float64(nil), vs...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func render(w io.Writer, results map[string]result) (missing []string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\treference\tratio\ttarget\tverdict")
	for _, fg := range figures {
		v, ok := results[fg.bench][fg.unit]
		if !ok {
			missing = append(missing, fg.bench+" ("+fg.unit+")")
			continue
		}
		refCol, ratioCol, targetCol, verdict := "-", "-", "-", "-"
		var cmp float64 = v
		if fg.ref != "" {
			ru := fg.refU
			if ru == "" {
				ru = fg.unit
			}
			rv, ok := results[fg.ref][ru]
			if !ok {
				missing = append(missing, fg.ref+" ("+ru+")")
				continue
			}
			refCol = format(rv, ru) + " (" + fg.ref + ")"
			if rv != 0 {
				cmp = v / rv
				if fg.invert && v != 0 {
					cmp = rv / v
				}
				ratioCol = strconv.FormatFloat(cmp, 'f', 2, 64)
			}
		}
		if fg.target != 0 {
			op := "≥ "
			pass := cmp >= fg.target
			if fg.atMost {
				op = "≤ "
				pass = cmp <= fg.target
			}
			targetCol = op + strconv.FormatFloat(fg.target, 'g', -1, 64)
			verdict = "pass"
			if !pass {
				verdict = "FAIL"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", fg.name, format(v, fg.unit), refCol, ratioCol, targetCol, verdict)
	}
	tw.Flush()
	for _, fg := range figures {
		if fg.note != "" {
			fmt.Fprintf(w, "  %s: %s\n", fg.name, fg.note)
		}
	}
	return missing
}

func format(v float64, unit string) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64) + " " + unit
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
	}
	return strconv.FormatFloat(v, 'g', 3, 64) + " " + unit
}
