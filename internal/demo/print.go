package demo

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kalamgo/kalam"
)

func context5s(d *demo) (context.Context, context.CancelFunc) {
	return context.WithTimeout(d.ctx, 5*time.Second)
}

// printer writes the demo's text: step titles, explanations, and events
// stamped with the time since the start.
type printer struct {
	mu      sync.Mutex
	w       io.Writer
	start   time.Time
	resumed bool // the snapshot rows that follow a resume were missed while offline
}

func (p *printer) title(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\n%s\n%s\n", s, strings.Repeat("─", len([]rune(s))))
}

func (p *printer) para(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s\n", fmt.Sprintf(format, args...))
}

func (p *printer) event(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "  %5.2fs  %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// liveEvent prints what the subscription delivered, row by row, with old
// values next to new ones for updates.
func (p *printer) liveEvent(ev kalam.Event) {
	p.mu.Lock()
	label := "snapshot row"
	if p.resumed {
		label = "missed while offline"
	}
	p.resumed = ev.Kind == kalam.EventResumed || (p.resumed && ev.Kind == kalam.EventSnapshot && !ev.Last)
	p.mu.Unlock()
	switch ev.Kind {
	case kalam.EventSubscribed:
		p.event("← subscribed")
	case kalam.EventSnapshot:
		if len(ev.Rows) == 0 {
			p.event("← snapshot: no rows yet")
		}
		for _, r := range ev.Rows {
			p.event("← %s  %s", label, rowText(r))
		}
	case kalam.EventInsert:
		for _, r := range ev.Rows {
			p.event("← insert  %s", rowText(r))
		}
	case kalam.EventUpdate:
		for i, r := range ev.Rows {
			var old kalam.Row
			if i < len(ev.Old) {
				old = ev.Old[i]
			}
			p.event("← update  id=%s: %s", r.Get("id").String(), changes(old, r))
		}
	case kalam.EventDelete:
		for _, r := range ev.Old {
			p.event("← delete  %s", rowText(r))
		}
	case kalam.EventResumed:
		what := "nothing was missed"
		if ev.Continuity == kalam.ContinuityNoDeletes {
			what = "inserts and updates made meanwhile follow; rows deleted meanwhile would not be replayed (KalamDB does not keep them)"
		}
		p.event("← resumed after position %d: %s", ev.From, what)
	}
}

// rowText shows a row's columns (without the bookkeeping ones) as
// name=value.
func rowText(r kalam.Row) string {
	var parts []string
	for _, k := range []string{"id", "item", "status"} {
		if v, ok := r[k]; ok {
			parts = append(parts, k+"="+v.String())
		}
	}
	return strings.Join(parts, " ")
}

// changes lists the columns an update changed as "col: old → new".
func changes(old, cur kalam.Row) string {
	var cols []string
	for k := range old {
		if k != "id" && !strings.HasPrefix(k, "_") {
			cols = append(cols, k)
		}
	}
	sort.Strings(cols)
	var parts []string
	for _, k := range cols {
		parts = append(parts, fmt.Sprintf("%s: %s → %s", k, old.Get(k).String(), cur.Get(k).String()))
	}
	if len(parts) == 0 {
		return "changed"
	}
	return strings.Join(parts, ", ")
}

// tally checks what the subscription delivered: every row version once,
// _seq strictly increasing.
type tally struct {
	mu      sync.Mutex
	ids     map[string]int
	seqs    map[int64]int
	events  int
	last    int64
	isReady bool
	bad     int
}

func (t *tally) add(ev kalam.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seqs == nil {
		t.seqs = map[int64]int{}
	}
	if ev.Kind == kalam.EventSnapshot && ev.Last {
		t.isReady = true
	}
	rows := ev.Rows // an update's old values carry the previous version's _seq
	if ev.Kind == kalam.EventDelete {
		rows = ev.Old
	}
	for _, r := range rows {
		t.events++
		t.ids[r.Get("id").String()]++
		if s, ok := r.Seq(); ok {
			if int64(s) <= t.last {
				t.bad++
			}
			t.last = int64(s)
			t.seqs[int64(s)]++
		}
	}
}

func (t *tally) ready() bool { t.mu.Lock(); defer t.mu.Unlock(); return t.isReady }
func (t *tally) count() int  { t.mu.Lock(); defer t.mu.Unlock(); return t.events }

func (t *tally) has(ids ...string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		if t.ids[id] == 0 {
			return false
		}
	}
	return true
}

func (t *tally) duplicates() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.bad
	for _, n := range t.seqs {
		if n > 1 {
			d += n - 1
		}
	}
	return d
}
