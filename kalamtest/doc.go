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
// # Differences from KalamDB
//
// kalamtest serves JSON only: MessagePack (serialization=msgpack) is
// refused with close 1011. Multipart requests (FILE columns), topics,
// file downloads, cluster health, per-IP rate limits, account lockout and
// OIDC are not implemented. Where KalamDB drops change notifications for a
// slow connection, kalamtest closes the connection by default (see
// Config.Overflow), so a client test cannot lose events silently.
//
// # Concurrency
//
// A Server's methods are safe for concurrent use. Every connection has a
// reader (the handler goroutine) and a writer goroutine; one hub goroutine
// routes committed changes, in commit order, to subscriptions. Writers of
// rows never wait for a connection: the store's commit hook only appends to
// the hub's queue, and a full connection queue is handled by the overflow
// policy rather than by blocking. Close and Shutdown wait for every
// goroutine the server started.
//
// # Wasm
//
// kalamtest is a native package: it listens on TCP sockets and does not
// build for js/wasm or wasip1. Clients built for those targets test against
// a kalamtest server running natively (for example `kalam serve`).
package kalamtest
