package kalamtest

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"
)

// system.live shows each subscription from its ack until unsubscribe or
// the end of its connection, as KalamDB's view over its connection
// registry does.
func TestSystemLiveListsSubscriptionsUntilUnsubscribe(t *testing.T) {
	srv := startServer(t, nil)
	cl := newClient(t, srv)
	liveRows := func() [][]string {
		t.Helper()
		r := mustExec(t, srv, "root", "SELECT live_id, connection_id, subscription_id, namespace_id, table_name, user_id, query, status FROM system.live")
		var out [][]string
		for _, row := range r.Results[0].Rows {
			var cells []string
			for _, c := range row {
				var s string
				if err := json.Unmarshal(c, &s); err != nil {
					t.Fatalf("cell %s: %v", c, err)
				}
				cells = append(cells, s)
			}
			out = append(out, cells)
		}
		return out
	}
	if got := liveRows(); len(got) != 0 {
		t.Fatalf("before any subscription: %v", got)
	}
	start := time.Now()
	w := loginWS(t, srv, cl, "alice", alicePW, dialOpts{})
	w.subscribe("s1", ordersStar, nil)
	w.nextType("subscription_ack")
	subs := srv.Subscriptions()
	if len(subs) != 1 {
		t.Fatalf("Subscriptions() = %+v", subs)
	}
	conn := strconv.FormatUint(subs[0].Conn, 10)
	got := liveRows()
	want := []string{"alice-" + conn + "-s1", conn, "s1", "app", "orders", "alice", ordersStar, "active"}
	if len(got) != 1 || toJSONString(got[0]) != toJSONString(want) {
		t.Fatalf("system.live = %v, want [%v]", got, want)
	}
	r := mustExec(t, srv, "root", "SELECT created_at, last_ping_at FROM system.live")
	for i, c := range r.Results[0].Rows[0] {
		us, err := strconv.ParseInt(string(c), 10, 64)
		if err != nil || time.UnixMicro(us).Before(start.Add(-time.Second)) || time.UnixMicro(us).After(time.Now()) {
			t.Errorf("timestamp column %d = %s, want a µs time within the test", i, c)
		}
	}
	if _, err := srv.Exec(context.Background(), "alice", "SELECT * FROM system.live"); err == nil {
		t.Error("a user read system.live")
	}

	// unsubscribe has no reply; a subscribe sent after it is handled after
	// it, so its ack orders the two.
	w.send(map[string]any{"type": "unsubscribe", "subscription_id": "s1"})
	w.subscribe("s2", ordersStar+" WHERE status = 'open'", nil)
	w.nextType("subscription_ack")
	if got := liveRows(); len(got) != 1 || got[0][2] != "s2" {
		t.Fatalf("after unsubscribe: %v", got)
	}
	w.c.CloseNow()
	eventually(t, "system.live to drop the closed connection's subscription", func() bool { return len(liveRows()) == 0 })
}

func toJSONString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
