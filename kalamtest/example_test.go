package kalamtest_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/kalamgo/kalam/kalamtest"
)

// A server for a program (in a test, use kalamtest.NewServer(t, cfg)).
func Example() {
	srv, err := kalamtest.Start(kalamtest.Config{
		Users: []kalamtest.User{{Name: "alice", Password: "Secret123!"}},
	})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	ctx := context.Background()
	for _, q := range []string{
		"CREATE NAMESPACE app",
		"CREATE USER TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT)",
	} {
		if _, err := srv.Exec(ctx, "root", q); err != nil {
			panic(err)
		}
	}
	if _, err := srv.Exec(ctx, "alice", "INSERT INTO app.notes (id, body) VALUES ($1, $2)", 1, "hello"); err != nil {
		panic(err)
	}
	res, err := srv.Exec(ctx, "alice", "SELECT id, body FROM app.notes")
	if err != nil {
		panic(err)
	}
	row := res.Results[0].Rows[0]
	fmt.Println(string(row[0]), string(row[1]))

	resp, err := http.Get(srv.URL + "/health")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output:
	// "1" "hello"
	// 200
}
