package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestUsers(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	s := newStore(t, Options{Now: func() time.Time { return now }})

	// root exists without a password.
	if u, ok := s.LookupUser("root"); !ok || u.Role != "system" {
		t.Fatalf("root: %+v %v", u, ok)
	}
	if s.HasPassword("root") {
		t.Errorf("root starts with a password")
	}
	if _, err := s.Authenticate("root", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("root without password authenticated: %v", err)
	}
	if err := s.SetPassword("root", "RootPass123!"); err != nil {
		t.Fatal(err)
	}
	if !s.HasPassword("root") {
		t.Errorf("HasPassword after SetPassword")
	}

	email := "alice@example.com"
	if err := s.CreateUser("alice", "Secret123!", "user", &email); err != nil {
		t.Fatal(err)
	}
	email = "changed" // the store keeps its own copy
	u, err := s.Authenticate("alice", "Secret123!")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != "alice" || u.Role != "user" || u.Email == nil || *u.Email != "alice@example.com" || !u.CreatedAt.Equal(now) {
		t.Errorf("user %+v", u)
	}

	for _, tc := range []struct{ id, pw string }{
		{"alice", "wrong"}, {"alice", ""}, {"nobody", "Secret123!"}, {"", ""}, {"alice", strings.Repeat("x", 300)},
	} {
		if _, err := s.Authenticate(tc.id, tc.pw); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("Authenticate(%q): %v", tc.id, err)
		}
	}
	if err := s.CreateUser("alice", "x", "user", nil); !errors.Is(err, ErrUserExists) {
		t.Errorf("duplicate: %v", err)
	}
	for _, tc := range []struct{ id, role string }{{"", "user"}, {"x", "admin"}, {"a'b", "user"}, {strings.Repeat("x", 200), "user"}} {
		if err := s.CreateUser(tc.id, "pw", tc.role, nil); !errors.Is(err, ErrInvalidUser) {
			t.Errorf("CreateUser(%q, %q): %v", tc.id, tc.role, err)
		}
	}
	if err := s.SetPassword("nobody", "pw"); !errors.Is(err, ErrUserNotFound) {
		t.Errorf("SetPassword unknown: %v", err)
	}
	if err := s.SetPassword("alice", ""); !errors.Is(err, ErrInvalidUser) {
		t.Errorf("SetPassword empty: %v", err)
	}

	now = now.Add(time.Hour)
	if err := s.SetPassword("alice", "New456!"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate("alice", "Secret123!"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("old password still works")
	}
	u, err = s.Authenticate("alice", "New456!")
	if err != nil || !u.UpdatedAt.Equal(now) {
		t.Errorf("after SetPassword: %+v %v", u, err)
	}

	// SQL user management, and soft delete.
	mustExec(t, s, rootSess, "CREATE USER 'svc' WITH PASSWORD 'svc-pw' ROLE service")
	if _, err := s.Authenticate("svc", "svc-pw"); err != nil {
		t.Errorf("SQL-created user: %v", err)
	}
	mustExec(t, s, Session{User: "svc", Role: "service"}, "ALTER USER svc SET PASSWORD 'svc-pw2'")
	if _, err := s.Authenticate("svc", "svc-pw2"); err != nil {
		t.Errorf("self password change: %v", err)
	}
	e := execErr(t, s, Session{User: "svc", Role: "service"}, "ALTER USER alice SET PASSWORD 'hijack'")
	if e.Code != "PERMISSION_DENIED" {
		t.Errorf("altering another user: %s", e.Code)
	}
	mustExec(t, s, rootSess, "DROP USER svc")
	if _, ok := s.LookupUser("svc"); ok {
		t.Errorf("dropped user still found")
	}
	if _, err := s.Authenticate("svc", "svc-pw2"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("dropped user authenticated: %v", err)
	}
	if s.HasPassword("svc") {
		t.Errorf("dropped user HasPassword")
	}
	r := query(t, s, rootSess, "SELECT user_id, deleted_at IS NOT NULL FROM system.users ORDER BY user_id")
	if got := rowsJSON(t, r); got != `[["alice","0"],["root","0"],["svc","1"]]` {
		t.Errorf("system.users %s", got)
	}
	if e := execErr(t, s, rootSess, "DROP USER root"); !contains(e.Message, "Cannot drop user 'root'") {
		t.Errorf("drop root: %q", e.Message)
	}
}

// TestSecretsNotLeaked checks that no password reaches an error string,
// message or details, whatever goes wrong.
func TestSecretsNotLeaked(t *testing.T) {
	s := newStore(t)
	const secret = "Sup3rS3cret-pw"
	mustExec(t, s, rootSess, "CREATE USER leaky WITH PASSWORD '"+secret+"' ROLE user")
	sqls := []string{
		"CREATE USER leaky WITH PASSWORD '" + secret + "' ROLE user",              // exists
		"CREATE USER other WITH PASSWORD '" + secret + "' ROLE emperor",           // bad role
		"CREATE USER other WITH PASSWORD '" + secret + "' ROLE user EXTRA",        // syntax
		"CREATE USER other WITH PASSWORD '" + secret + "' ROLE user; SELECT nope", // later failure
		"CREATE USER other WITH PASSWORD '" + secret + "' ROLE user; DROP",        // parse failure elsewhere
		"ALTER USER ghost SET PASSWORD '" + secret + "'",                          // unknown user
		"ALTER USER leaky SET PASSWORD '" + secret + "' NOW",                      // syntax
		"EXECUTE AS USER 'bob' (ALTER USER leaky SET PASSWORD '" + secret + "')",  // not allowed
		"ALTER USER leaky SET PASSWORD '" + secret + "'; SELECT * FROM zz",
	}
	for _, sess := range []Session{rootSess, aliceSess, {User: "svc", Role: "service"}} {
		for _, q := range sqls {
			_, err := s.Exec(context.Background(), sess, q, nil)
			if err == nil {
				continue
			}
			var e *Error
			errors.As(err, &e)
			for _, text := range []string{err.Error(), e.Message, e.Details} {
				if strings.Contains(text, secret) {
					t.Errorf("%s as %s: secret in %q", q, sess.Role, text)
				}
			}
		}
	}
	if err := s.CreateUser("x", strings.Repeat(secret, 30), "user", nil); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("CreateUser error %v", err)
	}
	if _, err := s.Authenticate("leaky", secret+"x"); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("Authenticate error %v", err)
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := hashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := hashPassword("pw")
	if h == h2 {
		t.Errorf("hashes are not salted")
	}
	if strings.Contains(h, "pw$") || !strings.HasPrefix(h, "pbkdf2-sha256$") {
		t.Errorf("hash format %q", h)
	}
	if !checkPassword(h, "pw") || checkPassword(h, "pW") {
		t.Errorf("checkPassword")
	}
	for _, bad := range []string{"", "x", "pbkdf2-sha256$0$a$b", "pbkdf2-sha256$99999999$a$b", "pbkdf2-sha256$10$!!$b", "md5$1$a$b"} {
		if checkPassword(bad, "pw") {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
}
