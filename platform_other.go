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
