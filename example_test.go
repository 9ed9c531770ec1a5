//go:build !js

package kalam_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/kalamtest"
)

// exampleServer starts a local KalamDB-compatible server with a user and a
// table, standing in for a real deployment in these examples.
func exampleServer() *kalamtest.Server {
	srv, err := kalamtest.Start(kalamtest.Config{
		Users: []kalamtest.User{{Name: "worker", Password: "Worker-Pass-1"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for _, sql := range []string{
		"CREATE NAMESPACE shop",
		"CREATE USER TABLE shop.orders (id BIGINT PRIMARY KEY, item TEXT, status TEXT)",
	} {
		if _, err := srv.Exec(ctx, "root", sql); err != nil {
			log.Fatal(err)
		}
	}
	// A USER table: each user sees the rows they wrote.
	if _, err := srv.Exec(ctx, "worker", "INSERT INTO shop.orders (id, item, status) VALUES (1, 'tea', 'open'), (2, 'jam', 'shipped')"); err != nil {
		log.Fatal(err)
	}
	return srv
}

// An HTTP-only worker: it runs SQL and never opens a socket. Basic
// credentials are exchanged for a token on the first query and refreshed
// when they near expiry.
func Example_httpWorker() {
	srv := exampleServer()
	defer srv.Close()

	c, err := kalam.New(kalam.Config{
		URL:       srv.URL,
		Auth:      auth.Basic("worker", "Worker-Pass-1"),
		Namespace: "shop",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx := context.Background()
	res, err := c.Query(ctx, "SELECT id, item FROM orders WHERE status = $1 ORDER BY id", "open")
	if err != nil {
		log.Fatal(err)
	}
	for _, row := range res.Rows() {
		id, _ := row.Get("id").Int64() // BIGINT arrives exact, as int64
		fmt.Println(id, row.Get("item").String())
	}
	fmt.Println("state:", c.State()) // authenticated, no socket
	// Output:
	// 1 tea
	// state: Authed
}

// A live service with a dynamic auth provider: the function is asked for
// credentials on start, before expiry and on every reconnect, so tokens can
// come from a secret store or another service.
func Example_liveService() {
	srv := exampleServer()
	defer srv.Close()

	tokens := auth.Dynamic(func(ctx context.Context, req auth.Request) (auth.Credentials, error) {
		access, refresh, err := srv.IssueTokens("worker") // your token service here
		if err != nil {
			return auth.Credentials{}, err
		}
		return auth.FromTokens(access, refresh)
	})
	c, err := kalam.New(kalam.Config{URL: srv.URL, Auth: tokens, Namespace: "shop"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := c.Live(ctx, "SELECT * FROM orders WHERE status = 'open'", kalam.LiveOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for ev, err := range sub.Events(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		switch ev.Kind {
		case kalam.EventSnapshot:
			fmt.Println("snapshot:", len(ev.Rows), "row(s)")
			if ev.Last { // now live: write a change and watch it arrive
				if _, err := c.Query(ctx, "INSERT INTO orders (id, item, status) VALUES (3, 'bun', 'open')"); err != nil {
					log.Fatal(err)
				}
			}
		case kalam.EventInsert:
			fmt.Println("insert:", ev.Rows[0].Get("item").String())
		}
		if ev.Kind == kalam.EventInsert {
			break
		}
	}
	out, err := c.Drain(ctx) // finish in-flight work, then close
	fmt.Println("drained:", err == nil && !out.TimedOut, "subscriptions:", out.Subscriptions)
	// Output:
	// snapshot: 1 row(s)
	// insert: bun
	// drained: true subscriptions: 1
}

// LiveRows keeps a keyed view equal to what the SELECT returns now, across
// reconnects, without the caller handling individual events.
func Example_liveRows() {
	srv := exampleServer()
	defer srv.Close()

	c, err := kalam.New(kalam.Config{URL: srv.URL, Auth: auth.Basic("worker", "Worker-Pass-1"), Namespace: "shop"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	view, err := c.LiveRows(ctx, "SELECT * FROM orders", kalam.RowsOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer view.Close()
	if err := view.WaitFor(ctx, func(rows []kalam.Row) bool { return len(rows) == 2 }); err != nil {
		log.Fatal(err)
	}
	fmt.Println("rows:", view.Len())

	if _, err := c.Query(ctx, "UPDATE orders SET status = 'shipped' WHERE id = 1"); err != nil {
		log.Fatal(err)
	}
	err = view.WaitFor(ctx, func(rows []kalam.Row) bool {
		for _, r := range rows {
			if r.Get("status").String() != "shipped" {
				return false
			}
		}
		return true
	})
	fmt.Println("all shipped:", err == nil)
	// Output:
	// rows: 2
	// all shipped: true
}
