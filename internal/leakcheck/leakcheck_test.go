package leakcheck

import (
	"strings"
	"testing"
	"time"
)

type fakeM struct{ run func() int }

func (f fakeM) Run() int { return f.run() }

func TestReportsALeak(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	var out strings.Builder
	code := run(fakeM{func() int {
		go func() { <-stop }()
		return 0
	}}, &out, 200*time.Millisecond)
	if code != 1 || !strings.Contains(out.String(), "leakcheck.TestReportsALeak") {
		t.Fatalf("code %d, report %q", code, out.String())
	}
}

func TestQuietWhenGoroutinesEnd(t *testing.T) {
	var out strings.Builder
	code := run(fakeM{func() int {
		done := make(chan struct{})
		go func() { time.Sleep(20 * time.Millisecond); close(done) }()
		return 0 // the goroutine ends within Grace
	}}, &out, 200*time.Millisecond)
	if code != 0 || out.Len() != 0 {
		t.Fatalf("code %d, report %q", code, out.String())
	}
}

func TestFailedRunIsPassedThrough(t *testing.T) {
	var out strings.Builder
	if code := run(fakeM{func() int { return 3 }}, &out, 200*time.Millisecond); code != 3 {
		t.Fatalf("code %d", code)
	}
}
