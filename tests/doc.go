// Package tests holds kalam's heavy suites in their own module, so that
// their tools never become dependencies of the library: chaos scenarios
// through a fault-injecting proxy, deterministic simulation, browser
// end-to-end tests, the kalam command's shell on a pseudo-terminal, and
// the engine module on a second WASI runtime (Node's node:wasi,
// tests/nodewasi).
package tests
