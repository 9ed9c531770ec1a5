//go:build js && wasm

package main

import (
	"time"

	"github.com/kalamgo/kalam/fsm"
)

// keepaliveEngine adapts the engine's liveness rule to the browser.
//
// The engine declares a link dead when nothing arrives within PongTimeout
// of a ping. A browser cannot send WebSocket Ping frames, and KalamDB does
// not answer the {"type":"ping"} message browsers send instead, so on a
// quiet subscription nothing ever arrives and the rule would redial every
// few seconds. Here a ping handed to the socket counts as its own answer:
// the keepalive still reaches the server (which drops sockets silent for
// 10 s), and a lost socket is still noticed through the browser's close
// event, as the official browser client does. A half-open socket is not
// detected by this rule (bindings/js/README.md, "Keepalive").
type keepaliveEngine struct {
	fsm.Stepper
	effects []fsm.Effect
}

func newKeepaliveEngine(cfg fsm.Config) (fsm.Stepper, error) {
	return &keepaliveEngine{Stepper: fsm.New(cfg)}, nil
}

func (k *keepaliveEngine) Step(now time.Duration, in fsm.Input) ([]fsm.Effect, error) {
	effs, err := k.Stepper.Step(now, in)
	var pings []uint64
	for _, e := range effs {
		if p, ok := e.(fsm.Ping); ok {
			pings = append(pings, p.Epoch)
		}
	}
	if len(pings) == 0 {
		return effs, err
	}
	// The effects are valid until the next Step: keep a copy.
	k.effects = append(k.effects[:0], effs...)
	for _, epoch := range pings {
		more, _ := k.Stepper.Step(now, fsm.PongReceived{Epoch: epoch})
		k.effects = append(k.effects, more...)
	}
	return k.effects, err
}
