//go:build js

package jsnet

import (
	"context"
	"slices"
	"syscall/js"
)

// Request is one HTTP request for Fetch.
type Request struct {
	Method string
	URL    string
	Header [][2]string // name, value
	Body   []byte      // nil: no body
	// Limit gives, for the response's status, how many body bytes to read;
	// the rest is not read.
	Limit func(status int) int64
}

// Response is a complete response, its body read up to Request.Limit.
type Response struct {
	Status int
	header js.Value // a Headers object
	Body   []byte
	// TooLarge is set when the body was longer than the limit; Body then
	// holds the first limit bytes.
	TooLarge bool
}

// Header returns the value of the named header ("" when absent).
func (r *Response) Header(name string) string {
	v := r.header.Call("get", name)
	if v.Type() != js.TypeString {
		return ""
	}
	return v.String()
}

// Fetch performs req with the platform's fetch. Redirects are refused (a
// redirect would resend the Authorization header to wherever it points);
// cookies follow fetch's default (same origin only). ctx aborts the request
// and the body read.
func Fetch(ctx context.Context, req Request) (*Response, error) {
	fetch := js.Global().Get("fetch")
	if fetch.Type() != js.TypeFunction {
		return nil, &JSError{Op: "fetch", Message: "this JavaScript environment has no fetch"}
	}
	ac := js.Global().Get("AbortController").New()
	abort := func() { ac.Call("abort") }

	headers := js.Global().Get("Headers").New()
	for _, h := range req.Header {
		headers.Call("set", h[0], h[1])
	}
	opts := js.Global().Get("Object").New()
	opts.Set("method", req.Method)
	opts.Set("headers", headers)
	opts.Set("redirect", "error")
	opts.Set("signal", ac.Get("signal"))
	if req.Body != nil {
		u8 := js.Global().Get("Uint8Array").New(len(req.Body))
		js.CopyBytesToJS(u8, req.Body)
		opts.Set("body", u8)
	}
	promise, err := catchCall("fetch", func() js.Value { return fetch.Invoke(req.URL, opts) })
	if err != nil {
		return nil, err
	}
	resp, err := await(ctx, "fetch", promise, abort)
	if err != nil {
		return nil, err
	}
	out := &Response{Status: resp.Get("status").Int(), header: resp.Get("headers")}
	out.Body, out.TooLarge, err = readBody(ctx, resp, req.Limit(out.Status), abort)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readBody reads a response body chunk by chunk and stops after limit
// bytes, so a huge body is never held whole.
func readBody(ctx context.Context, resp js.Value, limit int64, abort func()) ([]byte, bool, error) {
	stream := resp.Get("body")
	if stream.Type() != js.TypeObject { // no body (204, HEAD)
		return nil, false, nil
	}
	return readStream(ctx, "read body", stream, limit, abort)
}

// readStream reads a ReadableStream of Uint8Array chunks, at most limit
// bytes; tooLarge reports that there was more, and the stream is then
// cancelled.
func readStream(ctx context.Context, op string, stream js.Value, limit int64, abort func()) (body []byte, tooLarge bool, err error) {
	reader, err := catchCall(op, func() js.Value { return stream.Call("getReader") })
	if err != nil {
		return nil, false, err
	}
	if abort == nil {
		abort = func() { reader.Call("cancel") }
	}
	for {
		chunk, err := await(ctx, op, reader.Call("read"), abort)
		if err != nil {
			return nil, false, err
		}
		if chunk.Get("done").Bool() {
			return body, false, nil
		}
		u8 := chunk.Get("value")
		n := u8.Get("byteLength").Int()
		over := int64(len(body)+n) > limit
		if over {
			n = int(limit) - len(body)
			u8 = u8.Call("subarray", 0, n)
		}
		start := len(body)
		body = slices.Grow(body, n)[:start+n]
		js.CopyBytesToGo(body[start:], u8)
		if over {
			reader.Call("cancel")
			return body, true, nil
		}
	}
}
