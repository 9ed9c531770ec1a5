//go:build js

package httpapi

import (
	"context"

	"github.com/kalamgo/kalam/internal/jsnet"
)

// HTTPClient is a placeholder in the browser build: requests go through the
// platform's fetch (package internal/jsnet), which has nothing to
// configure, and net/http is not linked (it would add about 600 KB to the
// .wasm). Leave Options.HTTPClient nil.
type HTTPClient struct{ _ [0]func() }

func defaultHTTPClient() *HTTPClient { return &HTTPClient{} }

// CloseIdleConnections does nothing in the browser build: the browser owns
// its connections.
func (c *Client) CloseIdleConnections() {}

// exchange sends one request with fetch and reads the response body up to
// limit(status) bytes.
func (c *Client) exchange(ctx context.Context, method, url string, header [][2]string, body []byte, limit func(int) int64) (reply, error) {
	resp, err := jsnet.Fetch(ctx, jsnet.Request{Method: method, URL: url, Header: header, Body: body, Limit: limit})
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.Status, header: resp.Header, body: resp.Body, tooLarge: resp.TooLarge}, nil
}
