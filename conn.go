package kalam

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/transport/wire"
)

// conn is one WebSocket connection epoch. The loop owns the map of conns;
// each conn has a reader and a writer goroutine once dialed.
type conn struct {
	epoch  uint64
	ws     *websocket.Conn // nil until dialed
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
	ws    *websocket.Conn
}

func (c *Client) dial(epoch uint64) {
	ctx, cancel := context.WithCancel(c.ctx)
	cn := &conn{epoch: epoch, cancel: cancel, writeq: make(chan []byte, writeQueue)}
	c.conns[epoch] = cn
	c.goIO(func() {
		dctx, dcancel := context.WithTimeout(ctx, c.engCfg.ConnectTimeout)
		defer dcancel()
		ws, _, err := websocket.Dial(dctx, c.wsURL.String(), dialOptions(c.cfg.HTTPClient))
		if err != nil {
			c.post(fsm.DialFailed{Epoch: epoch, Err: err})
			return
		}
		setReadLimit(ws, wire.DefaultMaxFrame)
		if !c.post(dialedMsg{epoch: epoch, ws: ws}) {
			c.closeNow(ws)
		}
	})
}

// attach starts the reader and writer of a dialed socket.
func (c *Client) attach(cn *conn, ws *websocket.Conn) {
	cn.ws = ws
	cn.heard.Store(time.Now().UnixNano())
	ctx := c.ctx
	c.goIO(func() {
		for {
			typ, data, err := ws.Read(ctx)
			cn.heard.Store(time.Now().UnixNano())
			if err != nil {
				code, reason := closeInfo(err)
				c.post(fsm.SocketClosed{Epoch: cn.epoch, Code: code, Reason: reason})
				return
			}
			if !c.post(fsm.FrameReceived{Epoch: cn.epoch, Binary: typ == websocket.MessageBinary, Data: data}) {
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
				err := ws.Write(wctx, websocket.MessageText, data)
				cancel()
				if err != nil {
					c.closeNow(ws) // the reader reports the loss
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
		c.closeNow(cn.ws)
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
		if ws.Ping(ctx) == nil {
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
		c.closeNow(ws)
		cn.cancel()
		return
	}
	c.goIO(func() {
		defer cn.cancel()
		_ = ws.Close(closeCode(code), reason)
	})
}

// closeInfo extracts the close code and reason; 1006 when the socket died
// without a close frame.
func closeInfo(err error) (int, string) {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return int(ce.Code), ce.Reason
	}
	if strings.Contains(err.Error(), "read limited at") {
		// coder/websocket refused a frame over the read limit and closed the
		// socket with 1009; it reports that as a plain error, not a close.
		return int(websocket.StatusMessageTooBig), "frame too large"
	}
	return wire.CloseAbnormal, ""
}
