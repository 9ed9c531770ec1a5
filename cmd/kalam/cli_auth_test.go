package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkPrivate fails unless path is mode 0600 in a 0700 directory and holds
// none of the secrets.
func checkPrivate(t *testing.T, path string, secrets ...string) []byte {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("%s's directory: %v, %v, want mode 0700", path, err, di)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(string(b), s) {
			t.Fatalf("%s holds a password", path)
		}
	}
	return b
}

// TestLoginCachesTokens: login keeps tokens (never the password) in a 0600
// file; later commands use them without a password, refresh them when the
// server refuses the access token, and logout forgets them.
func TestLoginCachesTokens(t *testing.T) {
	f := newFixture(t)
	r := f.kalam(t, alicePW+"\n", []string{"KALAM_PASSWORD="}, "login", "--password-stdin")
	if r.code != 0 || !strings.Contains(r.stdout, "the password was not stored") {
		t.Fatalf("login: exit %d %q %q", r.code, r.stdout, r.err)
	}
	cache := filepath.Join(f.home, "state", "kalam", "tokens.json")
	read := func() map[string]tokenEntry {
		m := map[string]tokenEntry{}
		if err := json.Unmarshal(checkPrivate(t, cache, alicePW, rootPW), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	key := cacheKey(f.srv.URL, "alice")
	before := read()[key]
	if before.Access == "" || before.Refresh == "" {
		t.Fatalf("cache lacks alice's tokens: %v", read())
	}
	noPW := []string{"KALAM_PASSWORD="}
	if r := f.kalam(t, "", noPW, "query", "SELECT CURRENT_USER() AS me"); r.code != 0 || !strings.Contains(r.stdout, "alice") {
		t.Fatalf("query with the cached login: exit %d %q %q", r.code, r.stdout, r.err)
	}
	// The server stops accepting the access token: the cached refresh token
	// gets a new one, which is written back.
	f.srv.ExpireAccessTokens()
	if r := f.kalam(t, "", noPW, "query", "SELECT 1 AS one"); r.code != 0 {
		t.Fatalf("query after expiry: exit %d %q", r.code, r.err)
	}
	after := read()[key]
	if after.Access == before.Access {
		t.Fatal("the refreshed access token was not cached")
	}
	// Refresh tokens refused too: without a password, a clear auth error.
	f.srv.ExpireAllTokens()
	if r := f.kalam(t, "", noPW, "query", "SELECT 1"); r.code != exitAuth || !strings.Contains(r.err, "kalam login") {
		t.Fatalf("expired session: exit %d %q", r.code, r.err)
	}
	if r := f.kalam(t, alicePW+"\n", noPW, "login", "--password-stdin"); r.code != 0 {
		t.Fatalf("login again: %d %q", r.code, r.err)
	}
	if r := f.kalam(t, "", noPW, "logout"); r.code != 0 || !strings.Contains(r.stdout, "Forgot") {
		t.Fatalf("logout: exit %d %q", r.code, r.stdout)
	}
	if _, ok := read()[key]; ok {
		t.Fatal("logout left the tokens")
	}
	if r := f.kalam(t, "", noPW, "query", "SELECT 1"); r.code != exitAuth {
		t.Fatalf("after logout: exit %d, want %d", r.code, exitAuth)
	}
	if r := f.kalam(t, "wrong\n", noPW, "login", "--password-stdin"); r.code != exitAuth {
		t.Fatalf("login with a wrong password: exit %d %q", r.code, r.err)
	}
}

// TestProfiles: a profile supplies URL, user and namespace; flags and the
// environment override it; the file is 0600 and holds no secret.
func TestProfiles(t *testing.T) {
	f := newFixture(t)
	noURL := []string{"KALAM_URL=", "KALAM_USER="}
	r := f.kalam(t, "", noURL, "profile", "set", "dev", "--url", f.srv.URL, "--user", "alice", "-n", "shop")
	if r.code != 0 {
		t.Fatalf("profile set: %d %q", r.code, r.err)
	}
	checkPrivate(t, filepath.Join(f.home, "config", "kalam", "profiles.json"), alicePW, rootPW)
	if r := f.kalam(t, "", noURL, "-P", "dev", "query", "SELECT count(*) AS n FROM orders"); r.code != 0 || !strings.Contains(r.stdout, " 3") {
		t.Fatalf("query with the profile: exit %d %q %q", r.code, r.stdout, r.err)
	}
	if r := f.kalam(t, "", append(noURL, "KALAM_PROFILE=dev"), "query", "--user", "root", "SELECT CURRENT_USER() AS me"); r.code != exitAuth {
		t.Fatalf("--user overrides the profile (root with alice's password): exit %d", r.code)
	}
	r = f.kalam(t, "", nil, "profile", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "dev") || !strings.Contains(r.stdout, "shop") {
		t.Fatalf("profile list: %q", r.stdout)
	}
	if r := f.kalam(t, "", nil, "profile", "set", "bad", "--url", "localhost:2900"); r.code != exitUsage {
		t.Fatalf("profile with a bad URL: exit %d", r.code)
	}
	if r := f.kalam(t, "", nil, "profile", "rm", "dev"); r.code != 0 {
		t.Fatalf("profile rm: %d", r.code)
	}
	if r := f.kalam(t, "", noURL, "-P", "dev", "query", "SELECT 1"); r.code != exitUsage {
		t.Fatalf("removed profile: exit %d", r.code)
	}
}
