//go:build js

package wire

// inflater is empty in the browser build: compress/flate and compress/gzip
// are not linked there (about 20 KB of the .wasm). The browser inflates
// instead: the client's socket adapter passes gzip frames through the
// platform's DecompressionStream before they reach the engine, so a gzip
// frame that gets here was not meant to.
type inflater struct{}

func (*inflater) inflate([]byte, int64) ([]byte, error) {
	return nil, &DecodeError{Reason: "gzip frame: the browser build inflates frames in its socket adapter, not in the decoder"}
}
