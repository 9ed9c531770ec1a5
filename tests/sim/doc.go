// Package sim is a deterministic simulation of the kalam engine (fsm) in a
// simulated world: a virtual clock, a network of per-connection message
// queues with faults, a model of a KalamDB server (tables with strictly
// increasing _seq, subscriptions with paged initial loads and resume, tokens
// that expire on the server's own, skewed clock) and an application with
// slow consumers. Everything derives from one seed, so a failing seed
// replays exactly:
//
//	go test ./sim -run TestSim -seed=N
//
// After every step the simulation checks the engine's invariants and the
// end-to-end promises of the design (delivery order, no replay below a
// checkpoint, one refresh at a time, drain deadlines, no secrets in any
// effect); at quiescence it checks that no insert or update was lost.
// The code lives in the test files; this file only documents the package.
package sim
