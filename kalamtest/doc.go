// Package kalamtest runs a KalamDB-compatible server in-process, for tests,
// examples, the demo and local development (`kalam serve`).
//
// It speaks KalamDB's wire protocol as the project's PROTOCOL.md describes
// it: SQL over HTTP (POST /v1/api/sql, with both success layouts and every
// error envelope, TOKEN_EXPIRED included), login/refresh/logout/me/setup
// with HS256 JWTs and cookies, the loopback-only health endpoints, and the
// WebSocket at /v1/ws with both authentication paths, subscriptions with
// batched initial loads, next_batch paging, resume with options.from,
// change notifications, gzip binary frames from 512 bytes, rate limits and
// KalamDB's timeouts and close codes. Data lives in an embedded SQLite
// database, so WHERE clauses, types and live filters behave like a
// database.
//
// In a test:
//
//	srv := kalamtest.NewServer(t, kalamtest.Config{
//		Users: []kalamtest.User{{Name: "alice", Password: "Secret123!"}},
//	})
//	// srv.URL, srv.WSURL(); write rows with srv.Exec(ctx, "alice", "INSERT …")
//
// # Faults
//
// A Server can misbehave on purpose: SetTokenTTL, ExpireAllTokens,
// ExpireAccessTokens, RevokeUser, DropConnections (no close frame),
// CloseConnections (a chosen close code), PauseAccepting/ResumeAccepting
// (connections refused) and Restart (every socket drops, data and tokens
// survive, same address). The same faults are served over HTTP under
// /_kalamtest/ for loopback callers that send Server.AdminToken, see
// Server.adminRoutes' list in admin.go and docs/SECURITY.md. Connections,
// Subscriptions and Stats let a test observe the server's side.
//
// # KalamDB's limits
//
// By default kalamtest applies KalamDB's limits, so a client test meets
// the losses a real server inflicts (PROTOCOL.md §4.3, §4.6, §4.9):
//
//   - each connection's outgoing queue holds 128 change notifications
//     (Config.OutgoingQueue); a change that finds it full is dropped and
//     the client is not told (Config.Overflow). Acks, batches and errors
//     are never dropped;
//   - a subscription whose initial load is running buffers at most 1,024
//     newer changes, dropping the oldest (Config.LoadingBuffer); they are
//     flushed in _seq order after the last batch, through the same
//     128-change queue, so a large flush loses its tail;
//   - 50 client text frames per second per connection, as a token bucket
//     that pings drain too (Config.MaxMessagesPerSec); an excess frame is
//     dropped and answered with the rate_limit RATE_LIMIT_EXCEEDED error;
//   - 100 subscriptions per connection (UNSUPPORTED) and 100 per user over
//     all connections (SUBSCRIPTION_LIMIT_EXCEEDED; KalamDB's code default
//     is 10, its sample server.toml 100).
//
// Each is a Config field whose zero value is KalamDB's, and a negative
// value turns it off; `kalam serve` has a flag for each. Every dropped
// change is counted per connection and per subscription with its _seq,
// and every refused frame per connection: Server.Drops, or GET
// /_kalamtest/drops, tells a test what a client must have repaired or
// reported.
//
// # Differences from KalamDB
//
// kalamtest serves JSON only: MessagePack (serialization=msgpack) is
// refused with close 1011. Multipart requests (FILE columns), topics,
// file downloads, cluster health, per-IP rate limits, account lockout and
// OIDC are not implemented. KalamDB's per-user subscription counter can
// drift (PROTOCOL.md §9 item 19); kalamtest's is exact.
//
// # Concurrency
//
// A Server's methods are safe for concurrent use. Every connection has a
// reader (the handler goroutine) and a writer goroutine; one hub goroutine
// routes committed changes, in commit order, to subscriptions. Writers of
// rows never wait for a connection: the store's commit hook only appends to
// the hub's queue, and a full connection queue drops (or closes, see
// Config.Overflow) rather than blocks. Close and Shutdown wait for every
// goroutine the server started.
//
// # Wasm
//
// kalamtest is a native package: it listens on TCP sockets and does not
// build for js/wasm or wasip1. Clients built for those targets test against
// a kalamtest server running natively (for example `kalam serve`).
package kalamtest
