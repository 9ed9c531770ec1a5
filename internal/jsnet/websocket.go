//go:build js

package jsnet

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"syscall/js"
	"time"
)

// CloseError is how a socket ended: the close frame's code and reason, or
// 1006 (abnormal) when it died without one or was dropped locally.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	s := "jsnet: WebSocket closed with " + strconv.Itoa(e.Code)
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	return s
}

// closeAbnormal is the code of a socket that ended without a close frame.
const closeAbnormal = 1006

// closeWait bounds how long Close waits for the browser's close event.
const closeWait = 5 * time.Second

// ErrClosed is returned by Write after the socket has been closed.
var ErrClosed = errors.New("jsnet: WebSocket is closed")

// Message is one received WebSocket message.
type Message struct {
	Binary bool
	Data   []byte
}

// Conn is a browser WebSocket. Read and Write may be called from different
// goroutines; Close and CloseNow from any.
type Conn struct {
	ws    js.Value
	funcs []js.Func

	// Messages that arrive in a burst skip Go: after the first one, the
	// Go handler gives way to inbox.push (a bound built-in, no Go at
	// all) and a task is queued behind the messages already waiting,
	// whose Go callback (wake) takes the whole inbox at once and puts the
	// Go handler back. Each call from JavaScript into Go is an event the
	// Go scheduler handles, so a burst costs two of them rather than one
	// per message. The task is a MessageChannel message, which browsers
	// do not throttle in hidden tabs as they do timers; setTimeout where
	// there is no MessageChannel.
	onMsg   js.Func  // the Go handler: the first message of a burst
	wake    js.Func  // the queued task's callback
	inbox   js.Value // MessageEvents waiting for wake
	push    js.Value // inbox.push bound to inbox
	port    js.Value // MessageChannel: wake listens on port1, port2 queues the task; undefined without
	timer   js.Value // setTimeout's id while one is pending; undefined otherwise
	batched bool     // inbox.push is the message handler

	mu     sync.Mutex
	queue  []Message   // received, not yet read
	closed *CloseError // set once: the close event, or CloseNow
	signal chan struct{}
	done   chan struct{} // closed when closed is set
	// released is set once the callbacks are released; events after that
	// are impossible because the handlers are detached first.
	released bool
}

// Dial opens a WebSocket to url ("ws://" or "wss://") and waits for it to
// open, fail, or ctx to end.
func Dial(ctx context.Context, url string) (*Conn, error) {
	ctor := js.Global().Get("WebSocket")
	if ctor.Type() != js.TypeFunction {
		return nil, &JSError{Op: "WebSocket", Message: "this JavaScript environment has no WebSocket (Node 20 needs --experimental-websocket)"}
	}
	ws, err := catchCall("WebSocket", func() js.Value { return ctor.New(url) })
	if err != nil {
		return nil, err
	}
	ws.Set("binaryType", "arraybuffer")
	c := &Conn{ws: ws, signal: make(chan struct{}, 1), done: make(chan struct{})}
	opened := make(chan struct{})
	c.on("open", func(js.Value) { close(opened) })
	c.inbox = js.Global().Get("Array").New()
	c.push = c.inbox.Get("push").Call("bind", c.inbox)
	c.timer = js.Undefined()
	c.on("message", c.onMessage)
	c.onMsg = c.funcs[len(c.funcs)-1]
	c.wake = js.FuncOf(func(js.Value, []js.Value) any {
		c.timer = js.Undefined()
		c.unbatch()
		return nil
	})
	c.port = js.Undefined()
	if mc := js.Global().Get("MessageChannel"); mc.Type() == js.TypeFunction {
		c.port = mc.New()
		c.port.Get("port1").Set("onmessage", c.wake)
	}
	c.on("close", func(ev js.Value) {
		code, reason := closeAbnormal, ""
		if v := ev.Get("code"); v.Type() == js.TypeNumber {
			code = v.Int()
		}
		if v := ev.Get("reason"); v.Type() == js.TypeString {
			reason = v.String()
		}
		c.unbatch() // the messages before the close are read first
		c.finish(&CloseError{Code: code, Reason: reason})
	})
	// The standard says an error event is followed by a close event, which
	// would say more, but Node's WebSocket fires only the error when a dial
	// is refused. Either way the socket failed without a close frame: 1006.
	c.on("error", func(js.Value) {
		c.unbatch()
		c.finish(&CloseError{Code: closeAbnormal})
	})

	select {
	case <-opened:
		return c, nil
	case <-c.done:
		c.release()
		return nil, c.closed
	case <-ctx.Done():
		c.CloseNow() // releases the callbacks too
		return nil, context.Cause(ctx)
	}
}

// on attaches a handler. Handlers run on the JavaScript event loop and must
// not block.
func (c *Conn) on(event string, fn func(js.Value)) {
	f := js.FuncOf(func(_ js.Value, args []js.Value) any {
		fn(arg0(args))
		return nil
	})
	c.funcs = append(c.funcs, f)
	c.ws.Set("on"+event, f)
}

// onMessage takes the first message of a burst: it queues it for Read
// and makes inbox.push the handler until wake runs.
func (c *Conn) onMessage(ev js.Value) {
	c.enqueue(ev)
	if c.isReleased() {
		return
	}
	c.ws.Set("onmessage", c.push)
	c.batched = true
	if c.port.IsUndefined() {
		c.timer = js.Global().Call("setTimeout", c.wake, 0)
	} else {
		c.port.Get("port2").Call("postMessage", nil)
	}
	c.notify()
}

// unbatch queues the messages inbox.push collected, in order, and puts the
// Go handler back.
func (c *Conn) unbatch() {
	if !c.batched {
		return
	}
	c.batched = false
	if n := c.inbox.Length(); n > 0 {
		for i := range n {
			c.enqueue(c.inbox.Index(i))
		}
		c.inbox.Set("length", 0)
		c.notify()
	}
	if !c.isReleased() {
		c.ws.Set("onmessage", c.onMsg.Value)
	}
}

// enqueue copies one MessageEvent's data into the read queue.
func (c *Conn) enqueue(ev js.Value) {
	data := ev.Get("data")
	var m Message
	if data.Type() == js.TypeString {
		m.Data = []byte(data.String())
	} else {
		// binaryType is "arraybuffer".
		u8 := js.Global().Get("Uint8Array").New(data)
		m.Binary = true
		m.Data = make([]byte, u8.Get("byteLength").Int())
		js.CopyBytesToGo(m.Data, u8)
	}
	c.mu.Lock()
	if c.closed == nil {
		c.queue = append(c.queue, m)
	}
	c.mu.Unlock()
}

func (c *Conn) isReleased() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.released
}

func (c *Conn) notify() {
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

// finish records how the socket ended; the first call wins.
func (c *Conn) finish(ce *CloseError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed != nil {
		return
	}
	c.closed = ce
	close(c.done)
}

// Read returns the next message, in order. After the socket has ended and
// every received message has been read, it returns the *CloseError.
func (c *Conn) Read(ctx context.Context) (Message, error) {
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			m := c.queue[0]
			c.queue[0] = Message{}
			c.queue = c.queue[1:]
			if len(c.queue) == 0 {
				c.queue = nil // let the backing array go
			}
			c.mu.Unlock()
			return m, nil
		}
		closed := c.closed
		c.mu.Unlock()
		if closed != nil {
			c.release()
			return Message{}, closed
		}
		select {
		case <-c.signal:
		case <-c.done:
		case <-ctx.Done():
			return Message{}, context.Cause(ctx)
		}
	}
}

// Write sends a text message. The browser queues it (bufferedAmount); it
// does not wait for the network.
func (c *Conn) Write(data []byte) error {
	c.mu.Lock()
	closed := c.closed != nil
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	_, err := catchCall("WebSocket send", func() js.Value { return c.ws.Call("send", string(data)) })
	return err
}

// Close starts the closing handshake with code (1000 or 3000–4999: the only
// codes a browser sends) and reason, and waits up to five seconds for the
// browser to report the socket closed.
func (c *Conn) Close(code int, reason string) error {
	if _, err := catchCall("WebSocket close", func() js.Value { return c.ws.Call("close", code, reason) }); err != nil {
		c.CloseNow()
		return err
	}
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-c.done:
		c.release() // what was received stays readable
	case <-t.C:
		c.CloseNow()
	}
	return nil
}

// CloseNow drops the socket without waiting: the browser is asked to close
// it (a browser has no close without the handshake), and the socket counts
// as ended with 1006 at once, so a pending Read returns.
func (c *Conn) CloseNow() {
	_, _ = catchCall("WebSocket close", func() js.Value { return c.ws.Call("close", 1000) })
	c.finish(&CloseError{Code: closeAbnormal, Reason: ""})
	c.notify()
	// The callbacks go now, not when a reader next calls Read: a client
	// that is closing may never read again.
	c.release()
}

// release detaches the handlers and frees the callbacks, once the socket
// has ended.
func (c *Conn) release() {
	c.mu.Lock()
	if c.released || c.closed == nil {
		c.mu.Unlock()
		return
	}
	c.released = true
	c.mu.Unlock()
	for _, ev := range []string{"open", "message", "close", "error"} {
		c.ws.Set("on"+ev, js.Null())
	}
	// wake must not run once released.
	if !c.timer.IsUndefined() {
		js.Global().Call("clearTimeout", c.timer)
		c.timer = js.Undefined()
	}
	if !c.port.IsUndefined() {
		p1 := c.port.Get("port1")
		p1.Set("onmessage", js.Null())
		p1.Call("close")
		c.port.Get("port2").Call("close")
	}
	for _, f := range c.funcs {
		f.Release()
	}
	c.wake.Release()
}
