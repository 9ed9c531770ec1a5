//go:build js

package kalam

import (
	"net/http"

	"github.com/coder/websocket"
)

// pingFrames: browsers cannot send Ping frames, so the keepalive is
// KalamDB's application-level {"type":"ping"}.
const pingFrames = false

// The browser's WebSocket takes no HTTP client: it dials by itself.
func dialOptions(*http.Client) *websocket.DialOptions { return nil }

// The browser enforces its own message limits.
func setReadLimit(*websocket.Conn, int64) {}

// closeNow closes a socket as soon as the browser allows. A browser's
// WebSocket has no close without the handshake, and coder/websocket's
// CloseNow sends 1001, which browsers refuse (close() accepts only 1000 and
// 3000–4999), so the socket would stay open. The close waits for the
// browser's close event, so it runs off the loop.
func (c *Client) closeNow(ws *websocket.Conn) {
	c.goIO(func() { _ = ws.Close(websocket.StatusNormalClosure, "") })
}

// closeCode maps the engine's close code to one a browser accepts.
func closeCode(code int) websocket.StatusCode {
	if code == 1000 || (code >= 3000 && code <= 4999) {
		return websocket.StatusCode(code)
	}
	return websocket.StatusNormalClosure
}
