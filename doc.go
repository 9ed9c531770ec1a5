// Package kalam is an auth-aware realtime client for KalamDB: SQL over HTTP,
// live subscriptions over one WebSocket, and the credentials both need,
// driven by one explicit lifecycle.
//
//	Unauthed → Authed{Connecting, Backoff} → Connected{Live} → Draining → Closed
//
// Build one Client per server at start-up and share it:
//
//	c, err := kalam.New(kalam.Config{
//		URL:       "https://db.example.com",
//		Auth:      auth.Basic("alice", password),
//		Namespace: "app",
//	})
//	defer c.Close()
//
//	res, err := c.Query(ctx, "SELECT id, status FROM orders WHERE status = $1", "open")
//
//	sub, err := c.Live(ctx, "SELECT * FROM orders WHERE status = 'open'", kalam.LiveOptions{})
//	for ev, err := range sub.Events(ctx) {
//		if err != nil { … }
//		// ev.Kind: snapshot batch, insert, update, delete, resumed
//	}
//
// The client resolves credentials through its auth.Provider, refreshes them
// before they expire (and when the server says TOKEN_EXPIRED, retrying the
// query once), opens the socket only when something needs it (or at once with
// Config.EagerConnect), and starts a live query only once credentials and a
// namespace are known: a live query without them fails with ErrNoCredentials
// or ErrNoNamespace before anything is sent. When the network drops it
// redials with jittered backoff and resumes every subscription from the last
// _seq it delivered, dropping replays, so inserts and updates arrive exactly
// once and in order. KalamDB does not replay deletes made during an outage:
// a resumed subscription reports it (EventResumed with its Continuity), and
// LiveRows reloads so that it always equals what a fresh SELECT returns.
//
// Drain shuts down gracefully (queries in flight and initial loads finish,
// by a deadline, with an outcome); Close shuts down at once.
//
// Client.Consumer reads a topic as a member of a consumer group, over HTTP
// only: its requests go through the engine like queries (credentials guard,
// refresh and retry once on TOKEN_EXPIRED), delivery is at least once, and
// a commit covers only what MarkProcessed recorded.
//
// The lifecycle itself lives in package fsm, a sans-I/O engine; this package
// is its native driver. State reports the current state and
// Config.OnStateChange every transition.
//
// # Concurrency
//
// All Client methods are safe for concurrent use. One goroutine owns the
// engine; sockets, HTTP requests, timers and the auth provider run in
// goroutines that report back to it, so a slow consumer, a slow provider or
// a slow query never stalls the keepalive or another subscription. The
// socket is read at network speed whatever the consumers do; each
// subscription buffers up to Config.BufferBytes (16 MiB by default) of
// events, and only a consumer a whole buffer behind pauses its
// subscription, which resumes from its last buffered row once the consumer
// catches up, so memory stays bounded and nothing is lost.
// Callbacks (OnStateChange, OnConnection, OnError) run in order on a
// goroutine the client owns and may call the client. Close and Drain stop
// every goroutine the client started.
//
// # Wasm
//
// The package builds for GOOS=js GOARCH=wasm. There the socket is the
// browser's own WebSocket and HTTP goes through fetch, both reached through
// syscall/js (internal/jsnet); coder/websocket and net/http are not linked,
// which keeps the .wasm under 1 MB brotli, so Config.HTTPClient is a
// placeholder in that build. Gzip frames are inflated by the browser's
// DecompressionStream before the engine sees them. wasm/browser wraps
// it for JavaScript and bindings/js is the ESM package around that (make
// wasm builds it). Browsers cannot send WebSocket Ping frames, so there the
// keepalive is KalamDB's {"type":"ping"} message, counted as answered once
// handed to the socket (KalamDB does not reply to it): a lost socket shows
// up through the browser's close event, and Client.NetworkChanged and
// Client.Wake let the page report going offline and coming back from a
// hidden tab.
//
// The engine alone (package fsm) also builds for wasip1: wasm/engine is that
// build as a reactor module, and bindings/wazero hosts it in wazero behind
// Config.Engine, so a client whose engine runs in the sandbox keeps this
// package's API, executors and errors. docs/ABI.md describes the module for
// hosts in other languages.
package kalam
