package sim

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	flagSeed  = flag.Int64("seed", -1, "run only this seed (replays a failure exactly)")
	flagSeeds = flag.Int("seeds", 0, "number of seeds TestSim runs (default 1000, 200 under -race, 100 with -short)")
	flagFirst = flag.Uint64("first", 1, "first seed of the range TestSim runs")
	flagTrace = flag.Bool("fulltrace", false, "print the whole trace of a failing -seed run")
)

// TestMain fails the run when a test leaves goroutines behind.
func TestMain(m *testing.M) {
	flag.Parse()
	debug.SetGCPercent(400) // the simulation allocates a lot of short-lived text
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > 2 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > 2 {
			buf := make([]byte, 1<<20)
			fmt.Fprintf(os.Stderr, "%d goroutines left after the tests:\n%s\n", n, buf[:runtime.Stack(buf, true)])
			code = 1
		}
	}
	os.Exit(code)
}

type result struct {
	seed  uint64
	err   error
	hash  uint64
	steps int
	ring  []string
	n     map[string]int64
	virt  time.Duration
	finds map[string]string
}

func runSeed(seed uint64) result {
	s := newSim(seed)
	err := s.run()
	return result{seed: seed, err: err, hash: s.hash.Sum64(), steps: s.steps, ring: s.ring, n: s.chk.n, virt: s.now, finds: s.chk.findings}
}

// TestSim runs -seeds seeded worlds (or the one -seed) and checks every
// invariant after every step. A failure prints the command that replays it.
func TestSim(t *testing.T) {
	var seeds []uint64
	if *flagSeed >= 0 {
		seeds = []uint64{uint64(*flagSeed)}
	} else {
		n := *flagSeeds
		switch {
		case n > 0:
		case testing.Short():
			n = 100
		case raceEnabled:
			n = 200
		default:
			n = 1000
		}
		for i := range n {
			seeds = append(seeds, *flagFirst+uint64(i))
		}
	}
	start := time.Now()
	workers := min(runtime.GOMAXPROCS(0), len(seeds))
	var next atomic.Int64
	var mu sync.Mutex
	var failures []result
	totals := map[string]int64{}
	var steps int64
	var virt, maxVirt time.Duration
	findings := map[string]result{}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if int(i) >= len(seeds) {
					return
				}
				r := runSeed(seeds[i])
				mu.Lock()
				steps += int64(r.steps)
				virt += r.virt
				maxVirt = max(maxVirt, r.virt)
				for name := range r.finds {
					if f, ok := findings[name]; !ok || r.seed < f.seed {
						findings[name] = r
					}
				}
				for k, v := range r.n {
					totals[k] += v
				}
				if r.err != nil {
					failures = append(failures, r)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var b strings.Builder
	fmt.Fprintf(&b, "%d seeds in %v (%.0f seeds/min, %d workers), %d engine steps, %v of virtual time (longest seed %v)\n",
		len(seeds), elapsed.Round(time.Millisecond), float64(len(seeds))/elapsed.Minutes(), workers, steps, virt.Round(time.Second), maxVirt.Round(time.Second))
	var all int64
	for _, name := range checkNames {
		all += totals[name]
		fmt.Fprintf(&b, "  %-24s %d\n", name, totals[name])
	}
	fmt.Fprintf(&b, "  %-24s %d\n", "checks evaluated", all)
	b.WriteString("what the seeds went through:\n")
	for _, name := range slices.Sorted(maps.Keys(totals)) {
		if strings.HasPrefix(name, "seen: ") {
			fmt.Fprintf(&b, "  %-50s %d\n", strings.TrimPrefix(name, "seen: "), totals[name])
		}
	}
	names := make([]string, 0, len(findings))
	for name := range findings {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		f := findings[name]
		fmt.Fprintf(&b, "finding %s: %d times; first at seed %d: %s (fails with -strict)\n", name, totals["finding:"+name], f.seed, f.finds[name])
	}
	t.Log(b.String())
	if len(failures) == 0 {
		return
	}
	first := failures[0]
	for _, f := range failures {
		if f.seed < first.seed {
			first = f
		}
	}
	seedList := make([]string, 0, len(failures))
	for _, f := range failures {
		seedList = append(seedList, fmt.Sprint(f.seed))
	}
	// Failures grouped by the check that broke, with the first seed of each.
	type group struct {
		n    int
		seed uint64
		err  error
	}
	groups := map[string]*group{}
	for _, f := range failures {
		name, _, _ := strings.Cut(f.err.Error(), ":")
		g := groups[name]
		if g == nil {
			g = &group{seed: f.seed, err: f.err}
			groups[name] = g
		}
		g.n++
		if f.seed < g.seed {
			g.seed, g.err = f.seed, f.err
		}
	}
	var gb strings.Builder
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		g := groups[name]
		fmt.Fprintf(&gb, "  %s: %d seeds, first %d: %v\n", name, g.n, g.seed, g.err)
	}
	t.Logf("failures by check:\n%s", gb.String())
	t.Errorf("%d of %d seeds failed (%s)\nseed %d: %v\nreplay: go test ./sim -run TestSim -seed=%d -v\nlast steps:\n%s",
		len(failures), len(seeds), strings.Join(seedList, " "), first.seed, first.err, first.seed, strings.Join(first.ring, "\n"))
	if *flagTrace && *flagSeed >= 0 {
		var lines []string
		s := newSim(first.seed)
		s.full = &lines
		_ = s.run()
		t.Logf("whole trace of seed %d:\n%s", first.seed, strings.Join(lines, "\n"))
	}
}

// TestSimDeterministic runs seeds twice: the same seed must give the same
// trace, step for step.
func TestSimDeterministic(t *testing.T) {
	total := 0
	for seed := uint64(1); seed <= 20; seed++ {
		a, b := runSeed(seed), runSeed(seed)
		if a.hash != b.hash || a.steps != b.steps {
			t.Fatalf("seed %d: trace hash %x (%d steps) then %x (%d steps)", seed, a.hash, a.steps, b.hash, b.steps)
		}
		// A seed that drains during the chaos phase ends early; every seed
		// still does real work, and the twenty together a lot of it.
		if a.steps < 30 {
			t.Fatalf("seed %d ran only %d steps", seed, a.steps)
		}
		total += a.steps
	}
	if total < 20*100 {
		t.Fatalf("20 seeds ran only %d steps", total)
	}
}
