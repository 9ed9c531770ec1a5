package main

import (
	"errors"
	"flag"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/kalamgo/kalam/kalamtest"
)

func TestCORSFlags(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var cfg kalamtest.Config
	addCORSFlags(fs, &cfg)
	if err := fs.Parse([]string{"--cors-origin", "https://a.example, https://b.example:8443", "--cors-origin", "http://127.0.0.1:5173"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"https://a.example", "https://b.example:8443", "http://127.0.0.1:5173"}
	if !slices.Equal(cfg.CORSOrigins, want) {
		t.Fatalf("origins %q, want %q", cfg.CORSOrigins, want)
	}
	srv := kalamtest.NewServer(t, cfg)
	for origin, allowed := range map[string]bool{"http://127.0.0.1:5173": true, "http://127.0.0.1:5174": false} {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/api/auth/status", nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin") == origin; got != allowed {
			t.Fatalf("origin %s allowed=%v, want %v", origin, got, allowed)
		}
	}
	if _, err := kalamtest.Start(kalamtest.Config{CORSOrigins: []string{"not an origin"}}); !errors.Is(err, kalamtest.ErrInvalidConfig) {
		t.Fatalf("a bad --cors-origin: %v", err)
	}
}
