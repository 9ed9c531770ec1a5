//go:build !js

package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/transport/httpapi"
	"github.com/kalamgo/kalam/transport/wire"
)

func ExampleClient_SQL() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer fresh-token" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"status":"error","results":[],"took":0.2,"error":{"code":"TOKEN_EXPIRED","message":"Invalid credentials"}}`)
			return
		}
		_, _ = io.WriteString(w, sqlStreamed)
	}))
	defer srv.Close()
	c, _ := httpapi.New(srv.URL, nil)
	defer c.CloseIdleConnections()
	req := wire.SQLRequest{SQL: "SELECT id, status FROM orders WHERE status = $1", Params: []any{"open"}, NamespaceID: "app"}

	_, err := c.SQL(context.Background(), auth.NewSecret("stale-token"), req)
	fmt.Println(err)
	fmt.Println(errors.Is(err, auth.ErrTokenExpired), httpapi.IsRetryable(err))

	// After a refresh:
	res, err := c.SQL(context.Background(), auth.NewSecret("fresh-token"), req)
	if err != nil {
		fmt.Println(err)
		return
	}
	r := res.Results[0]
	fmt.Println(r.Schema[0].Name, r.Schema[0].DataType.Name, string(r.Rows[0][0]), string(r.Rows[0][1]), r.AsUser)
	// Output:
	// httpapi: 401 TOKEN_EXPIRED: Invalid credentials
	// true false
	// id BigInt "1" "open" alice
}

func ExampleNew() {
	_, err := httpapi.New("http://alice:Secret123!@127.0.0.1:8080", nil)
	fmt.Println(err)
	fmt.Println(errors.Is(err, httpapi.ErrCredentialsInURL))
	// Output:
	// httpapi: invalid base URL: contains user information; give credentials to an auth provider instead
	// true
}
