package kalam

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/kalamgo/kalam/fsm"
)

// socket is one WebSocket as the client uses it: coder/websocket natively
// (platform_other.go), the browser's own WebSocket in the browser build
// (platform_js.go).
type socket interface {
	// read returns the next message; its error ends the socket and
	// closeInfo turns it into a close code and reason.
	read(ctx context.Context) (binary bool, data []byte, err error)
	// write sends a text message.
	write(ctx context.Context, data []byte) error
	// ping sends a Ping frame and waits for the Pong (native only: see
	// pingFrames).
	ping(ctx context.Context) error
	// close runs the closing handshake with the engine's code and reason.
	close(code int, reason string) error
	// closeNow drops the socket without the handshake.
	closeNow()
}

// conn is one WebSocket connection epoch. The loop owns the map of conns;
// each conn has a reader and a writer goroutine once dialed.
type conn struct {
	epoch  uint64
	ws     socket // nil until dialed
	cancel context.CancelFunc
	writeq chan []byte
	// heard is when the peer was last heard from (Unix nanoseconds): a
	// frame, or a pong.
	heard atomic.Int64
}

// writeQueue bounds the frames waiting to be written on one socket. The
// engine sends little (subscribe, next_batch, unsubscribe), so a full queue
// means the socket is stuck, and it is dropped.
const writeQueue = 256

// dialedMsg carries a fresh socket from the dialing goroutine to the loop.
type dialedMsg struct {
	epoch uint64
	ws    socket
}

func (c *Client) dial(epoch uint64) {
	ctx, cancel := context.WithCancel(c.ctx)
	cn := &conn{epoch: epoch, cancel: cancel, writeq: make(chan []byte, writeQueue)}
	c.conns[epoch] = cn
	c.goIO(func() {
		dctx, dcancel := context.WithTimeout(ctx, c.engCfg.ConnectTimeout)
		defer dcancel()
		ws, err := dialSocket(dctx, c.wsURL.String(), c.cfg.HTTPClient)
		if err != nil {
			c.post(fsm.DialFailed{Epoch: epoch, Err: err})
			return
		}
		if !c.post(dialedMsg{epoch: epoch, ws: ws}) {
			ws.closeNow()
		}
	})
}

// attach starts the reader and writer of a dialed socket.
func (c *Client) attach(cn *conn, ws socket) {
	cn.ws = ws
	cn.heard.Store(time.Now().UnixNano())
	ctx := c.ctx
	c.goIO(func() {
		for {
			binary, data, err := ws.read(ctx)
			cn.heard.Store(time.Now().UnixNano())
			if err != nil {
				code, reason := closeInfo(err)
				c.post(fsm.SocketClosed{Epoch: cn.epoch, Code: code, Reason: reason})
				return
			}
			if !c.post(fsm.FrameReceived{Epoch: cn.epoch, Binary: binary, Data: data}) {
				return
			}
		}
	})
	c.goIO(func() {
		for {
			select {
			case data, ok := <-cn.writeq:
				if !ok {
					return
				}
				wctx, cancel := context.WithTimeout(ctx, c.engCfg.PongTimeout+c.engCfg.PingInterval)
				err := ws.write(wctx, data)
				cancel()
				if err != nil {
					ws.closeNow() // the reader reports the loss
					return
				}
			case <-ctx.Done():
				return
			}
		}
	})
}

// send queues a frame; a stuck socket is dropped rather than waited on.
func (c *Client) send(epoch uint64, data []byte) {
	cn := c.conns[epoch]
	if cn == nil || cn.ws == nil {
		return
	}
	select {
	case cn.writeq <- data:
	default:
		c.log.Warn("kalam: socket write queue full; dropping the connection", "epoch", epoch)
		cn.ws.closeNow()
	}
}

func (c *Client) ping(epoch uint64) {
	cn := c.conns[epoch]
	if cn == nil || cn.ws == nil {
		return
	}
	ws := cn.ws
	if !pingFrames {
		// A browser cannot send Ping frames and KalamDB does not answer
		// {"type":"ping"}: the message keeps the server's idle timer at bay,
		// and handing it to the socket counts as the answer. A lost socket
		// still shows as the browser's close event; a half-open one is
		// caught only when the browser itself notices.
		c.send(epoch, []byte(`{"type":"ping"}`))
		c.goIO(func() { c.post(fsm.PongReceived{Epoch: epoch}) }) // never post from the loop itself
		return
	}
	c.goIO(func() {
		ctx, cancel := context.WithTimeout(c.ctx, c.engCfg.PongTimeout)
		defer cancel()
		if ws.ping(ctx) == nil {
			cn.heard.Store(time.Now().UnixNano())
			c.post(fsm.PongReceived{Epoch: epoch})
		}
	})
}

func (c *Client) closeSocket(epoch uint64, code int, reason string, now bool) {
	cn := c.conns[epoch]
	if cn == nil {
		return
	}
	delete(c.conns, epoch)
	if cn.ws == nil {
		cn.cancel() // still dialing
		return
	}
	ws := cn.ws
	// A peer silent for longer than the pong timeout will not answer a
	// closing handshake either: waiting for it would only hold Close up
	// for coder/websocket's five seconds.
	silent := time.Since(time.Unix(0, cn.heard.Load())) > c.engCfg.PongTimeout
	if now || silent {
		ws.closeNow()
		cn.cancel()
		return
	}
	c.goIO(func() {
		defer cn.cancel()
		// A drain ends by its deadline: a handshake the peer leaves
		// unanswered is cut there.
		if by := c.drainBy.Load(); by != 0 {
			cut := time.AfterFunc(time.Until(time.Unix(0, by)), ws.closeNow)
			defer cut.Stop()
		}
		_ = ws.close(code, reason)
	})
}
