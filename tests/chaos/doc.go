// Package chaos holds the proxied chaos suite: the 33 scenarios of
// docs/RELIABILITY.md, run against a kalamtest server with the subscriber
// behind a fault-injecting TCP proxy (kalamtest/faultproxy) and the writer
// acting on the server directly.
//
// Every scenario is a subtest of TestChaos named after its number in the
// catalogue (S01_…, S33_…) and holds the strict bar: per subscription the
// delivered _seq values strictly increase, the delivered row ids are exactly
// the expected multiset, nothing delivered before a fault is delivered again,
// and connection counters are exact where the catalogue says so. There are
// no retries. With -v the suite prints the resume time of every scenario
// that restores a fault; BenchmarkResumeAfterDrop reports p50 and p99.
//
// The subscriber is pluggable: a driver adjusts the client's Config (the
// wazero host swaps in its engine), and scenario 33 runs the browser build
// through the browserSubscriber hook. The package has tests only.
package chaos
