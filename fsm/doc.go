// Package fsm is kalam's sans-I/O lifecycle engine: the state machine that
// decides when to resolve credentials, dial, authenticate, subscribe,
// resume, refresh, back off, drain and close, without doing any of it.
//
// The lifecycle is one declarative table ([Table]) of states, triggers and
// named guards. It configures a github.com/qmuntal/stateless machine and is
// the only source of the diagrams ([Mermaid], [DOT]):
//
//	Unauthed → Authed{Connecting, Backoff} → Connected{Live} → Draining → Closed
//
// The engine is a deterministic function of its inputs:
//
//	effects, err := engine.Step(now, input)
//
// Inputs are application commands ([Subscribe], [Query], [Drain] …) and the
// results of effects ([Dialed], [FrameReceived], [CredentialsResolved],
// [TimerFired] …). Effects are work for a driver ([Dial], [Send],
// [HTTPQuery], [SetTimer] …) and news for the application ([Deliver],
// [StateChanged], [QueryDone] …). Time comes in as now; jitter comes from a
// seeded source. The same inputs always produce the same effects, which is
// what lets the same engine run natively, in the browser and inside wazero,
// and be simulated from a seed.
//
// Rules the engine enforces:
//   - no subscription reaches the wire without a valid token and a namespace
//     (guards hasValidToken and hasNamespace on Connected → Live);
//   - a refresh is a timer at exp − margin; at most one credential
//     resolution is in flight; a token the server refused (auth_error or
//     1008 on the socket, 401 over HTTP: trigger TokenRefused) is never
//     presented again, not even by a dial already in flight: the work waits
//     for the provider's new token (guard canRefresh) or, when only the
//     application can bring one (cannotRefresh), fails at once with
//     ErrCredentialsRejected; repeated refusals back off instead of looping;
//   - frames, pings and closes of an earlier connection epoch are ignored, and
//     no frame is ever sent on one;
//   - per subscription, delivered _seq values strictly increase: replays at
//     or below the position are dropped, and a resume asks for rows after it;
//   - Closed is terminal, and a drain always ends by its deadline;
//   - every text frame goes through one pacer under the server's rate
//     (Config.FrameRate); RATE_LIMIT_EXCEEDED halves the rate and re-sends
//     what was not answered; a subscription is acknowledged within
//     Config.AckTimeout or retried, then ended with ErrSubscribeTimeout;
//     each resubscribe on a socket uses a new wire id, so nothing of an
//     earlier incarnation passes for the new one's;
//   - whatever the server may have dropped (a pause, a reconnect, a burst
//     of changes long enough to fill its 128-entry outgoing queue, a
//     load's flush of half that many, a change arriving late because the
//     server's queue backed up) is replayed by a catch-up: a
//     resubscribe from the last delivered _seq, repeated while replays
//     bring rows, and reported as EventResumed with ContinuityNoDeletes
//     (deletes are never replayed), or ContinuityBroken with a *GapError
//     when nothing can be replayed.
//
// # Concurrency
//
// An Engine is not safe for concurrent use. One goroutine, the driver's
// loop, owns it and is the only caller of Step (stateless's firing modes
// are not meant for concurrent callers either).
//
// # Wasm
//
// The package builds for js/wasm and wasip1/wasm. It does no I/O, so the
// same code runs under every driver; it must not import wazero.
package fsm
