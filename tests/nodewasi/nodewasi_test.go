// Package nodewasi runs kalam's engine module on a second WASI runtime,
// Node's node:wasi, through a small host (host.mjs) written from
// docs/ABI.md alone, and requires the same bytes the native engine gives on
// the 1,000-seed conformance scripts: the module can be embedded by any
// WASI runtime, not only by bindings/wazero.
package nodewasi

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kalamgo/kalam/internal/abi"
	"github.com/kalamgo/kalam/internal/abi/abitest"
)

const (
	seeds = 1000
	steps = 200
)

// script holds the records for host.mjs and the responses the native
// engine gives for them, record by record.
type script struct {
	in    []byte
	want  []byte
	where []string // which seed and step each response answers
}

func (s *script) record(kind byte, body []byte) {
	s.in = append(s.in, kind)
	s.in = binary.LittleEndian.AppendUint32(s.in, uint32(len(body)))
	s.in = append(s.in, body...)
}

func (s *script) expect(resp []byte, where string) {
	s.want = binary.LittleEndian.AppendUint32(s.want, uint32(len(resp)))
	s.want = append(s.want, resp...)
	s.where = append(s.where, where)
}

// pending is an input of a batch: its request and native response.
type pending struct{ req, resp []byte }

// build writes the scripts of all seeds: each seed resets the engine with
// its config and steps its inputs — one by one, or for one seed in three in
// batches of 1 to 100 — with a view every 16 inputs and at the end.
func build(t *testing.T) *script {
	s := &script{}
	view := func(sim *abitest.Sim, where string) {
		n := sim.Native
		s.in = append(s.in, 'V')
		s.expect(abi.AppendView(nil, abi.View{State: n.State(), Namespace: n.Namespace(), Subscriptions: n.Subscriptions()}), where)
	}
	for seed := range uint64(seeds) {
		cfg := abitest.Config(seed)
		s.record('I', abi.AppendConfig(nil, cfg))
		s.expect([]byte{byte(abi.CodeOK)}, fmt.Sprintf("seed %d init", seed))
		sim := abitest.New(seed)
		batched := seed%3 == 1
		var batch []pending
		flush := func(step int) {
			if len(batch) == 0 {
				return
			}
			s.in = append(s.in, 'B')
			s.in = binary.LittleEndian.AppendUint32(s.in, uint32(len(batch)))
			for i, p := range batch {
				s.in = binary.LittleEndian.AppendUint32(s.in, uint32(len(p.req)))
				s.in = append(s.in, p.req...)
				s.expect(p.resp, fmt.Sprintf("seed %d step %d (batch of %d)", seed, step-len(batch)+i+1, len(batch)))
			}
			batch = batch[:0]
			view(sim, fmt.Sprintf("seed %d view after step %d", seed, step))
		}
		next := abitest.BatchSizes(seed)
		size := next()
		for step := 1; step <= steps; step++ {
			in := sim.Input()
			now := sim.Now
			effs, err := sim.Step(in)
			resp, encErr := abi.AppendStep(nil, err, sim.Native.State(), effs)
			req, reqErr := abi.AppendInput(nil, now, in)
			if encErr != nil || reqErr != nil {
				t.Fatalf("seed %d step %d: encode: %v %v", seed, step, encErr, reqErr)
			}
			if batched {
				batch = append(batch, pending{req, resp})
				if len(batch) >= size {
					flush(step)
					size = next()
				}
				continue
			}
			s.record('S', req)
			s.expect(resp, fmt.Sprintf("seed %d step %d", seed, step))
			if step%16 == 0 {
				view(sim, fmt.Sprintf("seed %d view after step %d", seed, step))
			}
		}
		flush(steps)
		view(sim, fmt.Sprintf("seed %d final view", seed))
	}
	return s
}

// nodeTool finds node; without it the test fails in CI and skips loudly
// elsewhere.
func nodeTool(t *testing.T) string {
	p, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required in CI (node:wasi host): not found in PATH")
		}
		t.Skip("SKIPPED: node not found in PATH; the node:wasi host test needs Node 20 or later")
	}
	return p
}

// buildGuest builds the engine module as make wasm does.
func buildGuest(t *testing.T, out string) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", out, "./wasm/engine")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./wasm/engine: %v\n%s", err, b)
	}
}

// TestNodeWASIConformance replays the conformance scripts of 1,000 seeds
// on Node's WASI through host.mjs and requires every response — init,
// step, batch item and view — to be byte-identical to the native engine's.
func TestNodeWASIConformance(t *testing.T) {
	node := nodeTool(t)
	dir := t.TempDir()
	wasm := filepath.Join(dir, "kalam-engine.wasm")
	buildGuest(t, wasm)
	s := build(t)
	in, out := filepath.Join(dir, "script"), filepath.Join(dir, "out")
	if err := os.WriteFile(in, s.in, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "host.mjs", wasm, in, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node host.mjs: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(got, s.want) {
		t.Logf("%d seeds × %d steps: %d responses byte-identical to the native engine's (%d B)", seeds, steps, len(s.where), len(got))
		return
	}
	// Find the first response that differs; report where, never the bytes
	// (they carry the scripts' tokens).
	g, w := got, s.want
	for i, where := range s.where {
		gr, gRest, gok := next(g)
		wr, wRest, _ := next(w)
		if !gok {
			t.Fatalf("the node host wrote %d responses, the native engine gave %d; the first missing answers %s", i, len(s.where), where)
		}
		if !bytes.Equal(gr, wr) {
			t.Fatalf("%s: the node host's response differs from the native engine's (len %d vs %d)", where, len(gr), len(wr))
		}
		g, w = gRest, wRest
	}
	t.Fatalf("the node host wrote %d bytes more than expected", len(g))
}

// next splits one response record off b.
func next(b []byte) (resp, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := int(binary.LittleEndian.Uint32(b))
	if len(b) < 4+n {
		return nil, nil, false
	}
	return b[4 : 4+n], b[4+n:], true
}
