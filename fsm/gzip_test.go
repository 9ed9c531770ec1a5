//go:build !js

package fsm

import (
	"errors"
	"strings"
	"testing"

	"github.com/kalamgo/kalam/transport/wire"
)

// The browser build's decoder has no gzip (its socket adapter inflates), so
// this test is native only; wire's js tests check the refusal there.

func TestGzipBombIsRefused(t *testing.T) {
	h := live(t, Config{MaxInflated: 1 << 10})
	big := `{"type":"change","subscription_id":"s1","change_type":"insert","rows":[{"id":"1","pad":"` + strings.Repeat("a", 4096) + `","_seq":"999"}]}`
	frame, binary := wire.Compress([]byte(big))
	if !binary {
		t.Fatal("test frame did not compress")
	}
	effs := h.step(FrameReceived{Epoch: h.e.Epoch(), Binary: true, Data: frame})
	p := must[Problem](h, effs)
	if !errors.Is(p.Err, wire.ErrFrameTooLarge) {
		t.Fatalf("problem = %v", p.Err)
	}
	none[Deliver](h, effs)
}
