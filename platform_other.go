//go:build !js

package kalam

import (
	"net/http"

	"github.com/coder/websocket"
)

// pingFrames: native sockets send WebSocket Ping frames and wait for Pong.
const pingFrames = true

func dialOptions(hc *http.Client) *websocket.DialOptions {
	return &websocket.DialOptions{HTTPClient: hc}
}

func setReadLimit(ws *websocket.Conn, n int64) { ws.SetReadLimit(n) }

// closeNow drops a socket without the closing handshake.
func (c *Client) closeNow(ws *websocket.Conn) { ws.CloseNow() }

// closeCode is the code a close frame carries for the engine's code.
func closeCode(code int) websocket.StatusCode { return websocket.StatusCode(code) }
