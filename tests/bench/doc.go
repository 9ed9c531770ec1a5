// Package bench holds the client benchmarks of `make bench`: live events per
// second, insert-to-event latency, resume time after a socket drop, the
// reconnect spread of many clients after a server restart, the heap held by
// idle subscriptions and clients, and topic messages per second through one
// consumer, each next to a reference measured in the
// same run (a plain coder/websocket + encoding/json loop on the same stream,
// or the configured backoff).
//
// The server is kalamtest. Benchmarks that read the heap or count events run
// it in a child process (this test binary, started again with
// KALAM_BENCH_SERVER=1), so that only the client's memory and CPU are in the
// figures; benchmarks that inject faults run it in-process to call its fault
// hooks directly.
//
// Run them with the harness (`make bench`), or alone:
//
//	cd tests && go test -run '^$' -bench . -benchtime 1x -count 3 ./bench
package bench
