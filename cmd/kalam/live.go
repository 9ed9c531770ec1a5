package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/transport/wire"
)

// runLive subscribes to a live query and prints its events as JSON lines on
// stdout; progress and state changes go to stderr.
func runLive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kalam live", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := addConnFlags(fs)
	batch := fs.Int("batch-size", 0, "rows per snapshot batch (default: the server's, 1000)")
	lastRows := fs.Int("last-rows", 0, "limit the snapshot to the newest `N` rows")
	from := fs.Int64("from", 0, "start after this _seq `position` (resume); 0 means from the start")
	noSnapshot := fs.Bool("no-snapshot", false, "skip the initial snapshot: only changes from now on")
	limit := fs.Int("limit", 0, "exit after `N` change events (insert, update, delete); 0 means run until interrupted")
	drainTimeout := fs.Duration("drain-timeout", 5*time.Second, "how long the shutdown drain may take")
	fs.Usage = usageFunc(fs, stderr, "Usage: kalam live [flags] SQL\n\nSubscribes to a live query and prints each event as a JSON line.\nProgress and state changes go to stderr. Ctrl+C drains and exits.")
	if err := parseFlags(fs, args, -1); err != nil {
		return err
	}
	sql := strings.TrimSpace(strings.Join(fs.Args(), " "))
	if sql == "" {
		fmt.Fprintln(stderr, "kalam live: no SQL given")
		fs.Usage()
		return errUsage
	}
	cfg, err := cf.config(stderr)
	if err != nil {
		return err
	}
	var errMu sync.Mutex
	cfg.OnStateChange = func(t kalam.Transition) {
		if t.From != t.To {
			errMu.Lock()
			fmt.Fprintf(stderr, "state: %s\n", t) // with its reason, attempt and retry delay
			errMu.Unlock()
		}
	}
	cfg.OnConnection = func(ev kalam.ConnectionEvent) {
		if ev.Connected {
			return
		}
		errMu.Lock()
		fmt.Fprintf(stderr, "disconnected: code %d %s (reconnecting: %v)\n", ev.Code, ev.Reason, ev.Recoverable)
		errMu.Unlock()
	}
	c, err := kalam.New(cfg)
	if err != nil {
		return err
	}
	defer c.Close()

	opts := kalam.LiveOptions{BatchSize: *batch, LastRows: *lastRows, NoSnapshot: *noSnapshot}
	if *from > 0 {
		pos := wire.SeqID(*from)
		opts.From = &pos
	}
	sub, err := c.Live(ctx, sql, opts)
	if errors.Is(err, kalam.ErrNoNamespace) {
		return fmt.Errorf("%w: qualify the table (ns.table) or pass --namespace", err)
	}
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	changes, loaded := 0, 0
	var runErr error
	for ev, err := range sub.Events(ctx) {
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				runErr = err
			}
			break
		}
		switch ev.Kind {
		case kalam.EventSnapshot:
			loaded += len(ev.Rows)
			errMu.Lock()
			if ev.Last {
				fmt.Fprintf(stderr, "snapshot loaded: %d row%s\n", loaded, plural(loaded))
			} else {
				fmt.Fprintf(stderr, "loading snapshot: %d row%s (batch %d)\n", loaded, plural(loaded), ev.Batch)
			}
			errMu.Unlock()
		case kalam.EventResumed:
			errMu.Lock()
			fmt.Fprintf(stderr, "resumed after _seq %s (continuity: %s)\n", ev.From, ev.Continuity)
			errMu.Unlock()
		}
		if err := enc.Encode(eventJSON(ev)); err != nil {
			runErr = err
			break
		}
		if ev.Kind == kalam.EventInsert || ev.Kind == kalam.EventUpdate || ev.Kind == kalam.EventDelete {
			changes++
			if *limit > 0 && changes >= *limit {
				break
			}
		}
	}
	dctx, cancel := context.WithTimeout(context.Background(), *drainTimeout)
	defer cancel()
	if out, err := c.Drain(dctx); err == nil && out.TimedOut {
		fmt.Fprintln(stderr, "drain timed out")
	}
	return runErr
}

// liveEvent is one JSON line of `kalam live`.
type liveEvent struct {
	Kind       string                       `json:"kind"`
	Seq        wire.SeqID                   `json:"seq,omitempty"`
	Rows       []map[string]json.RawMessage `json:"rows,omitempty"`
	Old        []map[string]json.RawMessage `json:"old,omitempty"`
	Columns    []string                     `json:"columns,omitempty"`
	Batch      uint32                       `json:"batch,omitempty"`
	Last       bool                         `json:"last,omitempty"`
	From       wire.SeqID                   `json:"from,omitempty"`
	Continuity string                       `json:"continuity,omitempty"`
}

func eventJSON(ev kalam.Event) liveEvent {
	out := liveEvent{Kind: ev.Kind.String(), Seq: ev.Seq, Batch: ev.Batch, Last: ev.Last}
	for _, r := range ev.Rows {
		out.Rows = append(out.Rows, rawRow(r))
	}
	for _, r := range ev.Old {
		out.Old = append(out.Old, rawRow(r))
	}
	for _, c := range ev.Columns {
		out.Columns = append(out.Columns, c.Name)
	}
	if ev.Kind == kalam.EventResumed {
		out.From, out.Continuity = ev.From, ev.Continuity.String()
	}
	return out
}
