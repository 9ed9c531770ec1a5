package demo

import (
	"errors"
	"fmt"
	"time"

	"github.com/kalamgo/kalam"
)

// goLive shows the namespace guard, then starts the live query and waits
// for its (empty) initial snapshot.
func (d *demo) goLive() (<-chan kalam.Event, error) {
	p := d.p
	p.title("Step 1: a live query needs a namespace")
	p.para(`"SELECT * FROM orders" does not say which namespace orders is in. The client refuses it by itself, before anything is sent:`)
	if _, err := d.c.Live(d.ctx, "SELECT * FROM orders", kalam.LiveOptions{}); err == nil {
		return nil, errNoRefusal
	} else if !errors.Is(err, kalam.ErrNoNamespace) {
		return nil, fmt.Errorf("demo: expected the no-namespace refusal, got %w", err)
	}
	p.event("refused: no namespace is set")
	if err := d.c.SetNamespace("shop"); err != nil {
		return nil, err
	}
	p.para(`With the namespace set to "shop" the same query is accepted.`)

	p.title("Step 2: going live")
	p.para("The client logs in over HTTP, opens a WebSocket, and subscribes. First comes a snapshot of the rows that match (none yet), then every change:")
	sub, err := d.c.Live(d.ctx, "SELECT * FROM orders", kalam.LiveOptions{BatchSize: 2})
	if err != nil {
		return nil, err
	}
	events := make(chan kalam.Event, 64)
	go func() {
		defer close(events)
		for ev, err := range sub.Events(d.ctx) {
			if err != nil {
				if !errors.Is(err, kalam.ErrDraining) && !errors.Is(err, kalam.ErrClosed) {
					p.event("the subscription ended: %v", err)
				}
				return
			}
			d.seen.add(ev)
			p.liveEvent(ev)
			events <- ev
		}
	}()
	return events, d.waitFor(events, "the initial snapshot", d.seen.ready)
}

// changeRows writes an insert, an update and a delete and shows each event.
func (d *demo) changeRows(events <-chan kalam.Event) error {
	d.p.title("Step 3: rows change while the client watches")
	d.p.para("Another session inserts two orders, pays for one and deletes the other. Each change reaches the client as an event, with the old values where there were some:")
	for _, sql := range []string{
		"INSERT INTO shop.orders (id, item, status) VALUES (1, 'tea', 'open'), (2, 'cake', 'open')",
		"UPDATE shop.orders SET status = 'paid' WHERE id = 1",
		"DELETE FROM shop.orders WHERE id = 2",
	} {
		n := d.seen.count()
		if err := d.write(sql); err != nil {
			return err
		}
		if err := d.waitFor(events, "the change", func() bool { return d.seen.count() > n }); err != nil {
			return err
		}
	}
	return d.waitFor(events, "insert, update and delete", func() bool { return d.seen.count() >= 4 })
}

// refreshWhileLive keeps writing until the client has renewed its token.
func (d *demo) refreshWhileLive(events <-chan kalam.Event) error {
	d.p.title("Step 4: the login token runs out while data streams")
	d.p.para("Tokens expire. The client renews its token shortly before that, over HTTP, while the socket keeps streaming. A row is written every 0.4 s meanwhile:")
	start := time.Now()
	for i := 3; ; i++ {
		d.mu.Lock()
		r := d.refreshes
		d.mu.Unlock()
		if r > 0 {
			return nil
		}
		n := d.seen.count() // before the write: the event may beat write's return
		if err := d.write(fmt.Sprintf("INSERT INTO shop.orders (id, item, status) VALUES (%d, 'scone', 'open')", i)); err != nil {
			return err
		}
		if err := d.waitFor(events, "the row", func() bool { return d.seen.count() > n }); err != nil {
			return err
		}
		if time.Since(start) > 20*time.Second {
			return errors.New("demo: the token was not renewed within 20 s")
		}
		time.Sleep(400 * time.Millisecond)
	}
}

// cutNetwork drops the connection, writes while the client is away, and
// shows the resume.
func (d *demo) cutNetwork(events <-chan kalam.Event) error {
	p := d.p
	p.title("Step 5: the network drops")
	before, _ := d.seenPosition()
	p.para("The proxy stops passing traffic. Every row carries a position (_seq); the client has seen everything up to %d.", before)
	d.proxy.Down()
	for i := 100; i < 103; i++ {
		if err := d.write(fmt.Sprintf("INSERT INTO shop.orders (id, item, status) VALUES (%d, 'bun', 'open')", i)); err != nil {
			return err
		}
	}
	time.Sleep(300 * time.Millisecond) // let a retry or two fail, for the record
	p.para("The network comes back. The client reconnects and asks for what came after %d, so the rows written meanwhile arrive once each:", before)
	d.proxy.Up()
	return d.waitFor(events, "the rows written during the outage", func() bool { return d.seen.has("100", "101", "102") })
}

func (d *demo) seenPosition() (int64, bool) {
	d.seen.mu.Lock()
	defer d.seen.mu.Unlock()
	return d.seen.last, d.seen.last != 0
}

// drain shuts down gracefully and says how it went.
func (d *demo) drain(events <-chan kalam.Event) error {
	d.p.title("Step 6: shutting down gracefully")
	d.p.para("Drain stops new work, lets work in flight finish by a deadline, then closes the socket cleanly:")
	dctx, cancel := context5s(d)
	defer cancel()
	out, err := d.c.Drain(dctx)
	if err != nil {
		return err
	}
	for range events {
	}
	d.p.para("%s", drainSentence(out))
	return nil
}

// drainSentence says how a drain went.
func drainSentence(o kalam.DrainOutcome) string {
	subs := fmt.Sprintf("%d live quer%s", o.Subscriptions, map[bool]string{true: "y", false: "ies"}[o.Subscriptions == 1])
	switch {
	case o.Aborted:
		return "The drain was cut short by an immediate close; " + subs + " ended."
	case o.TimedOut:
		return fmt.Sprintf("The drain hit its deadline: %d quer(ies) and %d snapshot load(s) were abandoned; %s ended.", o.QueriesAbandoned, o.LoadsAbandoned, subs)
	}
	if o.QueriesCompleted+o.LoadsCompleted == 0 {
		return "The drain finished in time: " + subs + " ended cleanly, nothing else was in flight, and nothing was abandoned."
	}
	return fmt.Sprintf("The drain finished in time: %s ended cleanly, %d quer(ies) and %d snapshot load(s) in flight completed, and nothing was abandoned.", subs, o.QueriesCompleted, o.LoadsCompleted)
}
