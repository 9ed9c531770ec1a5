package store

import (
	"encoding/json"
	"math"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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

// system.schemas lists every table with KalamDB's columns.
func TestSystemSchemas(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, "CREATE TABLE app.notes (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), body TEXT NOT NULL DEFAULT 'x', n INT DEFAULT 3) WITH (TYPE = 'USER')")
	mustExec(t, s, rootSess, "CREATE TABLE app.cfg (k TEXT PRIMARY KEY, v JSON) WITH (ACCESS_LEVEL = 'PUBLIC')")
	mustExec(t, s, rootSess, "CREATE STREAM TABLE app.events (body TEXT) WITH (TTL_SECONDS = 30)")
	r := query(t, s, rootSess, "SELECT * FROM system.schemas ORDER BY table_id")
	var names []string
	for _, f := range r.Schema {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "table_id,table_name,namespace_id,table_type,created_at,schema_version,columns,"+
		"table_comment,updated_at,options,access_level,is_latest,storage_id,use_user_storage" {
		t.Fatalf("columns %s", got)
	}
	if got := toJSON(t, r.Schema[4:6]); got != `[{"name":"created_at","data_type":"Timestamp","index":4,"flags":["nn"]},{"name":"schema_version","data_type":"Int","index":5,"flags":["nn"]}]` {
		t.Errorf("schema %s", got)
	}
	if len(r.Rows) != 3 {
		t.Fatalf("rows %s", rowsJSON(t, r))
	}
	cell := func(row, col int) string { return string(r.Rows[row][col]) }
	if got := cell(0, 0) + cell(1, 0) + cell(2, 0); got != `"app:cfg""app:events""app:notes"` {
		t.Errorf("table_id %s", got)
	}
	if got := cell(0, 3) + cell(1, 3) + cell(2, 3); got != `"shared""stream""user"` {
		t.Errorf("table_type %s", got)
	}
	if got := cell(0, 10) + cell(1, 10) + cell(2, 10); got != `"public"nullnull` {
		t.Errorf("access_level %s", got)
	}
	if got := cell(2, 5) + cell(2, 11) + cell(2, 12) + cell(2, 13); got != `1true"local"false` {
		t.Errorf("schema_version, is_latest, storage_id, use_user_storage: %s", got)
	}
	var cols []struct {
		Name     string          `json:"column_name"`
		DataType json.RawMessage `json:"data_type"`
		Default  json.RawMessage `json:"default_value"`
		Ordinal  int             `json:"ordinal_position"`
		Nullable bool            `json:"is_nullable"`
		PK       bool            `json:"is_primary_key"`
	}
	var colsText string
	if err := json.Unmarshal(r.Rows[2][6], &colsText); err != nil {
		t.Fatalf("columns cell %s: %v", r.Rows[2][6], err)
	}
	if err := json.Unmarshal([]byte(colsText), &cols); err != nil {
		t.Fatalf("columns %s: %v", colsText, err)
	}
	if got := toJSON(t, cols); got != `[{"column_name":"id","data_type":"BigInt","default_value":{"FunctionCall":{"args":[],"name":"SNOWFLAKE_ID"}},"ordinal_position":1,"is_nullable":false,"is_primary_key":true},`+
		`{"column_name":"body","data_type":"Text","default_value":{"Literal":"x"},"ordinal_position":2,"is_nullable":false,"is_primary_key":false},`+
		`{"column_name":"n","data_type":"Int","default_value":{"Literal":3},"ordinal_position":3,"is_nullable":true,"is_primary_key":false}]` {
		t.Errorf("columns %s", got)
	}
	if !contains(cell(1, 9), `\"ttl_seconds\":30`) {
		t.Errorf("stream options %s", cell(1, 9))
	}
	// A table dropped is gone at the next read; users may not read it.
	mustExec(t, s, rootSess, "DROP TABLE app.cfg")
	if r := query(t, s, rootSess, "SELECT table_id FROM system.schemas WHERE namespace_id = 'app' ORDER BY 1"); rowsJSON(t, r) != `[["app:events"],["app:notes"]]` {
		t.Errorf("after DROP: %s", rowsJSON(t, r))
	}
	if e := execErr(t, s, aliceSess, "SELECT * FROM system.schemas"); e.Code != wire.CodePermissionDenied {
		t.Errorf("as a user: %s %q", e.Code, e.Message)
	}
}

// system.live lists the subscriptions the server reports.
func TestSystemLive(t *testing.T) {
	s := newStore(t)
	r := query(t, s, rootSess, "SELECT * FROM system.live")
	if len(r.Rows) != 0 || len(r.Schema) != 14 {
		t.Fatalf("without a source: %d columns, rows %s", len(r.Schema), rowsJSON(t, r))
	}
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	var live []LiveInfo
	s.SetLiveSource(func() []LiveInfo { return live })
	live = []LiveInfo{{ConnectionID: "7", SubscriptionID: "s1", Table: "app.notes", UserID: "alice",
		Query: "SELECT * FROM app.notes", Options: `{"batch_size":10}`, CreatedAt: at, LastUpdate: at.Add(time.Second),
		LastPingAt: at.Add(2 * time.Second), Changes: 4}}
	r = query(t, s, rootSess, "SELECT * FROM system.live")
	want := `[["alice-7-s1","7","s1","app","notes","alice","SELECT * FROM app.notes","{\"batch_size\":10}","active",` +
		strconv.FormatInt(at.UnixMicro(), 10) + `,` + strconv.FormatInt(at.Add(time.Second).UnixMicro(), 10) + `,"4","1",` +
		strconv.FormatInt(at.Add(2*time.Second).UnixMicro(), 10) + `]]`
	if got := rowsJSON(t, r); got != want {
		t.Errorf("rows\n got %s\nwant %s", got, want)
	}
	// Read afresh by every statement.
	live = nil
	if r := query(t, s, rootSess, "SELECT count(*) FROM system.live"); rowsJSON(t, r) != `[["0"]]` {
		t.Errorf("after the subscription ended: %s", rowsJSON(t, r))
	}
}

// Rows of a STREAM table older than its TTL vanish from reads and
// subscriptions' initial loads, and are evicted from storage.
func TestStreamTableTTLEvictsOldRows(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := newStore(t, Options{Now: clock})
	mustExec(t, s, rootSess, "CREATE STREAM TABLE app.events (id BIGINT PRIMARY KEY, body TEXT) WITH (TTL_SECONDS = 30)")
	mustExec(t, s, aliceSess, "INSERT INTO events VALUES (1, 'old')")
	advance(20 * time.Second)
	mustExec(t, s, aliceSess, "INSERT INTO events VALUES (2, 'new')")
	stored := func() int64 {
		n, err := s.queryInt(`SELECT count(*) FROM "app.events#"`)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	read := func() string { return rowsJSON(t, query(t, s, aliceSess, "SELECT id FROM events ORDER BY id")) }
	q, err := s.PrepareLive(aliceSess, "SELECT * FROM app.events")
	if err != nil {
		t.Fatal(err)
	}
	snap := func() int {
		rows, err := s.Snapshot(q, aliceSess, wire.SeqID(math.MinInt64), wire.SeqID(math.MaxInt64), 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(rows)
	}
	if got := read(); got != `[["1"],["2"]]` || snap() != 2 {
		t.Fatalf("at 20 s: %s, snapshot %d", got, snap())
	}

	// 30 s after the first write, only the second row is left. Reads hide
	// the first even before anything evicts it.
	advance(10*time.Second + time.Millisecond)
	if snap() != 1 {
		t.Errorf("at 30 s the initial load has %d rows, want 1", snap())
	}
	if got := read(); got != `[["2"]]` {
		t.Errorf("at 30 s: %s", got)
	}
	if n := stored(); n != 1 {
		t.Errorf("at 30 s %d rows are stored, want 1 (the expired one evicted)", n)
	}
	// The key of an evicted row is free again.
	mustExec(t, s, aliceSess, "INSERT INTO events VALUES (1, 'again')")
	advance(time.Minute)
	if got := read(); got != `[]` {
		t.Errorf("after the TTL of every row: %s", got)
	}
	if n := stored(); n != 0 {
		t.Errorf("%d rows stored after every TTL passed", n)
	}
}
