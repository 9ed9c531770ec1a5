//go:build !js

package kalam_test

import (
	"context"
	"fmt"
	"log"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/kalamtest"
)

// A topic worker: every new order becomes a message of the topic
// shop.new_orders; the worker consumes it, processes it, marks it
// processed and commits. A message whose offset was not committed is
// delivered again to the group; a committed one never is.
func ExampleClient_Consumer() {
	srv, err := kalamtest.Start(kalamtest.Config{Users: []kalamtest.User{
		{Name: "shop", Password: "Shop-Pass-1"},
		{Name: "billing", Password: "Billing-Pass-1", Role: "service"}, // topics need service, dba or system
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	for _, sql := range []string{
		"CREATE NAMESPACE shop",
		"CREATE USER TABLE shop.orders (id BIGINT PRIMARY KEY, item TEXT)",
		"CREATE TOPIC shop.new_orders",
		"ALTER TOPIC shop.new_orders ADD SOURCE shop.orders ON INSERT WITH (payload = 'full')",
	} {
		if _, err := srv.Exec(ctx, "root", sql); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := srv.Exec(ctx, "shop", "INSERT INTO shop.orders (id, item) VALUES (1, 'tea'), (2, 'jam')"); err != nil {
		log.Fatal(err)
	}

	c, err := kalam.New(kalam.Config{URL: srv.URL, Auth: auth.Basic("billing", "Billing-Pass-1")})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	k, err := c.Consumer("shop.new_orders", kalam.ConsumerOptions{Group: "invoices", Start: kalam.StartEarliest})
	if err != nil {
		log.Fatal(err)
	}
	defer k.Close()

	handled := 0
	for m, err := range k.Messages(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		row, err := m.Row()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("invoice for order %s (%s), offset %d\n", row.Get("id"), row.Get("item"), m.Offset)
		if err := k.MarkProcessed(m.Offset); err != nil {
			log.Fatal(err)
		}
		if handled++; handled == 2 {
			break
		}
	}
	if err := k.Commit(ctx); err != nil {
		log.Fatal(err)
	}
	off, _ := k.Committed()
	fmt.Println("committed up to offset", off)
	// Output:
	// invoice for order 1 (tea), offset 0
	// invoice for order 2 (jam), offset 1
	// committed up to offset 1
}
