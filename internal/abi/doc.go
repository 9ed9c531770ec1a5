// Package abi is the contract between kalam's engine compiled to a wasip1
// reactor (wasm/engine) and the hosts that drive it (bindings/wazero, or any
// WASI runtime): export names, the binary encodings of fsm inputs, effects
// and errors, the response status codes and pointer/length packing. Guest
// and host both import it, so they cannot drift apart. docs/ABI.md
// describes the same contract for hosts written in other languages.
//
// Decoding never panics and never trusts a length: every read is
// bounds-checked, list counts are bounded by the bytes left, error chains by
// a depth limit, and each failure is an *Error carrying a Code.
package abi
