//go:build js

package kalam

import (
	"context"
	"errors"

	"github.com/kalamgo/kalam/internal/jsnet"
	"github.com/kalamgo/kalam/transport/httpapi"
	"github.com/kalamgo/kalam/transport/wire"
)

// HTTPClient is a placeholder in the browser build: HTTP goes through the
// browser's fetch and the socket is the browser's WebSocket, neither of
// which has anything to configure. Leave Config.HTTPClient nil. (Natively
// it is net/http's *http.Client; the browser build does not link net/http,
// which alone would add about 600 KB to the .wasm.)
type HTTPClient = httpapi.HTTPClient

// pingFrames: browsers cannot send Ping frames, so the keepalive is
// KalamDB's application-level {"type":"ping"}.
const pingFrames = false

// jsSocket is the browser's WebSocket. The browser enforces its own message
// limits.
type jsSocket struct{ c *jsnet.Conn }

func dialSocket(ctx context.Context, url string, _ *HTTPClient) (socket, error) {
	c, err := jsnet.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	return jsSocket{c}, nil
}

// read returns the next message. Gzip frames are inflated here, with the
// browser's DecompressionStream, because the browser build's decoder has no
// gzip; they reach the engine as the text they carry. A frame that inflates
// past wire.DefaultMaxInflated, or does not inflate, ends the socket (1009,
// 1007) and the client resumes on a new one, as natively.
func (s jsSocket) read(ctx context.Context) (bool, []byte, error) {
	m, err := s.c.Read(ctx)
	if err != nil || !m.Binary || !wire.IsGzip(m.Data) || len(m.Data) > wire.DefaultMaxFrame {
		return m.Binary, m.Data, err // an oversized frame is the decoder's to refuse
	}
	data, tooLarge, err := jsnet.Gunzip(ctx, m.Data, wire.DefaultMaxInflated)
	switch {
	case err != nil && ctx.Err() != nil:
		return false, nil, err
	case err != nil:
		s.c.CloseNow()
		return false, nil, &inflateError{code: closeInvalidPayload, reason: "gzip frame does not inflate"}
	case tooLarge:
		s.c.CloseNow()
		return false, nil, &inflateError{code: closeTooBig, reason: "inflated frame too large"}
	}
	return false, data, nil
}

// Close codes for frames the browser build cannot inflate (RFC 6455 §7.4.1).
const (
	closeInvalidPayload = 1007
	closeTooBig         = 1009
)

// inflateError ends a socket whose frame could not be inflated.
type inflateError struct {
	code   int
	reason string
}

func (e *inflateError) Error() string { return "kalam: " + e.reason }

func (s jsSocket) write(_ context.Context, data []byte) error { return s.c.Write(data) }

func (s jsSocket) ping(context.Context) error { return errors.ErrUnsupported }

// close runs the closing handshake. Browsers refuse every code but 1000
// and 3000–4999, so the engine's other codes (1001 going away, 1008 policy)
// are sent as 1000. It waits for the browser's close event (at most five
// seconds), so the client calls it off its loop.
func (s jsSocket) close(code int, reason string) error {
	if code != 1000 && (code < 3000 || code > 4999) {
		code = 1000
	}
	return s.c.Close(code, reason)
}

func (s jsSocket) closeNow() { s.c.CloseNow() }

// closeInfo extracts the close code and reason; 1006 when the socket died
// without a close frame.
func closeInfo(err error) (int, string) {
	var ce *jsnet.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Reason
	}
	var ie *inflateError
	if errors.As(err, &ie) {
		return ie.code, ie.reason
	}
	return wire.CloseAbnormal, ""
}
