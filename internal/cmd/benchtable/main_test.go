package main

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/kalamgo/kalam/fsm
cpu: Test CPU
BenchmarkStepChange-2   	 1000	 900 ns/op	 300 B/op	 5 allocs/op
BenchmarkStepChange-2   	 1000	 1100 ns/op	 300 B/op	 5 allocs/op
BenchmarkStepChange-2   	 1000	 1000 ns/op	 300 B/op	 5 allocs/op
BenchmarkDecodeChangeStruct-2	 1000	 800 ns/op	 200 B/op	 4 allocs/op
BenchmarkTransition-2   	 1000	 100 ns/op	 400 ns/transition
ok  	github.com/kalamgo/kalam/fsm	3.1s
pkg: github.com/kalamgo/kalam/tests/bench
BenchmarkEvents/subs=1-2         	 1	 1 ns/op	 60000 client-events/s	 0.6 ratio	 100000 raw-events/s
BenchmarkHeap/subs=1000-2 	 1	 1 ns/op	 33000 B/sub
BenchmarkEvents/subs=1-2 	 1	 logs a line that is not a result
FAIL	github.com/kalamgo/kalam/bindings/wazero [build failed]
`

func TestEvaluate(t *testing.T) {
	rn, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	rows := evaluate(rn, figures)
	byName := map[string]row{}
	for _, r := range rows {
		byName[r.fig.name] = r
	}
	step := byName["engine Step, one live change frame"]
	if step.val.med != 1000 || step.val.min != 900 || step.val.max != 1100 || step.val.n != 3 {
		t.Errorf("median of runs: %+v", step.val)
	}
	if step.ratio != 1.25 || step.verdict != "pass" {
		t.Errorf("Step ratio %v verdict %s", step.ratio, step.verdict)
	}
	if r := byName["lifecycle transition (stateless + guards + effects)"]; r.verdict != "pass" || r.val.med != 400 {
		t.Errorf("transition: %+v", r)
	}
	ev := byName["client live events/s, 1 subscription"]
	if ev.ratio != 0.6 || ev.verdict != "FAIL" {
		t.Errorf("events: ratio %v verdict %s", ev.ratio, ev.verdict)
	}
	if r := byName["heap per idle subscription, 1,000 subscriptions"]; r.verdict != "FAIL" {
		t.Errorf("heap per sub: %+v", r)
	}
	if r := byName["Step per live change, wazero ÷ native"]; r.missing != "package failed" || r.verdict != "FAIL" {
		t.Errorf("failed package: %+v", r)
	}
	if r := byName[".wasm size, brotli"]; r.missing != "package missing" || r.verdict != "FAIL" {
		t.Errorf("missing package: %+v", r)
	}
	if r := byName["kalamtest start to first /health"]; r.missing != "package missing" {
		t.Errorf("missing: %+v", r)
	}
	var out strings.Builder
	renderText(&out, rows)
	for _, want := range []string{"not measured (package missing)", "1.0 µs [900 ns … 1.1 µs]", "≥ 0.8 ratio", "≤ 4.0 KiB"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	doc := renderDoc(rn, rows, machineInfo(rn), "performance-scaling.svg")
	for _, want := range []string{"# Performance", "| figure | value |", "![", "CPU: "} {
		if !strings.Contains(doc, want) {
			t.Errorf("doc lacks %q", want)
		}
	}
}

func TestSVGIsWellFormed(t *testing.T) {
	for _, in := range []string{sample, ""} {
		rn, err := parse(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		d := xml.NewDecoder(strings.NewReader(scalingSVG(rn)))
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("SVG is not well-formed XML: %v", err)
			}
		}
	}
}

func TestFigureBenchmarksAreNamed(t *testing.T) {
	for _, f := range figures {
		if f.pkg == "" || f.bench == "" || f.unit == "" || f.section == "" {
			t.Errorf("figure %q lacks its package, benchmark, unit or section", f.name)
		}
	}
}
