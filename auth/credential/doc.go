// Package credential holds the credential types the lifecycle engine works
// with — Credentials, Secret, Reason — and the sentinel errors that travel
// with them. It imports only small parts of the standard library (and no
// log/slog on wasip1, see LogValue), so the engine (package fsm) and its
// WebAssembly builds stay small:
// the providers, the JWT reader and their crypto live in package auth,
// which re-exports everything here under the same names.
//
// Error texts and the printed forms keep the "auth:" prefix and the
// "auth.Credentials" / "auth.Secret" spellings: the types are auth's to the
// user, this package only keeps them apart from auth's dependencies.
package credential
