package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServe(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--log-level", "debug", "--user", "alice:alice:Secret-1:dba"}, &stdout, &stderr)
	}()

	urlRE := regexp.MustCompile(`http: (http://\S+)`)
	pwRE := regexp.MustCompile(`root password: (\S+) \(generated\)`)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "Press Ctrl+C") {
		if time.Now().After(deadline) {
			t.Fatalf("no start banner; stdout %q stderr %q", stdout.String(), stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	out := stdout.String()
	base := urlRE.FindStringSubmatch(out)[1]
	rootPW := pwRE.FindStringSubmatch(out)[1]

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	res, err := hc.Get(base + "/health")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("health: %v", err)
	}
	res.Body.Close()
	for _, creds := range []string{`{"user":"root","password":"` + rootPW + `"}`, `{"user":"alice","password":"alice:Secret-1"}`} {
		res, err := hc.Post(base+"/v1/api/auth/login", "application/json", strings.NewReader(creds))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("login: %d %s", res.StatusCode, body)
		}
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d; stderr %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(stdout.String(), "kalam serve: stopped") {
		t.Fatalf("stdout %q", stdout.String())
	}
	if strings.Count(stdout.String(), rootPW) != 1 || strings.Contains(stderr.String(), rootPW) {
		t.Fatal("the generated root password must be printed once and never logged")
	}
	if !strings.Contains(stderr.String(), "listening") {
		t.Fatalf("no log output: %q", stderr.String())
	}
	tr.CloseIdleConnections()
	deadline = time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines left, %d before:\n%s", n, goroutines, buf[:runtime.Stack(buf, true)])
	}
}

func TestDispatch(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		args []string
		code int
		err  string
	}{
		{nil, 2, "Usage: kalam"},
		{[]string{"help"}, 0, "serve"},
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"query"}, 2, "no SQL given"},
		{[]string{"live"}, 2, "no SQL given"},
		{[]string{"diagram", "extra"}, 2, "unexpected argument"},
		{[]string{"demo", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"serve", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"serve", "-h"}, 0, "Usage: kalam serve"},
		{[]string{"serve", "extra"}, 2, "unexpected argument"},
		{[]string{"serve", "--log-level", "loud"}, 2, "bad --log-level"},
		{[]string{"serve", "--user", "nopassword"}, 2, "name:password"},
		{[]string{"serve", "--addr", "256.1.1.1:1"}, 1, "listen"},
	}
	for _, tt := range tests {
		var stdout, stderr syncBuffer
		if code := run(ctx, tt.args, &stdout, &stderr); code != tt.code || !strings.Contains(stderr.String(), tt.err) {
			t.Errorf("kalam %v: exit %d, stderr %q; want %d and %q", tt.args, code, stderr.String(), tt.code, tt.err)
		}
	}
}
