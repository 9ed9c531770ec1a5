// Package wire holds KalamDB's wire messages and their codec: the WebSocket
// messages of both directions and the JSON bodies of the HTTP API.
//
// The shapes follow KalamDB's server code, not its prose documentation (see
// PROTOCOL.md in the project's shared notes). Three details matter most:
//
//   - A SeqID is an int64 Snowflake above 2^53. In protocol fields
//     (batch_control.last_seq_id, options.from, next_batch.last_seq_id) it is a
//     JSON number; inside row data (the _seq cell) it is a JSON string. Neither
//     ever passes through float64 here.
//   - Frames from the server are JSON text, or gzip-compressed JSON in binary
//     frames (magic 1f 8b). Decompression is capped (see [Decoder]).
//   - Rows stay as raw JSON objects ([Row]) until someone needs a cell: the
//     engine only reads _seq, and typed decoding happens on the consumer's side.
//
// # Decoding speed
//
// [DecodeServer] reads live changes, initial batches and errors with a strict,
// reflection-free scanner, one pass over the payload and one copy of the row
// bytes; any other shape (an unknown or differently cased key, a null, a
// duplicate key, invalid JSON) goes through encoding/json instead. The two paths
// give the same message and the same error for every input: the fuzz target
// FuzzDecodeServerMatchesStd checks exactly that. This matters most under wasm,
// where encoding/json's reflection is an order of magnitude slower than native.
//
// # Concurrency
//
// Message values are plain data. A [Decoder] is not safe for concurrent use;
// give each reader its own.
//
// # Wasm
//
// The package builds for js/wasm and wasip1/wasm and imports nothing beyond the
// standard library.
package wire
