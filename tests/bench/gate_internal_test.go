package bench

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestGateHoldsAndReleases checks the harness the events benchmark relies
// on: while held, the gate lets no change through and counts the frames
// it keeps; released, every one arrives, in order.
func TestGateHoldsAndReleases(t *testing.T) {
	srv := startInProcess(t)
	tok := srv.login(t, rawUser)
	g := newGate(t, hostOf(srv.URL))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := dialRaw(ctx, "ws://"+g.ln.Addr().String()+"/v1/ws", tok, "SELECT * FROM app.orders", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	g.Hold()
	const n = 50
	if err := srv.insert(tok, n); err != nil {
		t.Fatal(err)
	}
	if err := waitUntil(10*time.Second, func() bool { return g.Frames() >= n }); err != nil {
		t.Fatalf("gate held %d frames: %v", g.Frames(), err)
	}
	early, cancelEarly := context.WithTimeout(ctx, 50*time.Millisecond)
	if m, err := r.read(early); err == nil {
		t.Fatalf("a %q message passed the held gate", m.Type)
	}
	cancelEarly()
	// A read cut by its context closes a coder/websocket connection, so
	// the rest of the check needs a fresh one.
	r2, err := dialRaw(ctx, "ws://"+g.ln.Addr().String()+"/v1/ws", tok, "SELECT * FROM app.orders", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	g.Hold()
	if err := srv.insert(tok, n); err != nil {
		t.Fatal(err)
	}
	if err := waitUntil(10*time.Second, func() bool { return g.Frames() >= n }); err != nil {
		t.Fatalf("gate held %d frames: %v", g.Frames(), err)
	}
	g.Release()
	last := int64(0)
	for i := range n {
		m, err := r2.read(ctx)
		if err != nil {
			t.Fatalf("after %d changes: %v", i, err)
		}
		if m.Type != "change" || len(m.Rows) != 1 {
			t.Fatalf("message %d: %+v", i, m)
		}
		id, err := strconv.ParseInt(strings.Trim(string(m.Rows[0]["id"]), `"`), 10, 64)
		if err != nil || id <= last {
			t.Fatalf("change for id %s after id %d (%v)", m.Rows[0]["id"], last, err)
		}
		last = id
	}
}

func TestFrameCounter(t *testing.T) {
	var f frameCounter
	// The upgrade answer, then: text "hi" (final), ping (control), a
	// 300-byte binary frame split across feeds, and a non-final text
	// frame followed by its final continuation.
	stream := []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
	stream = append(stream, 0x81, 2, 'h', 'i')
	stream = append(stream, 0x89, 0)
	stream = append(stream, 0x82, 126, 0x01, 0x2c)
	stream = append(stream, make([]byte, 300)...)
	stream = append(stream, 0x01, 1, 'a', 0x80, 1, 'b')
	total := 0
	for i := 0; i < len(stream); i += 7 {
		total += f.feed(stream[i:min(i+7, len(stream))])
	}
	if total != 3 {
		t.Fatalf("counted %d messages, want 3", total)
	}
}
