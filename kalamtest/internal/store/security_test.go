package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kalamgo/kalam/transport/wire"
)

// Markers planted in rows a `user` must never read. A result or an error
// message that contains one is a leak.
const (
	secretMark = "TOPSECRET"
	bobMark    = "BOBSPRIVATE"
	hashMark   = "$argon2" // the prefix of stored password hashes
)

var carolSess = Session{User: "carol", Role: "user"}

// securityStore builds the fixture of the attacks: a private and a
// restricted SHARED table holding secrets, a public one, and a USER table
// with a row of bob's.
func securityStore(t testing.TB, opts ...Options) *Store {
	t.Helper()
	s := newStore(t, opts...)
	for _, q := range []string{
		"CREATE NAMESPACE shop",
		"CREATE SHARED TABLE shop.secrets (id BIGINT PRIMARY KEY, secret TEXT) WITH (ACCESS_LEVEL = 'private')",
		"CREATE SHARED TABLE shop.vault (id BIGINT PRIMARY KEY, secret TEXT) WITH (ACCESS_LEVEL = 'restricted')",
		"CREATE SHARED TABLE shop.pub (id BIGINT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'public')",
		"CREATE USER TABLE shop.notes (id BIGINT PRIMARY KEY, body TEXT)",
		"INSERT INTO shop.secrets VALUES (1, '" + secretMark + "')",
		"INSERT INTO shop.vault VALUES (1, '" + secretMark + "')",
		"INSERT INTO shop.pub VALUES (1, 'hello')",
		"CREATE USER carol WITH PASSWORD 'Carol-pass-1' ROLE user",
	} {
		mustExec(t, s, rootSess, q)
	}
	mustExec(t, s, Session{User: "bob", Role: "user"}, "INSERT INTO shop.notes VALUES (1, '"+bobMark+"')")
	mustExec(t, s, carolSess, "INSERT INTO shop.notes VALUES (2, 'mine')")
	return s
}

// deniedReads are spellings of reads a `user` must not get an answer to.
var deniedReads = []string{
	`SELECT * FROM system.users`,
	`SELECT * FROM "system.users"`,
	`SELECT * FROM "system"."users"`,
	`SELECT * FROM "SYSTEM.USERS"`,
	`SELECT * FROM main."system.users"`,
	`SELECT user_id FROM "system.users" WHERE 1 = 1`,
	`SELECT * FROM system.tables`,
	`SELECT * FROM "system.namespaces"`,
	`SELECT * FROM shop.secrets`,
	`SELECT * FROM "shop.secrets"`,
	`SELECT * FROM "shop"."secrets"`,
	`SELECT * FROM "Shop.Secrets"`,
	`SELECT * FROM "shop.vault"`,
	`SELECT * FROM (SELECT * FROM "shop.secrets")`,
	`SELECT (SELECT secret FROM "shop.secrets" LIMIT 1) AS s`,
	`SELECT 1 AS x WHERE EXISTS (SELECT 1 FROM "shop.secrets" WHERE secret LIKE 'TOP%')`,
	`WITH x AS (SELECT * FROM "shop.secrets") SELECT * FROM x`,
	`WITH RECURSIVE x(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM x WHERE n < 2) SELECT * FROM x, "shop.secrets"`,
	`WITH notes AS (SELECT * FROM "system.users") SELECT * FROM notes`,
	`SELECT * FROM shop.pub JOIN "shop.secrets" ON 1 = 1`,
	`SELECT * FROM shop.pub p LEFT JOIN "shop"."secrets" s ON s.id = p.id`,
	`SELECT id, v FROM shop.pub UNION ALL SELECT id, secret FROM "shop.secrets"`,
	`SELECT 1 AS x WHERE 1 IN "shop.secrets"`,
	`SELECT * FROM sqlite_master`,
	`SELECT * FROM "sqlite_schema"`,
	`SELECT * FROM pragma_table_list`,
	`SELECT * FROM "shop.notes#"`,
	`SELECT * FROM _kalam_users`,
	`SELECT kalam_capture('shop.notes', 1, 'bob', 999999999999999999, NULL, 77, 'FORGED')`,
	`SELECT KALAM_CAPTURE('shop.notes', 1)`,
	`SELECT "kalam_capture"('shop.notes', 1)`,
	`SELECT kalam_pk_violation('shop.notes', 1)`,
	`SELECT * FROM shop.notes WHERE kalam_capture('shop.notes', 1, 'bob', 1, NULL, 1, 'x') IS NULL`,
}

// deniedWrites would copy secrets into the caller's own table, or forge a
// change.
var deniedWrites = []string{
	`INSERT INTO shop.notes (id, body) SELECT id + 100, secret FROM "shop.secrets"`,
	`INSERT INTO shop.notes (id, body) VALUES (100, (SELECT secret FROM "shop.secrets"))`,
	`INSERT INTO shop.notes (id, body) WITH x AS (SELECT * FROM "shop"."secrets") SELECT id + 100, secret FROM x`,
	`INSERT INTO shop.notes (id, body) SELECT 100, user_id FROM "system.users"`,
	`UPDATE shop.notes SET body = (SELECT secret FROM "shop.secrets" LIMIT 1)`,
	`UPDATE shop.notes SET body = 'x' WHERE EXISTS (SELECT 1 FROM "shop.secrets")`,
	`DELETE FROM shop.notes WHERE id IN (SELECT id FROM "shop.secrets")`,
	`INSERT INTO shop.notes (id, body) VALUES (100, kalam_capture('shop.notes', 1, 'bob', 1, NULL, 1, 'x'))`,
	`UPDATE shop.notes SET body = kalam_capture('shop.notes', 1, 'bob', 1, NULL, 1, 'x')`,
	`INSERT INTO shop.secrets VALUES (2, 'x')`,
	`INSERT INTO "shop.secrets" VALUES (2, 'x')`,
	`INSERT INTO "system.users" VALUES ('eve', 'system', NULL, 0, 0, NULL)`,
}

func TestUserCannotReadDeniedTables(t *testing.T) {
	s := securityStore(t)
	w := watch(t, s)
	for _, q := range append(append([]string{}, deniedReads...), deniedWrites...) {
		res, err := s.Exec(context.Background(), carolSess, q, nil)
		if err == nil {
			t.Errorf("%s\n  a user got an answer: %s", q, toJSON(t, res))
			continue
		}
		assertNoLeak(t, q, err.Error())
	}
	// Nothing was copied into carol's table, and no change was forged.
	if got := rowsJSON(t, query(t, s, carolSess, "SELECT id, body FROM shop.notes ORDER BY id")); got != `[["2","mine"]]` {
		t.Errorf("carol's notes after the attacks: %s", got)
	}
	if chs := w.drain(); len(chs) != 0 {
		t.Errorf("the attacks produced %d changes: %+v", len(chs), chs)
	}
}

func assertNoLeak(t *testing.T, q, text string) {
	t.Helper()
	for _, m := range []string{secretMark, bobMark, hashMark} {
		if strings.Contains(text, m) {
			t.Errorf("%s\n  leaked %q: %s", q, m, text)
		}
	}
}

// The checks must not get in the way of what is allowed.
func TestAllowedReadsStillWork(t *testing.T) {
	s := securityStore(t)
	for _, c := range []struct {
		sess Session
		q    string
		want string
	}{
		{carolSess, `SELECT id, body FROM "shop.notes"`, `[["2","mine"]]`},
		{carolSess, `SELECT id, body FROM "shop"."notes"`, `[["2","mine"]]`},
		{carolSess, `WITH x AS (SELECT * FROM shop.notes) SELECT id FROM x`, `[["2"]]`},
		{carolSess, `SELECT v FROM "shop.pub"`, `[["hello"]]`},
		{carolSess, `SELECT id FROM "SHOP.NOTES"`, `[["2"]]`},
		{carolSess, `SELECT count(*) AS n FROM "shop.notes"`, `[["1"]]`},
		{carolSess, `SELECT n.id FROM shop.notes n JOIN shop.pub p ON p.id + 1 = n.id`, `[["2"]]`},
		{Session{User: "svc", Role: "service"}, `SELECT secret FROM "shop.secrets"`, `[["` + secretMark + `"]]`},
		{Session{User: "root", Role: "dba"}, `SELECT count(*) AS n FROM "system.users" WHERE user_id = 'carol'`, `[["1"]]`},
		{rootSess, `WITH x AS (SELECT * FROM "shop"."vault") SELECT secret FROM x`, `[["` + secretMark + `"]]`},
	} {
		if got := rowsJSON(t, query(t, s, c.sess, c.q)); got != c.want {
			t.Errorf("%s as %s: got %s, want %s", c.q, c.sess.Role, got, c.want)
		}
	}
	// A write still reaches its own table and the change feed.
	w := watch(t, s)
	mustExec(t, s, carolSess, `INSERT INTO shop.notes (id, body) SELECT id + 10, v FROM shop.pub`)
	mustExec(t, s, carolSess, `UPDATE shop.notes SET body = 'x' WHERE id IN (SELECT id + 10 FROM shop.pub)`)
	mustExec(t, s, carolSess, `DELETE FROM shop.notes WHERE id = 11`)
	if n := len(w.drain()); n != 3 {
		t.Errorf("changes of three writes: %d", n)
	}
}

// A statement prepared for an admin and cached must still be refused to a
// user: the permission check runs on every use, not only at compile time.
func TestCachedStatementIsCheckedPerCaller(t *testing.T) {
	s := securityStore(t)
	q := `SELECT * FROM (SELECT secret FROM "shop.secrets")`
	for range 2 {
		query(t, s, rootSess, q)
		if _, err := s.Exec(context.Background(), carolSess, q, nil); err == nil {
			t.Fatal("a user reused an admin's cached statement")
		}
	}
}

func TestInternalFunctionWrongArityDoesNotPanic(t *testing.T) {
	s := securityStore(t)
	// Only reachable from the store's own triggers, but it must fail
	// cleanly whatever it is given.
	if e := execErr(t, s, rootSess, `SELECT kalam_capture('shop.notes', 1)`); e.Status == 0 {
		t.Fatal(e)
	}
	if e := execErr(t, s, rootSess, `SELECT kalam_capture('shop.notes', 2, 'x', 1, 1, 1)`); e.Status == 0 {
		t.Fatal(e)
	}
}

func TestStatementTimeout(t *testing.T) {
	s := securityStore(t, Options{Limits: Limits{StatementTimeout: 2 * time.Second}}) // room for the setup's password hashing on a loaded machine
	start := time.Now()
	e := execErr(t, s, carolSess, `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r`)
	if !strings.Contains(e.Message, "statement timeout") || e.Code != wire.CodeSQLExecutionError {
		t.Fatalf("recursive CTE: %v", e)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the timeout of 2s took %v", d)
	}
	// The store serves the next statement.
	if got := rowsJSON(t, query(t, s, carolSess, "SELECT id FROM shop.notes")); got != `[["2"]]` {
		t.Fatal(got)
	}
}

// oomSQL needs about 22 MiB at once (twelve sorted rows of 1.8 MB) but no
// single value over 2 MiB, and costs little CPU.
const oomSQL = `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 12)
	SELECT n, hex(zeroblob(900000)) AS b FROM r ORDER BY n DESC`

func TestMemoryLimits(t *testing.T) {
	s := securityStore(t)
	e := execErr(t, s, carolSess, `SELECT length(randomblob(999999999)) AS n`)
	if !strings.Contains(e.Message, "Value too large") {
		t.Fatalf("huge blob: %v", e)
	}
	// Many values each under the length limit, together over the heap
	// limit: the driver panics on out-of-memory, the store must recover.
	s2 := securityStore(t, Options{Limits: Limits{HeapLimit: 8 << 20, MaxValueBytes: 2 << 20}})
	e = execErr(t, s2, carolSess, oomSQL)
	if !strings.Contains(e.Message, "Out of memory") {
		t.Fatalf("over the heap limit: %v", e)
	}
	for range 3 {
		if got := rowsJSON(t, query(t, s2, carolSess, "SELECT id FROM shop.notes")); got != `[["2"]]` {
			t.Fatal(got)
		}
	}
	// An out-of-memory inside an explicit transaction rolls it back.
	_, err := s2.Exec(context.Background(), carolSess, `BEGIN; INSERT INTO shop.notes VALUES (50, 'tx'); `+oomSQL+`; COMMIT`, nil)
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("transaction over the heap limit: %v", err)
	}
	if got := rowsJSON(t, query(t, s2, carolSess, "SELECT id FROM shop.notes ORDER BY id")); got != `[["2"]]` {
		t.Fatalf("after the failed transaction: %s", got)
	}
}
