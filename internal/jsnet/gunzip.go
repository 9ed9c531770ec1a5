//go:build js

package jsnet

import (
	"context"
	"syscall/js"
)

// Gunzip inflates a gzip stream with the platform's DecompressionStream,
// reading at most limit bytes of output: tooLarge reports that there was
// more (the rest is never inflated). A corrupt stream gives a *JSError.
//
// It waits for promises, so it must not run on the JavaScript event loop
// (a js.FuncOf callback); the client calls it from its socket reader.
func Gunzip(ctx context.Context, data []byte, limit int64) (out []byte, tooLarge bool, err error) {
	ds := js.Global().Get("DecompressionStream")
	if ds.Type() != js.TypeFunction {
		return nil, false, &JSError{Op: "gunzip", Message: "this JavaScript environment has no DecompressionStream"}
	}
	u8 := js.Global().Get("Uint8Array").New(len(data))
	js.CopyBytesToJS(u8, data)
	stream, err := catchCall("gunzip", func() js.Value {
		blob := js.Global().Get("Blob").New([]any{u8})
		return blob.Call("stream").Call("pipeThrough", ds.New("gzip"))
	})
	if err != nil {
		return nil, false, err
	}
	return readStream(ctx, "gunzip", stream, limit, nil)
}
