//go:build !js

package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/kalamgo/kalam/transport/wire"
)

// HTTPClient is the HTTP client the API calls go through: net/http's
// *http.Client, so any client a program already has (its proxy, TLS and
// timeout settings) can be given as it is. The browser build has no
// net/http and its HTTPClient is an empty placeholder.
type HTTPClient = http.Client

func defaultHTTPClient() *http.Client {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	t.MaxIdleConnsPerHost = 16
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// CloseIdleConnections closes the idle keep-alive connections of the
// underlying HTTP client.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// exchange sends one request with net/http and reads the response body up
// to limit(status) bytes.
func (c *Client) exchange(ctx context.Context, method, url string, header [][2]string, body []byte, limit func(int) int64) (reply, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return reply{}, err
	}
	for _, h := range header {
		req.Header.Set(h[0], h[1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return reply{}, unwrapURLError(err)
	}
	defer resp.Body.Close()
	rep := reply{status: resp.StatusCode, header: resp.Header.Get}
	lim := limit(resp.StatusCode)
	if resp.StatusCode/100 == 2 && resp.ContentLength > lim {
		rep.tooLarge = true // refused before reading
		return rep, nil
	}
	data, tooLarge, err := wire.ReadAtMost(resp.Body, nil, lim)
	if err != nil {
		return reply{}, unwrapURLError(err)
	}
	if tooLarge {
		data = data[:lim]
	}
	rep.body, rep.tooLarge = data, tooLarge
	return rep, nil
}

// unwrapURLError drops net/http's *url.Error wrapper: its text repeats the
// method and the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
