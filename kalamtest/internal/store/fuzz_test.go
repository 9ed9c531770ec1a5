package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzUserSQL generates SQL from a grammar of the attacks (every spelling
// of the denied tables, nested in subqueries, CTEs, joins, set operations,
// INSERT … SELECT, UPDATE and DELETE conditions, EXECUTE AS, the internal
// functions) and also runs the raw input as SQL, as the user carol. It
// fails when carol reads what the rules deny, changes what she may not,
// forges a change, or a request panics.
//
//	go test -run '^$' -fuzz FuzzUserSQL -fuzztime 2m ./kalamtest/internal/store
func FuzzUserSQL(f *testing.F) {
	for _, q := range append(append([]string{}, deniedReads...), deniedWrites...) {
		f.Add([]byte{}, q)
	}
	r := mrand.New(mrand.NewPCG(1, 2))
	for range 64 {
		f.Add(randomChoice(r), "")
	}
	fx := newFuzzFixture(f)
	f.Fuzz(func(t *testing.T, choice []byte, raw string) {
		fx.mu.Lock()
		defer fx.mu.Unlock()
		fx.run(t, genSQL(&byteSource{b: choice}))
		if raw != "" {
			fx.run(t, raw)
		}
	})
}

// fuzzFixture is securityStore with secrets no input can guess: random
// values, so a literal in the SQL can never fake a leak.
type fuzzFixture struct {
	mu      sync.Mutex
	s       *Store
	w       *collector
	secrets []string
	ctx     context.Context
}

func newFuzzFixture(tb testing.TB) *fuzzFixture {
	var b [12]byte
	rand.Read(b[:])
	secret := "S" + hex.EncodeToString(b[:])
	rand.Read(b[:])
	bobs := "B" + hex.EncodeToString(b[:])
	rand.Read(b[:])
	hidden := "u" + hex.EncodeToString(b[:])
	s := newStore(tb, Options{Limits: Limits{StatementTimeout: 250 * time.Millisecond, HeapLimit: 64 << 20, MaxValueBytes: 1 << 20}})
	for _, q := range []string{
		"CREATE NAMESPACE shop",
		"CREATE SHARED TABLE shop.secrets (id BIGINT PRIMARY KEY, secret TEXT) WITH (ACCESS_LEVEL = 'private')",
		"CREATE SHARED TABLE shop.vault (id BIGINT PRIMARY KEY, secret TEXT) WITH (ACCESS_LEVEL = 'restricted')",
		"CREATE SHARED TABLE shop.pub (id BIGINT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'public')",
		"CREATE USER TABLE shop.notes (id BIGINT PRIMARY KEY, body TEXT)",
		"INSERT INTO shop.secrets VALUES (1, '" + secret + "')",
		"INSERT INTO shop.vault VALUES (1, '" + secret + "')",
		"INSERT INTO shop.pub VALUES (1, 'hello')",
		"CREATE USER carol WITH PASSWORD 'Carol-pass-1' ROLE user",
		"CREATE USER " + hidden + " WITH PASSWORD 'Hidden-pass-1' ROLE user",
	} {
		mustExec(tb, s, rootSess, q)
	}
	mustExec(tb, s, Session{User: "bob", Role: "user"}, "INSERT INTO shop.notes VALUES (1, '"+bobs+"')")
	return &fuzzFixture{s: s, w: watch(tb, s), secrets: []string{secret, bobs, hidden}, ctx: context.Background()}
}

// run executes q as carol, checks the rules and returns the error.
func (fx *fuzzFixture) run(t *testing.T, q string) error {
	t.Helper()
	res, err := fx.s.Exec(fx.ctx, carolSess, q, nil)
	out := fmt.Sprint(err)
	if err == nil {
		out = toJSON(t, res)
	}
	for _, sec := range fx.secrets {
		if strings.Contains(out, sec) || strings.Contains(strings.ToLower(out), strings.ToLower(sec)) {
			t.Fatalf("carol read a denied value with %q:\n%s", q, out)
		}
	}
	for _, ch := range fx.w.drain() {
		if ch.Owner != "carol" || ch.Table != "shop.notes" {
			t.Fatalf("%q produced a change carol may not make: %+v", q, ch)
		}
	}
	if err := fx.s.Check(); err != nil {
		t.Fatalf("%q left the store unusable: %v", q, err)
	}
	// Protected rows are intact (as root, who sees them).
	got := rowsJSON(t, query(t, fx.s, rootSess, "SELECT (SELECT secret FROM shop.secrets WHERE id = 1) AS a, "+
		"(SELECT secret FROM shop.vault WHERE id = 1) AS b, (SELECT count(*) FROM shop.secrets) AS c"))
	if want := `[["` + fx.secrets[0] + `","` + fx.secrets[0] + `","1"]]`; got != want {
		t.Fatalf("%q changed a table carol may not write: %s", q, got)
	}
	got = rowsJSON(t, query(t, fx.s, Session{User: "bob", Role: "user"}, "SELECT id, body FROM shop.notes"))
	if want := `[["1","` + fx.secrets[1] + `"]]`; got != want {
		t.Fatalf("%q changed bob's rows: %s", q, got)
	}
	return err
}

func randomChoice(r *mrand.Rand) []byte {
	b := make([]byte, 24)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return b
}

// byteSource hands out the fuzzer's bytes as choices (0 once used up).
type byteSource struct {
	b []byte
	i int
}

func (s *byteSource) pick(n int) int {
	if len(s.b) == 0 || n <= 0 {
		return 0
	}
	// Past the end, reuse the bytes shifted, so a short input still
	// varies its later choices.
	v := (int(s.b[s.i%len(s.b)]) + s.i/len(s.b)*7) % n
	s.i++
	return v
}

func (s *byteSource) of(xs []string) string { return xs[s.pick(len(xs))] }

// The grammar's pieces.
var (
	fuzzTables = []string{
		`shop.notes`, `"shop.notes"`, `"shop"."notes"`, `shop.pub`, `"shop.pub"`,
		`shop.secrets`, `"shop.secrets"`, `"shop"."secrets"`, `"SHOP.SECRETS"`, `Shop.Secrets`, `"shop".secrets`, `main."shop.secrets"`,
		`shop.vault`, `"shop.vault"`, `system.users`, `"system.users"`, `"system"."users"`, `"System.Users"`, `SYSTEM.USERS`,
		`system.tables`, `"system.namespaces"`, `_kalam_users`, `"_kalam_users"`, `"shop.secrets#"`, `"shop.notes#"`,
		`sqlite_master`, `"sqlite_schema"`, `main.sqlite_master`, `temp.sqlite_master`, `pragma_table_list`, `notes`, `secrets`,
	}
	fuzzCols  = []string{"*", "id", "secret", "body", "v", "user_id", "count(*)", "1", "_seq", "_deleted", "_kalam_owner", "rowid", "sql"}
	fuzzFuncs = []string{
		"kalam_capture('shop.notes', 1, 'bob', 999999999999999999, NULL, 77, 'FORGED')",
		"KALAM_CAPTURE('shop.notes', 1)", `"kalam_capture"('shop.notes', 1, 'bob', 1, NULL, 1, 'x')`, "kalam_capture()",
		"kalam_capture('shop.notes', 2, 'bob', 1, 1, 1, 'x', 1, 'y')", "kalam_pk_violation('shop.notes', 1)",
		"kalam_in('BIGINT', 'id', 'x')", "kalam_user()", "current_user()", "randomblob(999999999)", "zeroblob(2000000)",
		"length(randomblob(100))", "upper('a')", "typeof(1)", "sqlite_version()", "load_extension('x')", "snowflake_id()",
	}
)

// genSQL builds one statement (or a short batch) from src.
func genSQL(src *byteSource) string {
	sel := genSelect(src, 0)
	switch src.pick(9) {
	case 0:
		return sel
	case 1:
		return "INSERT INTO shop.notes (id, body) " + sel
	case 2:
		return "UPDATE shop.notes SET body = (" + sel + ") WHERE id = 2"
	case 3:
		return "DELETE FROM shop.notes WHERE id IN (" + sel + ")"
	case 4:
		return "EXECUTE AS USER " + src.of([]string{"'bob'", "bob", "'carol'", "'root'"}) + " (" + sel + ")"
	case 5:
		return "USE shop; " + sel
	case 6:
		return "BEGIN; INSERT INTO shop.notes (id, body) VALUES (" + fmt.Sprint(100+src.pick(50)) + ", 'x'); " + sel + "; COMMIT"
	case 7:
		return "INSERT INTO " + src.of(fuzzTables) + " VALUES (" + fmt.Sprint(src.pick(5)) + ", " + src.of(fuzzFuncs) + ")"
	}
	return "SELECT " + src.of(fuzzFuncs) + " AS f"
}

func genSelect(src *byteSource, depth int) string {
	from := genFrom(src, depth)
	cols := src.of(fuzzCols)
	if src.pick(4) == 0 {
		cols += ", " + src.of(fuzzFuncs)
	}
	q := "SELECT " + cols + " FROM " + from
	n := 7
	if depth > 2 {
		n = 2 // no deeper nesting: the generator must end
	}
	switch src.pick(n) {
	case 1:
		q += " WHERE " + src.of(fuzzFuncs) + " IS NOT NULL"
	case 2:
		q += " WHERE EXISTS (" + genSelect(src, depth+1) + ")"
	case 3:
		q += " WHERE id IN " + src.of(fuzzTables)
	case 4:
		q += " UNION ALL " + genSelect(src, depth+1)
	case 5:
		q = "WITH " + src.of([]string{"x", `"shop.notes"`, "notes", `"shop.pub"`}) + " AS (" + genSelect(src, depth+1) + ") " + q
	}
	return q
}

func genFrom(src *byteSource, depth int) string {
	if depth > 2 {
		return src.of(fuzzTables)
	}
	switch src.pick(6) {
	case 1:
		return "(" + genSelect(src, depth+1) + ") AS sub"
	case 2:
		return src.of(fuzzTables) + " a JOIN " + src.of(fuzzTables) + " b ON 1 = 1"
	case 3:
		return src.of(fuzzTables) + ", " + src.of(fuzzTables)
	case 4:
		return src.of(fuzzTables) + " LEFT JOIN (" + genSelect(src, depth+1) + ") j ON 1 = 1"
	}
	return src.of(fuzzTables)
}

// TestFuzzSeedsGenerateAttacks makes sure the grammar reaches the denied
// tables and functions, so the fuzzer is not exploring harmless SQL only.
func TestFuzzSeedsGenerateAttacks(t *testing.T) {
	hits := map[string]int{}
	r := mrand.New(mrand.NewPCG(3, 4))
	for range 2000 {
		q := genSQL(&byteSource{b: randomChoice(r)})
		for _, k := range []string{"secrets", "system", "kalam_capture", "EXECUTE AS", "WITH", "JOIN", "INSERT", "UPDATE", "DELETE"} {
			if strings.Contains(q, k) {
				hits[k]++
			}
		}
	}
	for _, k := range []string{"secrets", "system", "kalam_capture", "EXECUTE AS", "WITH", "JOIN", "INSERT", "UPDATE", "DELETE"} {
		if hits[k] == 0 {
			t.Errorf("the grammar never produced %q", k)
		}
	}
	fx := newFuzzFixture(t)
	var ok, deniedN int
	for range 300 {
		err := fx.run(t, genSQL(&byteSource{b: randomChoice(r)}))
		switch {
		case err == nil:
			ok++
		case strings.Contains(err.Error(), "PERMISSION_DENIED"):
			deniedN++
		}
	}
	// Both answers must be common, or the grammar tests only one side.
	if ok < 10 || deniedN < 30 {
		t.Fatalf("of 300 generated statements %d succeeded and %d were denied", ok, deniedN)
	}
	t.Logf("of 300 generated statements %d succeeded and %d were denied", ok, deniedN)
}
