//go:build !js

package kalam_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kalamgo/kalam/fsm"
)

// engineLog records what the lifecycle engine is fed and what it asks for,
// with the engine time of each step. Tests read the engine's own schedule
// from it (which timers are armed, for when, and what each firing led to)
// instead of counting events inside a fixed sleep window, which passes or
// fails with the machine's load.
type engineLog struct {
	mu    sync.Mutex
	steps []loggedStep
	wake  chan struct{}
}

type loggedStep struct {
	now     time.Duration
	in      fsm.Input
	effects []fsm.Effect
}

func newEngineLog() *engineLog { return &engineLog{wake: make(chan struct{}, 1)} }

// engine is a kalam.Config.Engine that wraps the native engine.
func (l *engineLog) engine(cfg fsm.Config) (fsm.Stepper, error) {
	return &loggingEngine{Stepper: fsm.New(cfg), log: l}, nil
}

type loggingEngine struct {
	fsm.Stepper
	log *engineLog
}

func (e *loggingEngine) Step(now time.Duration, in fsm.Input) ([]fsm.Effect, error) {
	effs, err := e.Stepper.Step(now, in)
	e.log.mu.Lock()
	e.log.steps = append(e.log.steps, loggedStep{now: now, in: in, effects: append([]fsm.Effect(nil), effs...)})
	e.log.mu.Unlock()
	select {
	case e.log.wake <- struct{}{}:
	default:
	}
	return effs, err
}

// snapshot returns the steps so far.
func (l *engineLog) snapshot() []loggedStep {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]loggedStep(nil), l.steps...)
}

// waitFor waits until cond holds for the steps so far.
func (l *engineLog) waitFor(t testing.TB, ctx context.Context, what string, cond func([]loggedStep) bool) []loggedStep {
	t.Helper()
	for {
		steps := l.snapshot()
		if cond(steps) {
			return steps
		}
		select {
		case <-l.wake:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s; engine log:\n%s", what, describeSteps(steps))
		}
	}
}

// count counts the effects for which match is true.
func count(steps []loggedStep, match func(fsm.Effect) bool) int {
	n := 0
	for _, s := range steps {
		for _, e := range s.effects {
			if match(e) {
				n++
			}
		}
	}
	return n
}

func isResolve(e fsm.Effect) bool { _, ok := e.(fsm.ResolveCredentials); return ok }
func isDial(e fsm.Effect) bool    { _, ok := e.(fsm.Dial); return ok }

// armedTimer is a timer the engine has armed and not yet seen fire or
// cancelled.
type armedTimer struct {
	at, armedAt time.Duration
	gen         uint64
}

// armed replays the steps and returns the timers armed at the end.
func armed(steps []loggedStep) map[fsm.Timer]armedTimer {
	out := map[fsm.Timer]armedTimer{}
	for _, s := range steps {
		if f, ok := s.in.(fsm.TimerFired); ok {
			if a, ok := out[f.Timer]; ok && a.gen == f.Gen {
				delete(out, f.Timer)
			}
		}
		for _, e := range s.effects {
			switch x := e.(type) {
			case fsm.SetTimer:
				out[x.Timer] = armedTimer{at: x.At, armedAt: s.now, gen: x.Gen}
			case fsm.CancelTimer:
				delete(out, x.Timer)
			}
		}
	}
	return out
}

// checkPacedBy checks that every effect matching what, after the first,
// came from the firing of timer, and that the engine had armed that timer
// at least min after the step that armed it: the engine waited out its
// backoff before acting again. It returns how many such effects it saw.
func checkPacedBy(t testing.TB, steps []loggedStep, what func(fsm.Effect) bool, timer fsm.Timer, min time.Duration) int {
	t.Helper()
	var last armedTimer
	n := 0
	for _, s := range steps {
		for _, e := range s.effects {
			if !what(e) {
				continue
			}
			n++
			if n == 1 {
				continue
			}
			f, ok := s.in.(fsm.TimerFired)
			if !ok || f.Timer != timer || f.Gen != last.gen {
				t.Fatalf("effect %d (%T) at %v was not caused by the %v timer but by %T; engine log:\n%s",
					n, e, s.now, timer, s.in, describeSteps(steps))
			}
			if d := last.at - last.armedAt; d < min {
				t.Fatalf("effect %d: the %v timer was armed for %v, less than the minimum backoff %v", n, timer, d, min)
			}
			if s.now < last.at {
				t.Fatalf("effect %d: the %v timer fired at %v, before its time %v", n, timer, s.now, last.at)
			}
		}
		for _, e := range s.effects {
			if st, ok := e.(fsm.SetTimer); ok && st.Timer == timer {
				last = armedTimer{at: st.At, armedAt: s.now, gen: st.Gen}
			}
		}
	}
	return n
}

// describeSteps renders the log for a failure message: types only, plus
// the timer and state details (inputs may carry credentials, which must not
// reach a test log).
func describeSteps(steps []loggedStep) string {
	var b strings.Builder
	show := func(v any) string {
		switch x := v.(type) {
		case fsm.SetTimer, fsm.CancelTimer, fsm.TimerFired, fsm.StateChanged:
			return fmt.Sprintf("%T%+v", x, x)
		}
		return fmt.Sprintf("%T", v)
	}
	for _, s := range steps {
		fmt.Fprintf(&b, "  %v %s →", s.now, show(s.in))
		for _, e := range s.effects {
			b.WriteString(" " + show(e))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// pending says what the engine still waits for at the end of steps: an
// armed timer, or an I/O request without its answer. "" means the engine
// is idle: no input can reach it any more but a call of the test's own, so
// nothing more will happen, now or later.
func pending(steps []loggedStep) string {
	var resolves, queries, sockets int
	for _, s := range steps {
		switch s.in.(type) {
		case fsm.CredentialsResolved, fsm.CredentialsFailed:
			resolves--
		case fsm.QueryResult:
			queries--
		case fsm.DialFailed, fsm.SocketClosed:
			sockets--
		}
		for _, e := range s.effects {
			switch e.(type) {
			case fsm.ResolveCredentials:
				resolves++
			case fsm.HTTPQuery:
				queries++
			case fsm.Dial:
				sockets++
			}
		}
	}
	var out []string
	for timer, a := range armed(steps) {
		out = append(out, fmt.Sprintf("timer %v armed for %v", timer, a.at))
	}
	if resolves > 0 {
		out = append(out, fmt.Sprintf("%d credential requests", resolves))
	}
	if queries > 0 {
		out = append(out, fmt.Sprintf("%d HTTP queries", queries))
	}
	if sockets > 0 {
		out = append(out, fmt.Sprintf("%d sockets", sockets))
	}
	return strings.Join(out, ", ")
}
