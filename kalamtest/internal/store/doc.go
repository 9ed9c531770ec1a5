// Package store gives kalamtest KalamDB's SQL semantics on top of an embedded
// SQLite database (work in progress).
package store
