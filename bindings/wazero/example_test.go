package wazero_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
	wazerohost "github.com/kalamgo/kalam/bindings/wazero"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/kalamtest"
)

// A kalam client whose engine runs in wazero. Everything but the engine —
// the API, sockets, HTTP, timers, events — is package kalam's.
func Example() {
	ctx := context.Background()
	// A compilation cache on disk: the next process skips the compile.
	dir, err := os.UserCacheDir()
	if err != nil {
		log.Fatal(err)
	}
	cache, err := wazero.NewCompilationCacheWithDir(filepath.Join(dir, "kalam", "wazero"))
	if err != nil {
		log.Fatal(err)
	}
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCompilationCache(cache))
	defer r.Close(ctx)
	host, err := wazerohost.Instantiate(ctx, r, wazerohost.Config{
		Path: os.Getenv("KALAM_ENGINE_WASM"), // built by make wasm
	})
	if err != nil {
		log.Fatal(err)
	}

	// A local KalamDB-compatible server stands in for a deployment.
	srv, err := kalamtest.Start(kalamtest.Config{Users: []kalamtest.User{{Name: "worker", Password: "Worker-Pass-1"}}})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	srv.Exec(ctx, "root", "CREATE NAMESPACE shop")
	srv.Exec(ctx, "root", "CREATE USER TABLE shop.orders (id BIGINT PRIMARY KEY, item TEXT)")

	c, err := host.NewClient(ctx, kalam.Config{
		URL:       srv.URL,
		Auth:      auth.Basic("worker", "Worker-Pass-1"),
		Namespace: "shop",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	sub, err := c.Live(ctx, "SELECT * FROM orders", kalam.LiveOptions{})
	if err != nil {
		log.Fatal(err)
	}
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for ev, err := range sub.Events(wait) {
		if err != nil {
			log.Fatal(err)
		}
		switch ev.Kind {
		case kalam.EventSubscribed: // on the server now: write a row
			fmt.Println(ev.Kind)
			if _, err := c.Query(ctx, "INSERT INTO orders (id, item) VALUES ($1, $2)", 1, "tea"); err != nil {
				log.Fatal(err)
			}
		case kalam.EventInsert:
			fmt.Println(ev.Kind, ev.Rows[0].Get("item").String(), "in state", c.State())
			return
		}
	}
	// Output:
	// subscribed
	// insert tea in state Live
}

// Driving an engine in the guest directly, as any fsm.Stepper: the host
// feeds inputs with the time and carries out the effects.
func ExampleHost_NewEngine() {
	ctx := context.Background()
	cache := wazero.NewCompilationCache() // in memory: shared by the runtimes given it
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCompilationCache(cache))
	defer r.Close(ctx)
	host, err := wazerohost.Instantiate(ctx, r, wazerohost.Config{Path: os.Getenv("KALAM_ENGINE_WASM")})
	if err != nil {
		log.Fatal(err)
	}
	eng, err := host.NewEngine(ctx, fsm.Config{Namespace: "app"})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close(ctx)

	creds := auth.Credentials{AccessToken: auth.NewSecret("a-token"), Lifetime: time.Hour}
	for _, in := range []fsm.Input{fsm.SetCredentials{Credentials: creds}, fsm.Connect{}, fsm.Dialed{Epoch: 1}} {
		effs, err := eng.Step(time.Second, in)
		if err != nil {
			log.Fatal(err)
		}
		for _, eff := range effs {
			fmt.Printf("%T %v\n", eff, eff) // tokens print redacted
		}
	}
	_, err = eng.Step(time.Second, fsm.Subscribe{ID: "", SQL: "SELECT 1"})
	fmt.Println(err)
	// Output:
	// fsm.SetTimer {Refresh 1h0m1s 1}
	// fsm.StateChanged {Unauthed Authed Credentials <nil> 0 0 0s}
	// fsm.StateChanged {Authed Connecting Connect <nil> 0 1 0s}
	// fsm.Dial {1}
	// fsm.SetTimer {Connect 11s 2}
	// fsm.Authenticate {1 [REDACTED]}
	// kalam: invalid subscription id
}
