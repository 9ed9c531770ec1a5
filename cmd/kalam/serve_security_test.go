package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startServe runs `kalam serve` with args on a free port until the test
// ends and returns its base URL and stdout.
func startServe(t *testing.T, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), stdio{in: strings.NewReader(""), out: &stdout, err: &stderr})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("kalam serve did not stop")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "Press Ctrl+C") {
		if time.Now().After(deadline) {
			t.Fatalf("no start banner; stdout %q stderr %q", stdout.String(), stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	out := stdout.String()
	return regexp.MustCompile(`http: (http://\S+)`).FindStringSubmatch(out)[1], out
}

func adminStatus(t *testing.T, method, url, body string, hdr ...string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestServeAdminIsOffByDefault(t *testing.T) {
	base, out := startServe(t)
	if !strings.Contains(out, "admin: off") {
		t.Errorf("banner does not say the admin endpoint is off:\n%s", out)
	}
	for _, p := range []string{"/_kalamtest/stats", "/_kalamtest/users"} {
		if st := adminStatus(t, http.MethodGet, base+p, ""); st != http.StatusNotFound {
			t.Errorf("GET %s without --admin: %d", p, st)
		}
	}
	if st := adminStatus(t, http.MethodPost, base+"/_kalamtest/users", `{"name":"eve","password":"Eve-pass-123","role":"system"}`,
		"Content-Type", "text/plain"); st != http.StatusNotFound {
		t.Errorf("POST users without --admin: %d", st)
	}
}

func TestServeAdminNeedsTokenOriginHostAndJSON(t *testing.T) {
	base, out := startServe(t, "--admin")
	m := regexp.MustCompile(`token: (\S+) \(generated`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no admin token in the banner:\n%s", out)
	}
	tok := m[1]
	users := base + "/_kalamtest/users"
	body := `{"name":"eve","password":"Eve-pass-123","role":"system"}`
	for _, c := range []struct {
		name string
		hdr  []string
		want int
	}{
		{"no token", []string{"Content-Type", "application/json"}, 401},
		{"wrong token", []string{"Content-Type", "application/json", "X-Kalamtest-Admin", tok + "x"}, 401},
		{"text/plain CSRF", []string{"Content-Type", "text/plain", "Origin", "http://evil.example", "X-Kalamtest-Admin", tok}, 403},
		{"text/plain same origin", []string{"Content-Type", "text/plain", "X-Kalamtest-Admin", tok}, 415},
		{"form", []string{"Content-Type", "application/x-www-form-urlencoded", "X-Kalamtest-Admin", tok}, 415},
		{"foreign origin", []string{"Content-Type", "application/json", "Origin", "http://evil.example", "X-Kalamtest-Admin", tok}, 403},
		{"cross-site fetch", []string{"Content-Type", "application/json", "Sec-Fetch-Site", "cross-site", "X-Kalamtest-Admin", tok}, 403},
		{"DNS rebinding", []string{"Content-Type", "application/json", "Host", "evil.example:2900", "X-Kalamtest-Admin", tok}, 403},
		{"127 prefix name", []string{"Content-Type", "application/json", "Host", "127.evil.example", "X-Kalamtest-Admin", tok}, 403},
	} {
		if st := adminStatus(t, http.MethodPost, users, body, c.hdr...); st != c.want {
			t.Errorf("%s: HTTP %d, want %d", c.name, st, c.want)
		}
	}
	// Nothing above created eve; the right request does.
	login := func() int {
		return adminStatus(t, http.MethodPost, base+"/v1/api/auth/login", `{"user":"eve","password":"Eve-pass-123"}`, "Content-Type", "application/json")
	}
	if st := login(); st != 401 {
		t.Fatalf("eve logs in after refused admin requests: %d", st)
	}
	if st := adminStatus(t, http.MethodPost, users, body, "Content-Type", "application/json", "Authorization", "Bearer "+tok,
		"Host", "localhost"); st != 200 {
		t.Fatalf("admin request with token: %d", st)
	}
	if st := login(); st != 200 {
		t.Fatalf("eve after the admin created her: %d", st)
	}
}
