package store

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/kalamgo/kalam/transport/wire"
)

// The tests in this file pin behaviours where KalamDB differs from what
// plain SQLite would do; each names the KalamDB behaviour it reproduces.

// KalamDB casts every written value to the column's type and refuses what
// the cast cannot take; SQLite's affinity alone would store the text.
func TestNumericColumnsRejectWhatTheTypeCannotHold(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, "CREATE TABLE app.nums (id INT PRIMARY KEY, small SMALLINT, n INT, big BIGINT, f FLOAT, d DOUBLE, m DECIMAL(10, 2)) WITH (TYPE = 'USER')")
	bad := []struct{ sql, msg string }{
		{"INSERT INTO app.nums (id, n) VALUES (1, 'not_a_number')", "Statement 1 failed: Arrow error: Cast error: Cannot cast string 'not_a_number' to value of Int32 type"},
		{"INSERT INTO app.nums (id, big) VALUES (1, 'x1')", "Statement 1 failed: Arrow error: Cast error: Cannot cast string 'x1' to value of Int64 type"},
		{"INSERT INTO app.nums (id, small) VALUES (1, 40000)", "Statement 1 failed: Arrow error: Cast error: Can't cast value 40000 to type Int16"},
		{"INSERT INTO app.nums (id, n) VALUES (1, 3000000000)", "Statement 1 failed: Arrow error: Cast error: Can't cast value 3000000000 to type Int32"},
		{"INSERT INTO app.nums (id, d) VALUES (1, 'abc')", "Statement 1 failed: Arrow error: Cast error: Cannot cast string 'abc' to value of Float64 type"},
		{"INSERT INTO app.nums (id, f) VALUES (1, x'00')", "Statement 1 failed: Arrow error: Cast error: Unsupported CAST from Binary to Float32"},
		{"INSERT INTO app.nums (id, m) VALUES (1, 'ten')", "Statement 1 failed: Arrow error: Cast error: Cannot cast string 'ten' to value of Decimal128 type"},
		{"INSERT INTO app.nums (id) VALUES ('one')", "Statement 1 failed: Arrow error: Cast error: Cannot cast string 'one' to value of Int32 type"},
	}
	for _, c := range bad {
		e := execErr(t, s, rootSess, c.sql)
		if e.Status != http.StatusBadRequest || e.Code != wire.CodeSQLExecutionError || e.Message != c.msg {
			t.Errorf("%s: got %d %s %q, want 400 %s %q", c.sql, e.Status, e.Code, e.Message, wire.CodeSQLExecutionError, c.msg)
		}
		// Like other execution errors, the cast error is generic for
		// callers below dba.
		if e := execErr(t, s, aliceSess, c.sql); e.Message != "SQL statement failed" {
			t.Errorf("%s as a user: message %q, want the generic one", c.sql, e.Message)
		}
	}
	if r := query(t, s, rootSess, "SELECT count(*) FROM app.nums"); rowsJSON(t, r) != `[["0"]]` {
		t.Fatalf("a refused value left rows behind: %s", rowsJSON(t, r))
	}

	// Values the casts take: numeric text, reals truncated into integers,
	// integers widened into reals.
	mustExec(t, s, rootSess, "INSERT INTO app.nums VALUES ('7', '-3', 2.9, '9007199254740993', 1, '2.5', '1.25')")
	mustExec(t, s, rootSess, "INSERT INTO app.nums (id, n) VALUES ($1, $2)", "8", "42")
	r := query(t, s, rootSess, "SELECT id, small, n, big, f, d, m FROM app.nums ORDER BY id")
	if got, want := rowsJSON(t, r), `[[7,-3,2,"9007199254740993",1,2.5,"1.25"],[8,null,42,null,null,null,null]]`; got != want {
		t.Fatalf("rows %s, want %s", got, want)
	}

	// UPDATE is checked the same way, and a refused value changes nothing.
	e := execErr(t, s, rootSess, "UPDATE app.nums SET n = 'seven' WHERE id = 7")
	if e.Message != "Statement 1 failed: Arrow error: Cast error: Cannot cast string 'seven' to value of Int32 type" {
		t.Fatalf("UPDATE: %q", e.Message)
	}
	if r := query(t, s, rootSess, "SELECT n FROM app.nums WHERE id = 7"); rowsJSON(t, r) != `[[2]]` {
		t.Fatalf("after a refused UPDATE: %s", rowsJSON(t, r))
	}
	// A DEFAULT literal must fit the column too.
	e = execErr(t, s, rootSess, "CREATE TABLE app.bad (id INT PRIMARY KEY, n INT DEFAULT 'many') WITH (TYPE = 'USER')")
	if !contains(e.Message, "invalid DEFAULT for column 'n'") {
		t.Fatalf("DEFAULT: %q", e.Message)
	}
}

// KalamDB skips rows an UPDATE would leave unchanged: no new version, no
// change event, and they are not counted.
func TestUpdateToTheSameValuesChangesNothing(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, "CREATE TABLE app.items (id BIGINT PRIMARY KEY, name TEXT, qty INT, ok BOOLEAN) WITH (TYPE = 'USER')")
	mustExec(t, s, aliceSess, "INSERT INTO items VALUES (1, 'a', 5, true), (2, 'b', 6, false), (3, NULL, 7, NULL)")
	before := query(t, s, aliceSess, "SELECT id, _seq FROM items ORDER BY id")
	c := watch(t, s)
	for _, q := range []string{
		"UPDATE items SET name = 'a' WHERE id = 1",
		"UPDATE items SET qty = '5', ok = 'true' WHERE id = 1",
		"UPDATE items SET name = NULL WHERE id = 3",
		"UPDATE items SET qty = $1 WHERE id = 2",
	} {
		var params []any
		if contains(q, "$1") {
			params = []any{int64(6)}
		}
		r := mustExec(t, s, aliceSess, q, params...)
		if got := r.Results[0]; got.RowCount != 0 || got.Message != "Updated 0 row(s)" {
			t.Errorf("%s: row_count %d %q, want 0", q, got.RowCount, got.Message)
		}
	}
	if got := c.drain(); len(got) != 0 {
		t.Errorf("no-op updates sent %d changes", len(got))
	}
	if after := query(t, s, aliceSess, "SELECT id, _seq FROM items ORDER BY id"); rowsJSON(t, after) != rowsJSON(t, before) {
		t.Errorf("no-op updates wrote new versions: %s → %s", rowsJSON(t, before), rowsJSON(t, after))
	}
	// Only the rows that really change count.
	r := mustExec(t, s, aliceSess, "UPDATE items SET qty = 6")
	if got := r.Results[0].RowCount; got != 2 {
		t.Errorf("UPDATE qty = 6 over 5, 6, 7: row_count %d, want 2", got)
	}
	if got := c.drain(); len(got) != 2 {
		t.Errorf("%d changes, want 2", len(got))
	}
}

// KalamDB rewrites AUTO_INCREMENT to DEFAULT SNOWFLAKE_ID().
func TestAutoIncrementBecomesASnowflakeDefault(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, "CREATE TABLE app.posts (id BIGINT AUTO_INCREMENT PRIMARY KEY, body TEXT) WITH (TYPE = 'USER')")
	mustExec(t, s, rootSess, "CREATE TABLE app.notes (id BIGINT PRIMARY KEY auto_increment, body TEXT) WITH (TYPE = 'USER')")
	for _, tbl := range []string{"posts", "notes"} {
		mustExec(t, s, aliceSess, "INSERT INTO "+tbl+" (body) VALUES ('a'), ('b')")
		r := query(t, s, aliceSess, "SELECT id, _seq FROM "+tbl+" ORDER BY id")
		if len(r.Rows) != 2 {
			t.Fatalf("%s: %s", tbl, rowsJSON(t, r))
		}
		var ids [2]wire.SeqID
		for i, row := range r.Rows {
			var txt string
			if err := json.Unmarshal(row[0], &txt); err != nil {
				t.Fatalf("%s: id cell %s is not a BigInt string", tbl, row[0])
			}
			n, err := strconv.ParseInt(txt, 10, 64)
			if err != nil {
				t.Fatalf("%s: id %q", tbl, txt)
			}
			ids[i] = wire.SeqID(n)
		}
		// Snowflakes: distinct, increasing, and stamped with the present.
		if ids[0] >= ids[1] || time.Since(time.UnixMilli(ids[0].UnixMillis())) > time.Minute {
			t.Errorf("%s: ids %d, %d are not fresh Snowflakes", tbl, ids[0], ids[1])
		}
	}
	e := execErr(t, s, rootSess, "CREATE TABLE app.both (id BIGINT AUTO_INCREMENT DEFAULT 1 PRIMARY KEY) WITH (TYPE = 'USER')")
	if e.Code != wire.CodeInvalidSQL {
		t.Errorf("AUTO_INCREMENT with DEFAULT: %s %q", e.Code, e.Message)
	}
}

// KalamDB checks each statement's role permission before it runs any of
// them: a batch with one forbidden statement changes nothing.
func TestBatchWithAForbiddenStatementChangesNothing(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, "CREATE TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE = 'USER')")
	cases := []struct{ sql, msg string }{
		{"INSERT INTO notes VALUES (1, 'a'); CREATE NAMESPACE mine", "Admin privileges (DBA or System role) required for namespace operations"},
		{"INSERT INTO notes VALUES (1, 'a'); DROP NAMESPACE app", "Admin privileges (DBA or System role) required for namespace operations"},
		{"INSERT INTO notes VALUES (1, 'a'); CREATE USER eve WITH PASSWORD 'pw-123456' ROLE dba", "Admin privileges (DBA or System role) required for user management"},
		{"INSERT INTO notes VALUES (1, 'a'); SELECT 1; DROP USER bob", "Admin privileges (DBA or System role) required for user management"},
		{"INSERT INTO notes VALUES (1, 'a'); EXECUTE AS USER alice (CREATE NAMESPACE mine)", "Admin privileges (DBA or System role) required for namespace operations"},
	}
	c := watch(t, s)
	for _, tc := range cases {
		e := execErr(t, s, aliceSess, tc.sql)
		if e.Status != http.StatusForbidden || e.Code != wire.CodePermissionDenied || e.Message != tc.msg {
			t.Errorf("%s: got %d %s %q, want 403 %s %q", tc.sql, e.Status, e.Code, e.Message, wire.CodePermissionDenied, tc.msg)
		}
	}
	if r := query(t, s, aliceSess, "SELECT count(*) FROM notes"); rowsJSON(t, r) != `[["0"]]` {
		t.Errorf("statement 1 of a refused batch ran: %s", rowsJSON(t, r))
	}
	if got := c.drain(); len(got) != 0 {
		t.Errorf("a refused batch sent %d changes", len(got))
	}
	if _, ok := s.LookupUser("eve"); ok {
		t.Error("a refused batch created a user")
	}
	// A service account is refused the same way; dba runs the batch.
	svc := Session{User: "svc", Role: "service", Namespace: "app"}
	if e := execErr(t, s, svc, cases[0].sql); e.Code != wire.CodePermissionDenied {
		t.Errorf("service: %s %q", e.Code, e.Message)
	}
	mustExec(t, s, Session{User: "dan", Role: "dba", Namespace: "app"}, cases[0].sql)
}

// system.users has KalamDB's auth_type and auth_data; CREATE USER takes
// KalamDB's role aliases and WITH OAUTH '{json}'.
func TestUserAuthTypesAndRoleAliases(t *testing.T) {
	s := newStore(t)
	for _, q := range []string{
		"CREATE USER dev WITH PASSWORD 'pw-123456' ROLE developer",
		"CREATE USER ann WITH PASSWORD 'pw-123456' ROLE analyst",
		"CREATE USER vic WITH PASSWORD 'pw-123456' ROLE viewer",
		"CREATE USER ro WITH PASSWORD 'pw-123456' ROLE readonly",
		"CREATE USER adm WITH PASSWORD 'pw-123456' ROLE Admin",
		`CREATE USER 'gh' WITH OAUTH '{"provider":"https://github.com/login/oauth","subject":"12345"}' ROLE user EMAIL 'gh@example.com'`,
		`CREATE USER kc WITH OAUTH '{"provider":"https://id.example.com/realms/main","subject":"u-1"}' ROLE service`,
		"CREATE USER bot WITH INTERNAL ROLE service",
	} {
		mustExec(t, s, rootSess, q)
	}
	mustExec(t, s, rootSess, "ALTER USER vic SET ROLE developer")
	r := query(t, s, rootSess, "SELECT user_id, role, auth_type, auth_data FROM system.users WHERE user_id <> 'root' ORDER BY user_id")
	want := `[["adm","dba","password",null],["ann","service","password",null],["bot","service","internal",null],` +
		`["dev","service","password",null],` +
		`["gh","user","oauth","{\"provider_type\":\"github\",\"issuer\":\"https://github.com/login/oauth\",\"subject\":\"12345\"}"],` +
		`["kc","service","oauth","{\"provider_type\":\"keycloak\",\"issuer\":\"https://id.example.com/realms/main\",\"subject\":\"u-1\"}"],` +
		`["ro","user","password",null],["vic","service","password",null]]`
	if got := rowsJSON(t, r); got != want {
		t.Errorf("system.users\n got %s\nwant %s", got, want)
	}
	if got := toJSON(t, r.Schema[2:]); got != `[{"name":"auth_type","data_type":"Text","index":2,"flags":["nn"]},{"name":"auth_data","data_type":"Json","index":3}]` {
		t.Errorf("schema %s", got)
	}
	if u, ok := s.LookupUser("gh"); !ok || u.AuthType != "oauth" {
		t.Errorf("LookupUser(gh) = %+v", u)
	}
	// OAuth and internal users have no password to log in with.
	for _, id := range []string{"gh", "bot"} {
		if _, err := s.Authenticate(id, ""); err == nil {
			t.Errorf("%s logged in without a password", id)
		}
	}
	bad := []struct{ sql, msg string }{
		{"CREATE USER o1 WITH OAUTH ROLE user", "Statement 1 failed: Invalid operation: OAuth user requires JSON payload with provider and subject"},
		{"CREATE USER o2 WITH OAUTH 'not json' ROLE user", "Statement 1 failed: Invalid operation: Invalid OAuth JSON"},
		{`CREATE USER o3 WITH OAUTH '{"subject":"s"}' ROLE user`, "Statement 1 failed: Invalid operation: OAuth user requires 'provider' field"},
		{`CREATE USER o4 WITH OAUTH '{"provider":"p","subject":7}' ROLE user`, "Statement 1 failed: Invalid operation: OAuth user requires 'subject' field"},
		{"CREATE USER o5 WITH PASSWORD 'pw-123456' ROLE wizard", "Statement 1 failed: Invalid operation: invalid role 'wizard' (user, service, dba or system)"},
	}
	for _, c := range bad {
		if e := execErr(t, s, rootSess, c.sql); e.Message != c.msg {
			t.Errorf("%s: %q, want %q", c.sql, e.Message, c.msg)
		}
	}
}

// A store file written before auth_type existed opens, and its users read
// as password users.
func TestUsersOfAnOlderStoreFileGetAnAuthType(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, s, rootSess, "CREATE USER carol WITH PASSWORD 'pw-123456' ROLE user")
	// Take the store back to the old layout.
	for _, q := range []string{`DROP VIEW "system.users"`, `ALTER TABLE _kalam_users DROP COLUMN auth_data`,
		`ALTER TABLE _kalam_users DROP COLUMN auth_type`} {
		if err := s.db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := query(t, s, rootSess, "SELECT user_id, auth_type FROM system.users ORDER BY user_id")
	if got := rowsJSON(t, r); got != `[["carol","password"],["root","password"]]` {
		t.Errorf("after migration: %s", got)
	}
	if _, err := s.Authenticate("carol", "pw-123456"); err != nil {
		t.Errorf("carol cannot log in after migration: %v", err)
	}
}
