//go:build js && wasm

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall/js"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
)

var (
	jsObject  = js.Global().Get("Object")
	jsPromise = js.Global().Get("Promise")
	jsError   = js.Global().Get("Error")
)

// promise runs fn on a new goroutine and returns a Promise of its result.
// The executor runs synchronously inside Promise's constructor, so the
// js.Func can be released as soon as the Promise exists.
func promise(fn func() (any, error)) js.Value {
	exec := js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			v, err := fn()
			if err != nil {
				reject.Invoke(toJSError(err))
				return
			}
			resolve.Invoke(v)
		}()
		return nil
	})
	defer exec.Release()
	return jsPromise.New(exec)
}

// callJS invokes a JavaScript callback and keeps an exception it throws
// from crashing the Go program: the exception is reported on the console.
func callJS(fn js.Value, args ...any) {
	if fn.Type() != js.TypeFunction {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "kalam: a JavaScript callback threw: %v\n", r)
		}
	}()
	fn.Invoke(args...)
}

// awaitJS settles a JavaScript value that may be a Promise. It must be
// called from a goroutine other than an event handler's: it waits for the
// event loop to run the Promise's reactions.
func awaitJS(ctx context.Context, v js.Value) (js.Value, error) {
	type settled struct {
		v   js.Value
		err error
	}
	ch := make(chan settled, 1)
	var onOK, onErr js.Func
	release := func() { onOK.Release(); onErr.Release() }
	onOK = js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- settled{v: arg(args, 0)}
		release()
		return nil
	})
	onErr = js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- settled{err: fromJSError(arg(args, 0))}
		release()
		return nil
	})
	jsPromise.Call("resolve", v).Call("then", onOK, onErr)
	select {
	case s := <-ch:
		return s.v, s.err
	case <-ctx.Done():
		return js.Undefined(), ctx.Err()
	}
}

func arg(args []js.Value, i int) js.Value {
	if i < len(args) {
		return args[i]
	}
	return js.Undefined()
}

// invokeSafely calls fn and turns a JavaScript exception into an error.
func invokeSafely(fn js.Value, args ...any) (v js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			if je, ok := r.(js.Error); ok {
				err = fromJSError(je.Value)
				return
			}
			err = fmt.Errorf("%v", r)
		}
	}()
	return fn.Invoke(args...), nil
}

// jsCallbackError is an exception or rejection from application code.
type jsCallbackError struct{ msg string }

func (e *jsCallbackError) Error() string { return e.msg }

func fromJSError(v js.Value) error {
	switch v.Type() {
	case js.TypeObject:
		if m := v.Get("message"); m.Type() == js.TypeString {
			return &jsCallbackError{msg: m.String()}
		}
		return &jsCallbackError{msg: v.Call("toString").String()}
	case js.TypeString:
		return &jsCallbackError{msg: v.String()}
	}
	return &jsCallbackError{msg: "rejected with " + v.Type().String()}
}

// codes maps the client's sentinel errors to the stable code a JavaScript
// Error carries. The codes are part of the API (see index.d.ts).
var codes = []struct {
	err  error
	code string
}{
	{kalam.ErrClosed, "CLOSED"},
	{kalam.ErrDraining, "DRAINING"},
	{kalam.ErrNoCredentials, "NO_CREDENTIALS"},
	{kalam.ErrNoNamespace, "NO_NAMESPACE"},
	{kalam.ErrInvalidNamespace, "INVALID_NAMESPACE"},
	{kalam.ErrEmptySQL, "EMPTY_SQL"},
	{kalam.ErrUnknownSubscription, "UNKNOWN_SUBSCRIPTION"},
	{kalam.ErrDrainTimeout, "DRAIN_TIMEOUT"},
	{kalam.ErrCredentialsRejected, "CREDENTIALS_REJECTED"},
	{kalam.ErrDeadLink, "DEAD_LINK"},
	{kalam.ErrConnectTimeout, "CONNECT_TIMEOUT"},
	{kalam.ErrProtocol, "PROTOCOL"},
	{kalam.ErrInvalidSubscriptionID, "INVALID_SUBSCRIPTION_ID"},
	{kalam.ErrSubscribeTimeout, "SUBSCRIBE_TIMEOUT"},
	{kalam.ErrGap, "GAP"},
	{kalam.ErrGaveUp, "GAVE_UP"},
	{kalam.ErrInvalidConfig, "INVALID_CONFIG"},
	{kalam.ErrNoKey, "NO_KEY"},
	{kalam.ErrViewTooLarge, "VIEW_TOO_LARGE"},
	{auth.ErrRejected, "CREDENTIALS_REJECTED"},
	{auth.ErrTokenExpired, "TOKEN_EXPIRED"},
	{auth.ErrMalformedToken, "MALFORMED_TOKEN"},
	{auth.ErrNoCredentials, "NO_CREDENTIALS"},
	{context.DeadlineExceeded, "TIMEOUT"},
	{context.Canceled, "ABORTED"},
}

// errorCode names err for JavaScript.
func errorCode(err error) string {
	if errors.Is(err, kalam.ErrSubscriptionLimit) {
		return "SUBSCRIPTION_LIMIT" // a *ServerError, more precisely named
	}
	var qe *kalam.QueryError
	if errors.As(err, &qe) {
		return "QUERY"
	}
	var se *kalam.ServerError
	if errors.As(err, &se) {
		return "SERVER"
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	var te *kalam.TransitionError
	if errors.As(err, &te) {
		return "REFUSED" // a refusal no sentinel above names
	}
	var ce *jsCallbackError
	if errors.As(err, &ce) {
		return "CALLBACK"
	}
	var ae *configError
	if errors.As(err, &ae) {
		return "INVALID_CONFIG"
	}
	return "INTERNAL"
}

// toJSError builds a JavaScript Error with a stable code and, for server
// answers, the status and the server's own error code. Error texts never
// hold a token or a password (the client scrubs them).
func toJSError(err error) js.Value {
	e := jsError.New(err.Error())
	e.Set("name", "KalamError")
	e.Set("code", errorCode(err))
	var qe *kalam.QueryError
	if errors.As(err, &qe) {
		e.Set("status", qe.Status)
		e.Set("serverCode", qe.Code)
		e.Set("temporary", qe.Temporary)
	}
	var se *kalam.ServerError
	if errors.As(err, &se) {
		e.Set("serverCode", se.Code)
		e.Set("subscription", se.Subscription)
	}
	var te *kalam.TransitionError
	if errors.As(err, &te) {
		e.Set("state", te.From.String())
		e.Set("trigger", te.Trigger.String())
		e.Set("guard", te.Guard)
	}
	var de *drainError
	if errors.As(err, &de) {
		e.Set("outcome", js.Global().Get("JSON").Call("parse", de.outcome))
	}
	return e
}

// configError reports a bad value in the JavaScript configuration.
type configError struct{ field, reason string }

func (e *configError) Error() string { return "kalam: config " + e.field + ": " + e.reason }

// methods builds a plain object of Go functions. The functions live until
// JavaScript calls the object's dispose() (bindings/js does once a
// subscription or a view is closed and it has dropped the object), or for
// the program's life.
type methods struct {
	obj      js.Value
	names    []string
	funcs    []js.Func
	released atomic.Bool
}

// liveMethods counts the method objects not yet disposed: a diagnostic
// (__kalamgo.liveHandles()) that the browser tests use to show closed
// subscriptions leave nothing behind.
var liveMethods atomic.Int64

func newMethods() *methods {
	m := &methods{obj: jsObject.New()}
	liveMethods.Add(1)
	m.set("dispose", func([]js.Value) any { m.release(); return nil })
	return m
}

func (m *methods) set(name string, fn func(args []js.Value) any) {
	f := js.FuncOf(func(_ js.Value, args []js.Value) any { return fn(args) })
	m.names = append(m.names, name)
	m.funcs = append(m.funcs, f)
	m.obj.Set(name, f)
}

// release frees the functions. Calling a released one would be a fatal
// error of the Go runtime, so the object's properties are deleted first: a
// late call through the object is a plain TypeError. bindings/js drops its
// reference before it calls dispose, so it makes none.
func (m *methods) release() {
	if m.released.Swap(true) {
		return
	}
	liveMethods.Add(-1)
	for _, name := range m.names {
		m.obj.Delete(name)
	}
	for _, f := range m.funcs {
		f.Release() // allowed for the dispose function while it runs
	}
	m.funcs = nil
}
