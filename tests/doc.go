// Package tests holds kalam's heavy suites in their own module, so that
// their tools never become dependencies of the library: chaos scenarios
// through a fault-injecting proxy, deterministic simulation, and browser
// end-to-end tests.
package tests
