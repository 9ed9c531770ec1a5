package browser

import (
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/kalamgo/kalam/kalamtest"
)

// TestNodeFamiliarAPI runs testdata/bundlers/node-api.mjs under Node with
// the packed package: the helpers @kalamdb/client users look for, and
// exact 64-bit positions. kalamtest's _seq values are Snowflakes (the
// clock in milliseconds shifted left by 22 bits), far above 2^53, so every
// position the test sees would lose digits as a JS number.
func TestNodeFamiliarAPI(t *testing.T) {
	node, _ := npmTool(t)
	dir := packedApp(t)
	w := newWorld(t, kalamtest.Config{HeartbeatInterval: 50 * time.Millisecond})
	s := startNodeScript(t, node, dir, "node-api.mjs", "http://"+w.proxy.Addr(), nil)

	h := s.step("helpers")
	if h["afterLogin"] != "Authed" || fmt.Sprint(h["one"]) != "map[id:2 status:b]" || h["none"] != nil || fmt.Sprint(h["all"]) != "[1 2 3]" {
		t.Fatalf("helpers: %v", h)
	}

	p := s.step("positions")
	seqs, _ := p["seqs"].(map[string]any)
	limit := new(big.Int).Lsh(big.NewInt(1), 53)
	var last *big.Int
	for _, id := range []string{"1", "2", "3"} {
		str, ok := seqs[id].(string)
		v, ok2 := new(big.Int).SetString(str, 10)
		if !ok || !ok2 || v.Cmp(limit) <= 0 {
			t.Fatalf("_seq of row %s = %v: want a decimal string above 2^53", id, seqs[id])
		}
		if last == nil || v.Cmp(last) > 0 {
			last = v
		}
	}
	if p["position"] != last.String() {
		t.Fatalf("position() = %v, want the newest _seq %s exactly", p["position"], last)
	}
	if fmt.Sprint(p["after1"]) != "[2 3]" || fmt.Sprint(p["after2"]) != "[3]" {
		t.Fatalf("from as string gave %v, from as BigInt gave %v; want [2 3] and [3]", p["after1"], p["after2"])
	}
	if p["numberRefused"] != "INVALID_CONFIG" || fmt.Sprint(p["types"]) != "[string string string]" {
		t.Fatalf("positions: %v", p)
	}
	subs, _ := p["subscriptions"].([]any)
	kinds := map[string]int{}
	for _, x := range subs {
		m, _ := x.(map[string]any)
		kinds[fmt.Sprint(m["kind"])]++
		if m["kind"] == "events" && (m["id"] == nil || m["sql"] != "SELECT * FROM orders") {
			t.Fatalf("subscription entry %v", m)
		}
	}
	if kinds["events"] != 3 || kinds["rows"] != 1 {
		t.Fatalf("subscriptions() = %v: want 3 live queries and 1 view", subs)
	}

	w.proxy.Drop()
	s.send("cut")
	r := s.step("reconnected")
	conns, _ := r["conns"].([]any)
	var got []string
	drops := 0
	for i, c := range conns {
		m, _ := c.(map[string]any)
		got = append(got, fmt.Sprintf("%v/%v", m["connected"], m["attempt"]))
		if i > 0 && m["connected"] == false {
			drops++
		}
		if m["connected"] == false && (m["recoverable"] != true || m["reason"] == nil) {
			t.Fatalf("disconnect event without its reason: %v", m)
		}
	}
	if len(got) < 3 || got[0] != "true/1" || got[1] != "false/1" || got[len(got)-1] != "true/"+fmt.Sprint(drops) {
		t.Fatalf("connection events (connected/attempt) = %v", got)
	}

	u := s.step("unsubscribed")
	if l, _ := u["left"].([]any); len(l) != 0 || u["sub1"] == nil {
		t.Fatalf("after unsubscribeAll: %v", u)
	}
	s.exited(t, 10*time.Second)
}
