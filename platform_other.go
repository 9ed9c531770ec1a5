//go:build !js

package kalam

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/coder/websocket"

	"github.com/kalamgo/kalam/transport/wire"
)

// HTTPClient carries the client's HTTP requests and its WebSocket dial:
// net/http's *http.Client. (The browser build has no net/http: there it is
// a placeholder and the browser's fetch and WebSocket are used.)
type HTTPClient = http.Client

// pingFrames: native sockets send WebSocket Ping frames and wait for Pong.
const pingFrames = true

// wsSocket is a coder/websocket connection.
type wsSocket struct{ c *websocket.Conn }

func dialSocket(ctx context.Context, url string, hc *http.Client) (socket, error) {
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(wire.DefaultMaxFrame)
	return wsSocket{ws}, nil
}

func (s wsSocket) read(ctx context.Context) (bool, []byte, error) {
	typ, data, err := s.c.Read(ctx)
	return typ == websocket.MessageBinary, data, err
}

func (s wsSocket) write(ctx context.Context, data []byte) error {
	return s.c.Write(ctx, websocket.MessageText, data)
}

func (s wsSocket) ping(ctx context.Context) error { return s.c.Ping(ctx) }

func (s wsSocket) close(code int, reason string) error {
	return s.c.Close(websocket.StatusCode(code), reason)
}

func (s wsSocket) closeNow() { s.c.CloseNow() }

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
