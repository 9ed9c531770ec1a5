// Command benchtable reads `go test -bench` output and prints the project's
// performance table: each figure with its value, the reference measured in
// the same run, their ratio, the target and a verdict. With -doc and -svg it
// also writes docs/PERFORMANCE.md (the table, the machine, the date) and a
// plot of the scaling curves.
//
// Usage (what `make bench` does through scripts/bench.sh):
//
//	go test -run '^$' -bench . -count 3 ./fsm … > out.txt
//	go run ./internal/cmd/benchtable -in out.txt -doc docs/PERFORMANCE.md -svg docs/performance-scaling.svg
//
// When a benchmark ran several times (-count), a figure is the median of
// its runs, shown with their min and max. A figure whose benchmark is
// absent from the output is a row that says so ("not measured") and counts
// as failing, so a missing package or a renamed benchmark cannot silently
// drop a row. Targets are reported, not enforced: the exit status is zero
// unless -strict is given.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	in := flag.String("in", "-", "benchmark output to read (- for stdin)")
	echo := flag.Bool("echo", false, "copy the raw benchmark output to stderr")
	doc := flag.String("doc", "", "write the Markdown report to this file")
	svg := flag.String("svg", "", "write the scaling plot (SVG) to this file")
	strict := flag.Bool("strict", false, "exit 1 when a figure fails its target or was not measured")
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
	run, err := parse(r)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(2)
	}
	rows := evaluate(run, figures)
	renderText(os.Stdout, rows)
	if *svg != "" {
		if err := os.WriteFile(*svg, []byte(scalingSVG(run)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "benchtable:", err)
			os.Exit(2)
		}
	}
	if *doc != "" {
		svgRel := ""
		if *svg != "" {
			svgRel = relTo(*doc, *svg)
		}
		if err := os.WriteFile(*doc, []byte(renderDoc(run, rows, machineInfo(run), svgRel)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "benchtable:", err)
			os.Exit(2)
		}
	}
	if pass, fail, missing := tally(rows); *strict && fail+missing > 0 {
		fmt.Fprintf(os.Stderr, "benchtable: %d figures pass, %d fail, %d not measured\n", pass, fail, missing)
		os.Exit(1)
	}
}

// relTo returns target's path relative to the directory of doc when both
// share it, else target as given.
func relTo(doc, target string) string {
	dir := ""
	if i := strings.LastIndex(doc, "/"); i >= 0 {
		dir = doc[:i+1]
	}
	if dir != "" && strings.HasPrefix(target, dir) {
		return target[len(dir):]
	}
	return target
}
