package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kalamgo/kalam/kalamtest"
)

// childEnv makes the test binary serve kalamtest instead of running
// benchmarks (see TestMain).
const childEnv = "KALAM_BENCH_SERVER"

// The benchmark users. Their tables are per user (USER TABLE), so rows
// written by one wake only that user's subscriptions: the client under test
// reads as alice, the raw reference as bob, and both can stay connected
// while the other is measured.
const (
	clientUser = "alice"
	rawUser    = "bob"
	workerUser = "worker" // the topic consumer (topics need the service role)
	benchPass  = "Bench-Secret-Pass-1"
)

func serverConfig() kalamtest.Config {
	return kalamtest.Config{
		Users: []kalamtest.User{
			{Name: clientUser, Password: benchPass},
			{Name: rawUser, Password: benchPass},
			{Name: workerUser, Password: benchPass, Role: "service"},
		},
		MaxMessagesPerSec: -1,          // subscribing 100 queries at once is not abuse here
		IdleTimeout:       -1,          // held streams (see gate) keep client pings back
		HeartbeatInterval: time.Second, // only the auth timeout uses it

		// These rows measure throughput, not loss: KalamDB's outgoing queue
		// (128), loading buffer (1,024) and per-user cap (100) are lifted so
		// that every notification is delivered and 10×100 subscriptions fit.
		OutgoingQueue:           -1,
		LoadingBuffer:           -1,
		MaxSubscriptionsPerUser: -1,
	}
}

// schema creates the benchmark tables.
func schema(ctx context.Context, srv *kalamtest.Server) error {
	for _, sql := range []string{
		"CREATE NAMESPACE app",
		"CREATE USER TABLE app.orders (id BIGINT PRIMARY KEY, status TEXT, note TEXT)",
		"CREATE USER TABLE app.idle (id BIGINT PRIMARY KEY, status TEXT)",
		// app.stream feeds both a live query and the topic app.stream_feed
		// (BenchmarkTopicConsumer); app.orders stays free of topic writes.
		"CREATE USER TABLE app.stream (id BIGINT PRIMARY KEY, status TEXT, note TEXT)",
		"CREATE TOPIC app.stream_feed",
		"ALTER TOPIC app.stream_feed ADD SOURCE app.stream ON INSERT",
	} {
		if _, err := srv.Exec(ctx, "root", sql); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
	}
	return nil
}

// serveChild runs kalamtest until stdin closes. It prints "ready <url>"
// once the server accepts.
func serveChild() int {
	srv, err := kalamtest.Start(serverConfig())
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench server:", err)
		return 1
	}
	defer srv.Close()
	if err := schema(context.Background(), srv); err != nil {
		fmt.Fprintln(os.Stderr, "bench server:", err)
		return 1
	}
	fmt.Printf("ready %s\n", srv.URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// server is a kalamtest server seen over HTTP: in a child process, or
// in-process when a benchmark needs the fault hooks (srv).
type server struct {
	URL string
	srv *kalamtest.Server // nil for a child
	hc  *http.Client
	ids atomic.Int64 // row ids written so far
}

// startChild starts kalamtest in a child process, so that the benchmark's
// heap and CPU hold the client alone. It stops at cleanup.
func startChild(tb testing.TB) *server {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan error, 1)
	tb.Cleanup(func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	var url string
	select {
	case l, ok := <-line:
		if !ok || !strings.HasPrefix(l, "ready ") {
			tb.Fatalf("bench server did not start (%q)", l)
		}
		url = strings.TrimPrefix(l, "ready ")
	case <-time.After(30 * time.Second):
		tb.Fatal("bench server did not start within 30s")
	}
	return newServer(tb, url, nil)
}

// startInProcess starts kalamtest in this process, for the fault hooks.
func startInProcess(tb testing.TB) *server {
	tb.Helper()
	srv := kalamtest.NewServer(tb, serverConfig())
	if err := schema(context.Background(), srv); err != nil {
		tb.Fatal(err)
	}
	return newServer(tb, srv.URL, srv)
}

func newServer(tb testing.TB, url string, srv *kalamtest.Server) *server {
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	tb.Cleanup(tr.CloseIdleConnections)
	return &server{URL: url, srv: srv, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (s *server) wsURL() string { return "ws" + strings.TrimPrefix(s.URL, "http") + "/v1/ws" }

func (s *server) post(path, token string, body any, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, s.URL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := s.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %d %.200s", path, res.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// login returns an access token for user.
func (s *server) login(tb testing.TB, user string) string {
	tb.Helper()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := s.post("/v1/api/auth/login", "", map[string]string{"user": user, "password": benchPass}, &out); err != nil {
		tb.Fatal(err)
	}
	if out.AccessToken == "" {
		tb.Fatal("login: no access token")
	}
	return out.AccessToken
}

// insert writes n rows into app.orders as the token's user, at most 500
// per statement, over HTTP.
func (s *server) insert(token string, n int) error {
	var sb strings.Builder
	for n > 0 {
		k := min(n, 500)
		sb.Reset()
		sb.WriteString("INSERT INTO app.orders (id, status, note) VALUES ")
		for i := range k {
			if i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "(%d, 'open', 'leave it at the door')", s.ids.Add(1))
		}
		if err := s.post("/v1/api/sql", token, map[string]string{"sql": sb.String()}, nil); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// waitUntil polls cond every millisecond until it holds or d passes.
func waitUntil(d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("condition not met within " + d.String())
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}
