package main

import (
	"bufio"
	"io"
	"slices"
	"strconv"
	"strings"
)

// run is everything read from one benchmark run.
type run struct {
	// results maps package path and benchmark name (without the Benchmark
	// prefix and the -GOMAXPROCS suffix) to every value of every metric.
	results map[string]map[string]map[string][]float64
	seen    map[string]bool // packages that printed anything
	failed  map[string]bool // packages that ended in FAIL
	cpu     string
	goos    string
	goarch  string
}

// parse reads `go test -bench` output: header lines (goos, goarch, pkg,
// cpu), result lines ("BenchmarkName-2  N  v unit  v unit …") and the
// package verdicts (ok, FAIL).
func parse(r io.Reader) (*run, error) {
	rn := &run{results: map[string]map[string]map[string][]float64{}, seen: map[string]bool{}, failed: map[string]bool{}}
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimSpace(strings.TrimPrefix(line, "pkg: "))
			rn.seen[pkg] = true
			continue
		case strings.HasPrefix(line, "cpu: "):
			rn.cpu = strings.TrimSpace(strings.TrimPrefix(line, "cpu: "))
			continue
		case strings.HasPrefix(line, "goos: "):
			rn.goos = strings.TrimSpace(strings.TrimPrefix(line, "goos: "))
			continue
		case strings.HasPrefix(line, "goarch: "):
			rn.goarch = strings.TrimSpace(strings.TrimPrefix(line, "goarch: "))
			continue
		}
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "ok" || f[0] == "FAIL" || f[0] == "---") {
			if f[0] == "FAIL" && strings.Contains(f[1], "/") {
				rn.seen[f[1]] = true
				rn.failed[f[1]] = true
			} else if f[0] == "ok" {
				rn.seen[f[1]] = true
			}
			continue
		}
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // a log line that starts with a benchmark's name
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndex(name, "-"); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		if rn.results[pkg] == nil {
			rn.results[pkg] = map[string]map[string][]float64{}
		}
		if rn.results[pkg][name] == nil {
			rn.results[pkg][name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			rn.results[pkg][name][f[i+1]] = append(rn.results[pkg][name][f[i+1]], v)
		}
	}
	return rn, sc.Err()
}

// pkgMatch reports whether the package path path is the project package
// short names ("fsm", "tests/bench").
func pkgMatch(path, short string) bool {
	return path == short || strings.HasSuffix(path, "/"+short)
}

// values returns the values of one metric of one benchmark; short == ""
// matches any package.
func (rn *run) values(short, bench, unit string) []float64 {
	for path, benches := range rn.results {
		if short != "" && !pkgMatch(path, short) {
			continue
		}
		if vs, ok := benches[bench][unit]; ok {
			return vs
		}
	}
	return nil
}

// status says why a package's figures are absent: "" when it ran.
func (rn *run) status(short string) string {
	ran, failed := false, false
	for path := range rn.seen {
		if pkgMatch(path, short) {
			ran = true
			failed = failed || rn.failed[path]
		}
	}
	switch {
	case !ran:
		return "package missing"
	case failed:
		return "package failed"
	}
	return "benchmark missing"
}

// stat is the median of a metric's runs with their range.
type stat struct {
	med, min, max float64
	n             int
}

func summarize(vs []float64) stat {
	s := slices.Clone(vs)
	slices.Sort(s)
	st := stat{min: s[0], max: s[len(s)-1], n: len(s)}
	if len(s)%2 == 1 {
		st.med = s[len(s)/2]
	} else {
		st.med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return st
}
