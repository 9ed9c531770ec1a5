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
