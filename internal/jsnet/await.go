//go:build js

package jsnet

import (
	"context"
	"errors"
	"syscall/js"
)

// JSError is an exception or rejection value from the platform, as text. The
// text is the JavaScript error's name and message; neither ever holds a
// request's headers or body.
type JSError struct {
	Op      string // what was being done: "fetch", "read body", "WebSocket"
	Message string
}

func (e *JSError) Error() string { return "jsnet: " + e.Op + ": " + e.Message }

// jsErrorText describes a thrown or rejected value.
func jsErrorText(v js.Value) string {
	switch v.Type() {
	case js.TypeObject:
		name, msg := v.Get("name"), v.Get("message")
		if msg.Type() == js.TypeString {
			if name.Type() == js.TypeString && name.String() != "" {
				return name.String() + ": " + msg.String()
			}
			return msg.String()
		}
	case js.TypeString:
		return v.String()
	}
	return v.Type().String()
}

// await waits for a promise. If ctx ends first, abort (which may be nil) runs
// and the context's error is returned once the promise settles or at once,
// whichever comes first; the promise's late result is dropped.
func await(ctx context.Context, op string, promise js.Value, abort func()) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	then := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{v: arg0(args)}
		return nil
	})
	catch := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{err: &JSError{Op: op, Message: jsErrorText(arg0(args))}}
		return nil
	})
	promise.Call("then", then, catch)
	release := func() { then.Release(); catch.Release() }
	select {
	case r := <-ch:
		release()
		return r.v, r.err
	case <-ctx.Done():
		if abort != nil {
			abort()
		}
		// Release the callbacks once the promise settles: a released
		// js.Func called later is a fatal error in the Go runtime.
		go func() { <-ch; release() }()
		return js.Undefined(), context.Cause(ctx)
	}
}

func arg0(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}

// catchCall calls fn and turns a JavaScript exception into an error.
func catchCall(op string, fn func() js.Value) (v js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			var jerr js.Error
			if e, ok := r.(error); ok && errors.As(e, &jerr) {
				err = &JSError{Op: op, Message: jsErrorText(jerr.Value)}
				return
			}
			panic(r)
		}
	}()
	return fn(), nil
}
