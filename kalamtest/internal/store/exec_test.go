package store

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kalamgo/kalam/transport/wire"
)

func TestStatements(t *testing.T) {
	s := newStore(t)
	steps := []struct {
		sess Session
		sql  string
		msg  string // expected message of the single result ("" = none)
		rows int64
	}{
		{rootSess, "CREATE NAMESPACE IF NOT EXISTS app", "Namespace 'app' already exists", 0},
		{rootSess, "CREATE NAMESPACE shop", "Namespace 'shop' created successfully", 0},
		{rootSess, "CREATE USER TABLE app.orders (id BIGINT PRIMARY KEY, status TEXT NOT NULL DEFAULT 'open')", "User table app.orders created successfully", 0},
		{rootSess, "CREATE USER TABLE IF NOT EXISTS app.orders (id BIGINT PRIMARY KEY)", "Table app.orders already exists (IF NOT EXISTS)", 0},
		{rootSess, "CREATE TABLE app.cfg (k TEXT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')", "Shared table app.cfg created successfully", 0},
		{rootSess, "CREATE STREAM TABLE app.events (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), body TEXT) WITH (TTL_SECONDS = 30)", "Stream table app.events created successfully", 0},
		{rootSess, "CREATE TABLE shop.items (id INT, name TEXT, PRIMARY KEY (id)) WITH (TYPE = 'USER')", "User table shop.items created successfully", 0},
		{aliceSess, "INSERT INTO orders (id) VALUES (1), (2), (3)", "Inserted 3 row(s)", 3},
		{aliceSess, "INSERT INTO app.orders VALUES (4, 'paid')", "Inserted 1 row(s)", 1},
		{aliceSess, "UPDATE orders SET status = 'paid' WHERE id <= 2", "Updated 2 row(s)", 2},
		{aliceSess, "UPDATE orders SET status = 'x' WHERE id = 99", "Updated 0 row(s)", 0},
		{aliceSess, "DELETE FROM orders WHERE id = 3", "Deleted 1 row(s)", 1},
		{aliceSess, "SELECT id, status FROM orders ORDER BY id", "", 3},
		{aliceSess, "SELECT count(*) AS n, max(id) FROM app.orders WHERE status = 'paid'", "", 1},
		{aliceSess, "SELECT o.id FROM orders o JOIN orders p ON p.id = o.id WHERE o.id IN (SELECT id FROM app.orders)", "", 3},
		{aliceSess, "INSERT INTO events (body) VALUES ('hello')", "Inserted 1 row(s)", 1},
		{rootSess, "INSERT INTO app.cfg VALUES ('theme', 'dark')", "Inserted 1 row(s)", 1},
		{aliceSess, "SELECT v FROM app.cfg WHERE k = 'theme'", "", 1},
		{aliceSess, "USE shop", "Namespace switched to 'shop'", 0},
		{aliceSess, "SET NAMESPACE shop", "Namespace switched to 'shop'", 0},
		{aliceSess, "USE NAMESPACE app", "Namespace switched to 'app'", 0},
		{rootSess, "CREATE USER carol WITH PASSWORD 'pw-123' ROLE service", "User 'carol' created", 0},
		{rootSess, "CREATE USER 'dave' WITH PASSWORD 'pw-456' ROLE user EMAIL 'd@example.com'", "User 'dave' created", 0},
		{rootSess, "ALTER USER dave SET ROLE dba", "User 'dave' updated", 0},
		{rootSess, "DROP USER 'dave'", "User 'dave' dropped (soft delete)", 0},
		{rootSess, "DROP USER IF EXISTS 'dave'", "User 'dave' does not exist (skipped)", 0},
		{rootSess, "SELECT user_id, role FROM system.users WHERE user_id = 'carol'", "", 1},
		{rootSess, "SHOW NAMESPACES", "", 3},
		{rootSess, "SHOW TABLES IN app", "", 3},
		{rootSess, "DROP TABLE shop.items", "Table shop.items dropped successfully", 0},
		{rootSess, "DROP TABLE IF EXISTS shop.items", "Table shop.items does not exist (skipped)", 0},
		{rootSess, "DROP NAMESPACE shop", "Namespace 'shop' dropped successfully", 0},
		{rootSess, "DROP NAMESPACE IF EXISTS shop", "Namespace 'shop' does not exist", 0},
	}
	for _, st := range steps {
		r := mustExec(t, s, st.sess, st.sql)
		if len(r.Results) != 1 {
			t.Fatalf("%s: %d results", st.sql, len(r.Results))
		}
		got := r.Results[0]
		if got.Message != st.msg || got.RowCount != st.rows {
			t.Errorf("%s:\n got message %q rows %d\nwant message %q rows %d", st.sql, got.Message, got.RowCount, st.msg, st.rows)
		}
		if got.AsUser != st.sess.User {
			t.Errorf("%s: as_user %q, want %q", st.sql, got.AsUser, st.sess.User)
		}
	}
	got := query(t, s, aliceSess, "SELECT id, status FROM orders ORDER BY id")
	if want := `[["1","paid"],["2","paid"],["4","paid"]]`; rowsJSON(t, got) != want {
		t.Errorf("rows %s, want %s", rowsJSON(t, got), want)
	}
}

func TestStreamedFlag(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, "CREATE USER TABLE app.t (id INT PRIMARY KEY)")
	for _, tc := range []struct {
		sql  string
		want bool
	}{
		{"SELECT * FROM app.t", true},
		{"SHOW TABLES", true},
		{"SELECT 1; SELECT 2", false},
		{"INSERT INTO app.t VALUES (1)", false},
		{"CREATE NAMESPACE x", false},
	} {
		r := mustExec(t, s, rootSess, tc.sql)
		if r.Streamed != tc.want {
			t.Errorf("%s: Streamed = %v, want %v", tc.sql, r.Streamed, tc.want)
		}
	}
}

func TestCellEncoding(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, `CREATE USER TABLE app.types (
		id BIGINT PRIMARY KEY, i INT, si SMALLINT, b BOOLEAN, d DOUBLE, f FLOAT, txt VARCHAR(20),
		ts TIMESTAMP, dt DATETIME, dd DATE, tm TIME, j JSON, raw BYTES, u UUID, dec DECIMAL(10, 2),
		emb EMBEDDING(3), fl FILE)`)
	cols := "id, i, si, b, d, f, txt, ts, dt, dd, tm, j, raw, u, dec, emb, fl"
	tests := []struct {
		name   string
		values string
		params []any
		want   string
	}{
		{"literals", `(9007199254740993, 42, -7, TRUE, 1.5, 0.1, 'héllo "q"', 1700000000000000, '2024-01-01 00:00:01',
			'1970-01-02', '01:00:00.5', '{"a":[1,2]}', x'00ff10', '3F2504E0-4F89-11D3-9A0C-0305E82C3301', 200.75,
			'[0.5, 1, -2]', '{"id":"f1","sub":"s","name":"a.txt","size":3,"mime":"text/plain","sha256":"x"}')`, nil,
			`["9007199254740993",42,-7,true,1.5,0.1,"héllo \"q\"",1700000000000000,1704067201000000,1,3600500000,` +
				`"{\"a\":[1,2]}",[0,255,16],"3f2504e0-4f89-11d3-9a0c-0305e82c3301","200.75",[0.5,1,-2],` +
				`"{\"id\":\"f1\",\"sub\":\"s\",\"name\":\"a.txt\",\"size\":3,\"mime\":\"text/plain\",\"sha256\":\"x\"}"]`},
		{"nulls", `(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`, nil,
			`["2",null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null]`},
		{"params", `($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
			[]any{int64(9223372036854775807), int64(-2147483648), 1, false, -0.25, 3.0, "", "2024-01-01T00:00:00Z",
				int64(5), "2024-02-03", "23:59:59", "[]", "ab", "00000000-0000-0000-0000-000000000001", "3",
				"[1,2,3]", nil},
			`["9223372036854775807",-2147483648,1,false,-0.25,3,"",1704067200000000,5,19756,86399000000,"[]",[97,98],` +
				`"00000000-0000-0000-0000-000000000001","3.00",[1,2,3],null]`},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mustExec(t, s, aliceSess, "INSERT INTO app.types ("+cols+") VALUES "+tc.values, tc.params...)
			r := query(t, s, aliceSess, "SELECT "+cols+" FROM app.types ORDER BY _seq DESC LIMIT 1")
			if got := toJSON(t, r.Rows[0]); got != tc.want {
				t.Errorf("case %d:\n got %s\nwant %s", i, got, tc.want)
			}
		})
	}
	// Schema strings, including the parameterised forms.
	r := query(t, s, aliceSess, "SELECT * FROM app.types LIMIT 0")
	want := `[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},` +
		`{"name":"i","data_type":"Int","index":1},{"name":"si","data_type":"SmallInt","index":2},` +
		`{"name":"b","data_type":"Boolean","index":3},{"name":"d","data_type":"Double","index":4},` +
		`{"name":"f","data_type":"Float","index":5},{"name":"txt","data_type":"Text","index":6},` +
		`{"name":"ts","data_type":"Timestamp","index":7},{"name":"dt","data_type":"DateTime","index":8},` +
		`{"name":"dd","data_type":"Date","index":9},{"name":"tm","data_type":"Time","index":10},` +
		`{"name":"j","data_type":"Json","index":11},{"name":"raw","data_type":"Bytes","index":12},` +
		`{"name":"u","data_type":"Uuid","index":13},{"name":"dec","data_type":{"Decimal":{"precision":10,"scale":2}},"index":14},` +
		`{"name":"emb","data_type":{"Embedding":3},"index":15},{"name":"fl","data_type":"File","index":16},` +
		`{"name":"_seq","data_type":"BigInt","index":17,"flags":["nn"]},{"name":"_deleted","data_type":"Boolean","index":18,"flags":["nn"]}]`
	if got := toJSON(t, r.Schema); got != want {
		t.Errorf("schema:\n got %s\nwant %s", got, want)
	}
	if r.Rows != nil || r.RowCount != 0 {
		t.Errorf("LIMIT 0: rows %v count %d", r.Rows, r.RowCount)
	}

	// Bad input values are errors, not panics.
	for _, bad := range []string{
		"(10, NULL, NULL, 'maybe', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
		"(11, NULL, NULL, NULL, NULL, NULL, NULL, 'yesterday', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
		"(12, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{bad', NULL, NULL, NULL, NULL, NULL)",
		"(13, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'not-a-uuid', NULL, NULL, NULL)",
		"(14, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '[1,2]', NULL)",
	} {
		e := execErr(t, s, rootSess, "INSERT INTO app.types ("+cols+") VALUES "+bad)
		if e.Code != wire.CodeSQLExecutionError || !contains(e.Message, "Invalid value for column") {
			t.Errorf("%s: %d %s %q", bad, e.Status, e.Code, e.Message)
		}
	}
}

func TestExpressionTypes(t *testing.T) {
	s := newStore(t)
	r := query(t, s, rootSess, "SELECT 1 AS a, 2.5 AS b, 'x' AS c, NULL AS d, x'01' AS e, 9223372036854775807 AS f")
	if got, want := toJSON(t, r.Schema), `[{"name":"a","data_type":"BigInt","index":0},{"name":"b","data_type":"Double","index":1},`+
		`{"name":"c","data_type":"Text","index":2},{"name":"d","data_type":"Text","index":3},`+
		`{"name":"e","data_type":"Bytes","index":4},{"name":"f","data_type":"BigInt","index":5}]`; got != want {
		t.Errorf("schema %s\nwant %s", got, want)
	}
	if got, want := rowsJSON(t, r), `[["1",2.5,"x",null,[1],"9223372036854775807"]]`; got != want {
		t.Errorf("rows %s, want %s", got, want)
	}
}

func TestSchemaFlags(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, `CREATE SHARED TABLE app.f (a INT NOT NULL, b TEXT UNIQUE, c TEXT NOT NULL UNIQUE,
		d TEXT NULL, e BIGINT, CONSTRAINT pk PRIMARY KEY (e, a))`)
	r := query(t, s, rootSess, "SELECT a, b, c, d, e AS renamed FROM app.f")
	want := `[{"name":"a","data_type":"Int","index":0,"flags":["pk","nn","uq"]},` +
		`{"name":"b","data_type":"Text","index":1,"flags":["uq"]},{"name":"c","data_type":"Text","index":2,"flags":["nn","uq"]},` +
		`{"name":"d","data_type":"Text","index":3},{"name":"renamed","data_type":"BigInt","index":4,"flags":["pk","nn","uq"]}]`
	if got := toJSON(t, r.Schema); got != want {
		t.Errorf("schema\n got %s\nwant %s", got, want)
	}
	// Composite primary key and the unique constraint, which ignores
	// deleted rows.
	mustExec(t, s, rootSess, "INSERT INTO app.f (a, b, c, e) VALUES (1, 'x', 'c1', 10), (2, 'y', 'c2', 10)")
	e := execErr(t, s, rootSess, "INSERT INTO app.f (a, b, c, e) VALUES (3, 'x', 'c3', 10)")
	if !contains(e.Message, "unique") {
		t.Errorf("unique violation: %q", e.Message)
	}
	mustExec(t, s, rootSess, "DELETE FROM app.f WHERE b = 'x'")
	mustExec(t, s, rootSess, "INSERT INTO app.f (a, b, c, e) VALUES (3, 'x', 'c3', 10)")
}

func TestBatchQuirk(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, "CREATE USER TABLE app.t (id INT PRIMARY KEY, v TEXT)")
	r := mustExec(t, s, aliceSess, `INSERT INTO t VALUES (1, 'a');
		SELECT count(*) FROM t;
		INSERT INTO t VALUES (2, 'b'), (3, 'c');
		UPDATE t SET v = 'z' WHERE id > 1;
		USE app;
		DELETE FROM t WHERE id = 1;
		SELECT id FROM t ORDER BY id`)
	var got []string
	for _, res := range r.Results {
		got = append(got, res.Message+"|"+strconv.FormatInt(res.RowCount, 10)+"|"+rowsJSON(t, res))
	}
	want := []string{
		`|1|[["1"]]`,
		`Namespace switched to 'app'|0|[]`,
		`|2|[[2],[3]]`,
		`Inserted 3 row(s)|3|[]`,
		`Updated 2 row(s)|2|[]`,
		`Deleted 1 row(s)|1|[]`,
	}
	if toJSON(t, got) != toJSON(t, want) {
		t.Errorf("batch results\n got %q\nwant %q", got, want)
	}
	for _, res := range r.Results {
		if res.AsUser != "alice" {
			t.Errorf("as_user %q", res.AsUser)
		}
	}
	// Zero counts are left out; a lone DML statement keeps its own result.
	r = mustExec(t, s, aliceSess, "UPDATE t SET v = 'q' WHERE id = 99; SELECT 1")
	if len(r.Results) != 1 {
		t.Errorf("zero-count batch: %d results", len(r.Results))
	}
	// Semicolons inside literals, identifiers and comments do not split.
	r = mustExec(t, s, aliceSess, "SELECT ';' AS \"a;b\" -- ; comment\n; /* ; */ SELECT 2;;")
	if len(r.Results) != 2 || rowsJSON(t, r.Results[0]) != `[[";"]]` || r.Results[0].Schema[0].Name != "a;b" {
		t.Errorf("split: %s", toJSON(t, r.Results))
	}
}

func TestParams(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, "CREATE USER TABLE app.t (id BIGINT PRIMARY KEY, v TEXT, n DOUBLE, b BOOLEAN)")
	mustExec(t, s, aliceSess, "INSERT INTO t (v, id, n, b) VALUES ($2, $1, $3, $4)", int64(9007199254740993), "$1 stays", 1.5, true)
	r := query(t, s, aliceSess, "SELECT id, v, n, b, '$1' AS lit FROM t WHERE id = $1 AND v = $2", int64(9007199254740993), "$1 stays")
	if got, want := rowsJSON(t, r), `[["9007199254740993","$1 stays",1.5,true,"$1"]]`; got != want {
		t.Errorf("rows %s, want %s", got, want)
	}
	// Reused and out-of-order placeholders; json.Number as the HTTP layer
	// may pass it.
	mustExec(t, s, aliceSess, "UPDATE t SET v = $2 || $2 WHERE id = $1", json.Number("9007199254740993"), "x")
	r = query(t, s, aliceSess, "SELECT v FROM t WHERE id = $1", float64(9007199254740992)+0) // float rounds: no match
	if r.RowCount != 0 {
		t.Errorf("float64 param matched a row it cannot represent")
	}
	r = query(t, s, aliceSess, "SELECT v FROM t")
	if got := rowsJSON(t, r); got != `[["xx"]]` {
		t.Errorf("after update %s", got)
	}

	errs := []struct {
		sql    string
		params []any
		status int
		code   string
		msg    string
	}{
		{"SELECT $1", []any{[]any{1}}, 400, wire.CodeInvalidParameter, "Parameter $1 invalid: Array parameters not yet supported"},
		{"SELECT $1, $2", []any{1, map[string]any{"a": 1}}, 400, wire.CodeInvalidParameter, "Parameter $2 invalid: Object parameters not yet supported"},
		{"SELECT $1; SELECT 2", []any{1}, 400, wire.CodeParamsWithBatch, "Parameters not supported with multi-statement batches"},
		{"SELECT $1, $2", []any{1}, 400, wire.CodeSQLExecutionError, "Statement 1 failed: Parameter count mismatch: expected 2 parameters, got 1"},
		{"SELECT 1", []any{1}, 400, wire.CodeSQLExecutionError, "Statement 1 failed: Parameter count mismatch: expected 0 parameters, got 1"},
		{"SELECT ?", nil, 400, wire.CodeInvalidSQL, "Unsupported parameter placeholder '?': use $1, $2, …"},
		{"CREATE NAMESPACE $1", []any{"x"}, 400, wire.CodeInvalidSQL, "SQL parse error: expected a namespace name near '$1'"},
	}
	for _, tc := range errs {
		e := execErr(t, s, rootSess, tc.sql, tc.params...)
		if e.Status != tc.status || e.Code != tc.code || e.Message != tc.msg {
			t.Errorf("%s:\n got %d %s %q\nwant %d %s %q", tc.sql, e.Status, e.Code, e.Message, tc.status, tc.code, tc.msg)
		}
	}
	many := make([]any, 51)
	if e := execErr(t, s, rootSess, "SELECT 1", many...); e.Code != wire.CodeSQLExecutionError || !contains(e.Message, "maximum 50") {
		t.Errorf("51 params: %s %q", e.Code, e.Message)
	}
}

func TestErrors(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, "CREATE USER TABLE app.t (id INT PRIMARY KEY, v TEXT NOT NULL)")
	mustExec(t, s, rootSess, "CREATE SHARED TABLE app.priv (id INT PRIMARY KEY)")
	mustExec(t, s, aliceSess, "INSERT INTO t VALUES (1, 'a')")
	tests := []struct {
		name    string
		sess    Session
		sql     string
		status  int
		code    string
		msg     string
		details bool
	}{
		{"empty", aliceSess, " ;; -- nothing\n", 400, wire.CodeEmptySQL, "No SQL statements provided", false},
		{"unterminated", rootSess, "SELECT 'abc", 400, wire.CodeInvalidSQL, "Failed to parse SQL batch: unterminated string literal at position 7", false},
		{"unterminated batch", rootSess, "SELECT 1; SELECT 'abc", 400, wire.CodeBatchParseError, "Failed to parse SQL batch: unterminated string literal at position 17", false},
		{"unsupported admin", rootSess, "PRAGMA table_info(x)", 400, wire.CodeInvalidSQL, "Unsupported SQL statement near 'PRAGMA'", false},
		{"unsupported user", aliceSess, "PRAGMA table_info(x)", 400, wire.CodeInvalidSQL, "SQL statement is invalid or not allowed", false},
		{"parse before run", rootSess, "INSERT INTO app.t VALUES (5, 'x'); DROP", 400, wire.CodeInvalidSQL, "Unsupported DROP statement near end of statement", false},
		{"table not found admin", rootSess, "SELECT * FROM app.orderz", 400, wire.CodeSQLExecutionError, "Statement 1 failed: Table not found: app.orderz", true},
		{"table not found user", aliceSess, "SELECT * FROM app.orderz", 400, wire.CodeSQLExecutionError, "SQL statement failed", false},
		{"unqualified not found", rootSess, "SELECT 1; SELECT * FROM nope", 400, wire.CodeSQLExecutionError, "Statement 2 failed: Table not found: default.nope", true},
		{"column not found (safe)", aliceSess, "SELECT zz FROM t", 400, wire.CodeSQLExecutionError, "Statement 1 failed: Schema error: No field named zz. Column not found", false},
		{"insert column not found", aliceSess, "INSERT INTO t (id, zz) VALUES (1, 2)", 400, wire.CodeSQLExecutionError, "Statement 1 failed: Schema error: No field named zz. Column not found in app.t", false},
		{"duplicate pk", aliceSess, "INSERT INTO t VALUES (1, 'b')", 400, wire.CodeSQLExecutionError, "Statement 1 failed: Already exists: Primary key violation: value '1' already exists in column 'id'", false},
		{"duplicate in one statement", aliceSess, "INSERT INTO t VALUES (7, 'b'), (7, 'c')", 400, wire.CodeSQLExecutionError, "Statement 1 failed: Already exists: Primary key violation: value '7' already exists in column 'id'", false},
		{"not null", aliceSess, "INSERT INTO t (id) VALUES (2)", 400, wire.CodeSQLExecutionError, "Statement 1 failed: Constraint violation: column 'v' cannot be NULL", false},
		{"system column", aliceSess, "UPDATE t SET _seq = 1", 400, wire.CodeSQLExecutionError, "Statement 1 failed: System column violation: column '_seq' cannot be written", false},
		{"value count", aliceSess, "INSERT INTO t (id, v) VALUES (3)", 400, wire.CodeSQLExecutionError, "Statement 1 failed: Column count mismatch: each VALUES row must have one value per target column", false},
		{"namespace exists", rootSess, "CREATE NAMESPACE app", 400, wire.CodeSQLExecutionError, "Statement 1 failed: Already exists: Namespace 'app' already exists", true},
		{"reserved namespace", rootSess, "CREATE NAMESPACE system", 400, wire.CodeSQLExecutionError, "Statement 1 failed: Invalid operation: Namespace name 'system' is reserved", true},
		{"create namespace as user", aliceSess, "CREATE NAMESPACE mine", 403, wire.CodePermissionDenied, "Admin privileges (DBA or System role) required for namespace operations", false},
		{"create shared as user", aliceSess, "CREATE TABLE app.x (id INT PRIMARY KEY)", 403, wire.CodePermissionDenied, "Statement 1 failed: Unauthorized: Insufficient privileges to create Shared tables", false},
		{"no pk", rootSess, "CREATE USER TABLE app.x (id INT)", 400, wire.CodeSQLExecutionError, "Statement 1 failed: Invalid operation: User tables require a PRIMARY KEY column", true},
		{"stream ttl", rootSess, "CREATE STREAM TABLE app.x (id INT)", 400, wire.CodeSQLExecutionError, "Statement 1 failed: Invalid operation: STREAM tables require TTL clause (e.g., TTL 3600)", true},
		{"missing namespace", rootSess, "CREATE USER TABLE nons.x (id INT PRIMARY KEY)", 400, wire.CodeSQLExecutionError, "Statement 1 failed: Invalid operation: Namespace 'nons' does not exist. Create it first with CREATE NAMESPACE nons", true},
		{"bad type", rootSess, "CREATE USER TABLE app.x (id WIDGET PRIMARY KEY)", 400, wire.CodeInvalidSQL, "Unsupported data type 'WIDGET'", false},
		{"reserved column", rootSess, "CREATE USER TABLE app.x (id INT PRIMARY KEY, _seq INT)", 400, wire.CodeSQLExecutionError, "Statement 1 failed: System column violation: column name '_seq' is reserved", true},
		{"drop table as user", aliceSess, "DROP TABLE app.t", 403, wire.CodePermissionDenied, "Statement 1 failed: Unauthorized: Insufficient privileges to drop this table", false},
		{"drop missing", rootSess, "DROP TABLE app.zz", 400, wire.CodeSQLExecutionError, "Statement 1 failed: Table not found: app.zz", true},
		{"use missing", aliceSess, "USE nope", 400, wire.CodeSQLExecutionError, "Statement 1 failed: Not found: Namespace 'nope' does not exist", false},
		{"system table as user", aliceSess, "SELECT * FROM system.users", 403, wire.CodePermissionDenied, "Statement 1 failed: Permission denied: access to system table 'system.users' requires dba or system role", false},
		{"system table write", rootSess, "DELETE FROM system.users", 400, wire.CodeSQLExecutionError, "Statement 1 failed: Invalid operation: system table 'system.users' is read-only", true},
		{"private shared read", aliceSess, "SELECT * FROM app.priv", 403, wire.CodePermissionDenied, "Statement 1 failed: Permission denied: Shared table 'app.priv' read denied (access_level=Private)", false},
		{"physical table", rootSess, `SELECT * FROM "app.t#"`, 400, wire.CodeInvalidSQL, "Identifier 'app.t#' is reserved", true},
		{"sqlite internals", rootSess, "SELECT * FROM sqlite_schema", 400, wire.CodeInvalidSQL, "Identifier 'sqlite_schema' is reserved", true},
		{"owner column", aliceSess, "SELECT _kalam_owner FROM t", 400, wire.CodeInvalidSQL, "SQL statement is invalid or not allowed", false},
		{"write in select", rootSess, "WITH x AS (SELECT 1) DELETE FROM app.t", 400, wire.CodeSQLExecutionError, "Statement 1 failed: cannot modify app.t because it is a view", true},
		{"open transaction", rootSess, "BEGIN; INSERT INTO app.priv VALUES (1)", 400, wire.CodeSQLExecutionError, "Request completed with an open explicit transaction; rolled back automatically", false},
		{"too long", rootSess, "SELECT '" + string(make([]byte, maxSQLLength)) + "'", 400, wire.CodeInvalidSQL, "SQL query too long: 1048585 bytes (maximum 1048576)", false},
		{"execute as parse", rootSess, "EXECUTE AS USER 'alice' (SELECT 1; SELECT 2)", 400, wire.CodeInvalidInput, "EXECUTE AS USER must wrap exactly one SQL statement", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := execErr(t, s, tc.sess, tc.sql)
			if e.Status != tc.status || e.Code != tc.code || e.Message != tc.msg {
				t.Errorf("\n got %d %s %q\nwant %d %s %q", e.Status, e.Code, e.Message, tc.status, tc.code, tc.msg)
			}
			if (e.Details != "") != tc.details {
				t.Errorf("details %q, want present=%v", e.Details, tc.details)
			}
		})
	}
	// The open transaction was rolled back.
	if r := query(t, s, rootSess, "SELECT count(*) FROM app.priv"); rowsJSON(t, r) != `[["0"]]` {
		t.Errorf("rolled-back rows visible: %s", rowsJSON(t, r))
	}
}

func TestStatementsBeforeFailureStayCommitted(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, "CREATE USER TABLE app.t (id INT PRIMARY KEY)")
	e := execErr(t, s, aliceSess, "INSERT INTO t VALUES (1); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)")
	if !contains(e.Message, "Statement 2 failed") {
		t.Errorf("message %q", e.Message)
	}
	if r := query(t, s, aliceSess, "SELECT id FROM t"); rowsJSON(t, r) != `[[1]]` {
		t.Errorf("rows %s", rowsJSON(t, r))
	}
}

func TestTransactions(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, "CREATE USER TABLE app.t (id INT PRIMARY KEY)")
	w := watch(t, s)
	mustExec(t, s, aliceSess, "BEGIN; INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); ROLLBACK")
	if n := len(w.drain()); n != 0 {
		t.Errorf("rolled-back changes delivered: %d", n)
	}
	r := mustExec(t, s, aliceSess, "BEGIN TRANSACTION; INSERT INTO t VALUES (3); COMMIT; SELECT id FROM t")
	if rowsJSON(t, r.Results[2]) != `[[3]]` {
		t.Errorf("rows %s", rowsJSON(t, r.Results[2]))
	}
	if n := len(w.drain()); n != 1 {
		t.Errorf("committed changes delivered: %d, want 1", n)
	}
	e := execErr(t, s, aliceSess, "BEGIN; INSERT INTO t VALUES (4); INSERT INTO t VALUES (3); COMMIT")
	if !contains(e.Message, "Statement 3 failed") {
		t.Errorf("message %q", e.Message)
	}
	if r := query(t, s, aliceSess, "SELECT count(*) FROM t"); rowsJSON(t, r) != `[["1"]]` {
		t.Errorf("failed transaction left rows: %s", rowsJSON(t, r))
	}
	if n := len(w.drain()); n != 0 {
		t.Errorf("failed transaction delivered %d changes", n)
	}
	e = execErr(t, s, rootSess, "BEGIN; CREATE NAMESPACE inside; COMMIT")
	if !contains(e.Message, "DDL is not supported inside an explicit transaction") {
		t.Errorf("DDL in tx: %q", e.Message)
	}
}

func TestIsolation(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, "CREATE USER TABLE app.notes (id INT PRIMARY KEY, body TEXT)")
	mustExec(t, s, rootSess, "CREATE SHARED TABLE app.board (id INT PRIMARY KEY, body TEXT) WITH (ACCESS_LEVEL = 'public')")
	svc := Session{User: "svc", Role: "service", Namespace: "app"}

	// The same key in each user's partition.
	mustExec(t, s, aliceSess, "INSERT INTO notes VALUES (1, 'alice')")
	mustExec(t, s, bobSess, "INSERT INTO notes VALUES (1, 'bob')")
	for _, sess := range []Session{aliceSess, bobSess} {
		r := query(t, s, sess, "SELECT body FROM notes")
		if want := `[["` + sess.User + `"]]`; rowsJSON(t, r) != want {
			t.Errorf("%s sees %s, want %s", sess.User, rowsJSON(t, r), want)
		}
	}
	// Writes touch only the caller's rows; admins are scoped too.
	if r := mustExec(t, s, bobSess, "UPDATE notes SET body = 'bob2'"); r.Results[0].RowCount != 1 {
		t.Errorf("bob updated %d rows", r.Results[0].RowCount)
	}
	if r := mustExec(t, s, rootSess, "DELETE FROM app.notes"); r.Results[0].RowCount != 0 {
		t.Errorf("root deleted %d user rows", r.Results[0].RowCount)
	}
	if r := query(t, s, aliceSess, "SELECT body FROM notes"); rowsJSON(t, r) != `[["alice"]]` {
		t.Errorf("alice's row changed: %s", rowsJSON(t, r))
	}
	// Same SQL text, cached statement, different users.
	for i := 0; i < 3; i++ {
		for _, sess := range []Session{aliceSess, bobSess} {
			r := query(t, s, sess, "SELECT count(*) FROM app.notes WHERE id = 1")
			if rowsJSON(t, r) != `[["1"]]` {
				t.Fatalf("%s count %s", sess.User, rowsJSON(t, r))
			}
		}
	}
	// EXECUTE AS crosses the line for the one statement.
	r := query(t, s, rootSess, "EXECUTE AS USER 'bob' (SELECT body FROM app.notes)")
	if rowsJSON(t, r) != `[["bob2"]]` || r.AsUser != "bob" {
		t.Errorf("execute as bob: %s as %s", rowsJSON(t, r), r.AsUser)
	}

	// SHARED: one dataset.
	mustExec(t, s, svc, "INSERT INTO board VALUES (1, 'svc')")
	for _, sess := range []Session{aliceSess, bobSess, svc, rootSess} {
		if r := query(t, s, sess, "SELECT body FROM app.board"); rowsJSON(t, r) != `[["svc"]]` {
			t.Errorf("%s sees board %s", sess.User, rowsJSON(t, r))
		}
	}
}

func TestExecuteAs(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, "CREATE USER TABLE app.t (id INT PRIMARY KEY)")
	for _, u := range []struct{ id, role string }{{"u1", "user"}, {"svc", "service"}, {"admin", "dba"}, {"sys", "system"}} {
		if err := s.CreateUser(u.id, "pw", u.role, nil); err != nil {
			t.Fatal(err)
		}
	}
	roles := map[string]string{"u1": "user", "svc": "service", "admin": "dba", "sys": "system"}
	allowed := map[string][]string{
		"sys":   {"u1", "svc", "admin", "sys", "ghost"},
		"admin": {"u1", "svc", "admin", "ghost"},
		"svc":   {"u1", "svc", "ghost"},
		"u1":    {"u1"},
	}
	for actor, targets := range allowed {
		for target := range roles {
			want := false
			for _, ok := range targets {
				want = want || ok == target
			}
			sess := Session{User: actor, Role: roles[actor], Namespace: "app"}
			_, err := s.Exec(context.Background(), sess, "EXECUTE AS USER '"+target+"' (SELECT * FROM t)", nil)
			if (err == nil) != want {
				t.Errorf("%s → %s: err %v, want allowed=%v", actor, target, err, want)
			}
			if err != nil {
				var e *Error
				errors.As(err, &e)
				if e.Status != http.StatusForbidden || e.Code != wire.CodePermissionDenied {
					t.Errorf("%s → %s: %d %s", actor, target, e.Status, e.Code)
				}
			}
		}
	}
	// Bare and quoted names, a trailing semicolon inside.
	mustExec(t, s, rootSess, "EXECUTE AS USER u1 (INSERT INTO app.t VALUES (1);)")
	r := query(t, s, Session{User: "u1", Role: "user"}, "SELECT id FROM app.t")
	if rowsJSON(t, r) != `[[1]]` {
		t.Errorf("u1 rows %s", rowsJSON(t, r))
	}
}

func TestSoftDeleteAndReinsert(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, "CREATE USER TABLE app.t (id INT PRIMARY KEY, v TEXT)")
	w := watch(t, s)
	mustExec(t, s, aliceSess, "INSERT INTO t VALUES (1, 'a')")
	mustExec(t, s, aliceSess, "DELETE FROM t WHERE id = 1")
	if r := query(t, s, aliceSess, "SELECT * FROM t"); r.RowCount != 0 {
		t.Errorf("deleted row visible: %s", rowsJSON(t, r))
	}
	if r := mustExec(t, s, aliceSess, "DELETE FROM t WHERE id = 1"); r.Results[0].RowCount != 0 {
		t.Errorf("second delete affected %d rows", r.Results[0].RowCount)
	}
	if r := mustExec(t, s, aliceSess, "UPDATE t SET v = 'x' WHERE id = 1"); r.Results[0].RowCount != 0 {
		t.Errorf("update of deleted row affected %d rows", r.Results[0].RowCount)
	}
	mustExec(t, s, aliceSess, "INSERT INTO t VALUES (1, 'again')")
	r := query(t, s, aliceSess, "SELECT v, _deleted FROM t")
	if rowsJSON(t, r) != `[["again",false]]` {
		t.Errorf("re-inserted: %s", rowsJSON(t, r))
	}
	chs := w.drain()
	kinds := ""
	for i, c := range chs {
		kinds += c.Kind + " "
		if i > 0 && c.Seq <= chs[i-1].Seq {
			t.Errorf("seq not increasing: %d after %d", c.Seq, chs[i-1].Seq)
		}
	}
	if kinds != "insert delete insert " {
		t.Errorf("changes %q", kinds)
	}
}

func TestSeqStrictlyIncreasingConcurrent(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, "CREATE SHARED TABLE app.c (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), w INT)")
	var mu sync.Mutex
	var seen []wire.SeqID
	stop := s.Watch(func(c Change) {
		mu.Lock()
		seen = append(seen, c.Seq)
		mu.Unlock()
	})
	defer stop()
	const writers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				q := "INSERT INTO app.c (w) VALUES (" + strconv.Itoa(w) + ")"
				if i%4 == 3 {
					q = "UPDATE app.c SET w = w + 100 WHERE w = " + strconv.Itoa(w)
				}
				if _, err := s.Exec(context.Background(), rootSess, q, nil); err != nil {
					errs <- err
					return
				}
			}
		}()
		// Readers run alongside.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				if _, err := s.Exec(context.Background(), rootSess, "SELECT count(*) FROM app.c", nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < writers*each*3/4 {
		t.Fatalf("only %d changes delivered", len(seen))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("watch order: seq %d after %d at %d", seen[i], seen[i-1], i)
		}
	}
	r := query(t, s, rootSess, "SELECT count(DISTINCT _seq) = count(*) FROM app.c")
	if rowsJSON(t, r) != `[["1"]]` {
		t.Errorf("duplicate _seq values")
	}
}

func TestSeqGenerator(t *testing.T) {
	base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	cur := base
	g := seqGen{now: func() time.Time { return cur }, worker: 5}
	var prev wire.SeqID
	check := func(step string) {
		id := g.next()
		if id <= prev {
			t.Fatalf("%s: %d not above %d", step, id, prev)
		}
		if w := (int64(id) >> 12) & 0x3ff; w != 5 {
			t.Fatalf("%s: worker bits %d", step, w)
		}
		prev = id
	}
	for i := 0; i < 5000; i++ { // more than 4096 in one millisecond
		check("same ms")
	}
	cur = base.Add(-time.Hour) // clock goes back
	for i := 0; i < 10; i++ {
		check("clock back")
	}
	cur = base.Add(time.Hour)
	check("clock forward")
	if ms := prev.UnixMillis(); ms != cur.UnixMilli() {
		t.Errorf("UnixMillis %d, want %d", ms, cur.UnixMilli())
	}
	if prev < 1<<53 {
		t.Errorf("seq %d below 2^53", prev)
	}
}

func TestOnDiskReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kalam.db")
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	s, err := Open(Options{Path: path, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, s, rootSess, "CREATE NAMESPACE app; CREATE USER TABLE app.t (id INT PRIMARY KEY, v TEXT DEFAULT 'd')")
	mustExec(t, s, aliceSess, "INSERT INTO t (id) VALUES (1)")
	if err := s.CreateUser("alice", "pw-alice", "user", nil); err != nil {
		t.Fatal(err)
	}
	last := query(t, s, aliceSess, "SELECT _seq FROM t").Rows[0][0]
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	now = now.Add(-24 * time.Hour) // the clock went back between runs
	s, err = Open(Options{Path: path, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Authenticate("alice", "pw-alice"); err != nil {
		t.Errorf("user lost: %v", err)
	}
	mustExec(t, s, aliceSess, "INSERT INTO t (id) VALUES (2)")
	r := query(t, s, aliceSess, "SELECT id, v, _seq FROM t ORDER BY _seq")
	if r.RowCount != 2 || string(r.Rows[0][2]) != string(last) {
		t.Fatalf("rows %s", rowsJSON(t, r))
	}
	a, _, _ := wire.RowSeq([]byte(`{"_seq":` + string(r.Rows[0][2]) + `}`))
	b, _, _ := wire.RowSeq([]byte(`{"_seq":` + string(r.Rows[1][2]) + `}`))
	if b <= a {
		t.Errorf("seq after reopen %d not above %d", b, a)
	}
}

func TestContextAndClose(t *testing.T) {
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Exec(ctx, rootSess, "SELECT 1", nil)
	var e *Error
	if !errors.As(err, &e) || !contains(e.Message, "cancel") {
		t.Errorf("canceled ctx: %v", err)
	}
	// A long query is interrupted.
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = s.Exec(ctx, rootSess, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c", nil)
	if err == nil {
		t.Errorf("endless query was not interrupted")
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Exec(context.Background(), rootSess, "SELECT 1", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Exec after Close: %v", err)
	}
	if err := s.CreateUser("x", "y", "user", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("CreateUser after Close: %v", err)
	}
	if _, err := s.PrepareLive(rootSess, "SELECT * FROM app.t"); !errors.Is(err, ErrClosed) {
		t.Errorf("PrepareLive after Close: %v", err)
	}
}

func TestBadInputNeverPanics(t *testing.T) {
	s := newStore(t)
	mustExec(t, s, rootSess, "CREATE USER TABLE app.t (id INT PRIMARY KEY, v TEXT)")
	inputs := []string{
		"(", ")", "'", `"`, "[", "/*", "$", "$0", "$99999999", "x'", "SELECT", "INSERT", "INSERT INTO",
		"INSERT INTO app.t", "INSERT INTO app.t (", "UPDATE", "UPDATE app.t SET", "UPDATE app.t SET v =",
		"DELETE", "DELETE FROM", "CREATE", "CREATE TABLE", "CREATE TABLE app.x (", "CREATE TABLE app.x (id",
		"CREATE TABLE app.x (id DECIMAL(", "CREATE USER", "CREATE USER x WITH", "EXECUTE AS USER",
		"EXECUTE AS USER x (", "EXECUTE AS USER x ()", "DROP", "USE", "SHOW", "ALTER USER", "SELECT * FROM app.",
		"SELECT app.t.", "SELECT * FROM (", "WITH", "VALUES (", "🙂", "\x00", "SELECT '\xff'",
		"CREATE USER TABLE app.y (id EMBEDDING PRIMARY KEY)", "CREATE USER TABLE app.y (id INT PRIMARY KEY DEFAULT (1+))",
	}
	for _, in := range inputs {
		for _, sess := range []Session{rootSess, aliceSess} {
			_, err := s.Exec(context.Background(), sess, in, nil)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Code == "" || e.Status == 0 {
					t.Errorf("%q: untyped error %v", in, err)
				}
			}
		}
	}
}

func TestDefaults(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	s := newStore(t, Options{Now: func() time.Time { return now }, Worker: 3})
	mustExec(t, s, rootSess, `CREATE USER TABLE app.d (
		id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(),
		u UUID DEFAULT UUID_V7(), l TEXT DEFAULT ULID(), who TEXT DEFAULT CURRENT_USER(),
		at TIMESTAMP DEFAULT NOW(), at2 TIMESTAMP DEFAULT CURRENT_TIMESTAMP, day DATE DEFAULT '2024-01-02',
		ok BOOLEAN DEFAULT TRUE, flag BOOLEAN DEFAULT 'false', n INT DEFAULT -5, x DOUBLE DEFAULT 2.5,
		s TEXT DEFAULT 'it''s', z TEXT DEFAULT NULL)`)
	mustExec(t, s, aliceSess, "INSERT INTO d (z) VALUES ('z')")
	r := query(t, s, aliceSess, "SELECT id, u, l, who, at, at2, day, ok, flag, n, x, s FROM d")
	row := r.Rows[0]
	var id int64
	if err := json.Unmarshal(row[0], new(string)); err != nil {
		t.Fatalf("id cell %s", row[0])
	}
	idText := string(row[0])
	id, _ = strconv.ParseInt(idText[1:len(idText)-1], 10, 64)
	if wire.SeqID(id).UnixMillis() != now.UnixMilli() || (id>>12)&0x3ff != 3 {
		t.Errorf("snowflake id %d", id)
	}
	var u, l string
	json.Unmarshal(row[1], &u)
	json.Unmarshal(row[2], &l)
	if len(u) != 36 || u[14] != '7' || len(l) != 26 {
		t.Errorf("uuid_v7 %q ulid %q", u, l)
	}
	wantUS := strconv.FormatInt(now.UnixMicro(), 10)
	if got := toJSON(t, row[3:]); got != `["alice",`+wantUS+`,`+wantUS+`,19724,true,false,-5,2.5,"it's"]` {
		t.Errorf("defaults %s", got)
	}
	for _, bad := range []string{
		"CREATE USER TABLE app.e (id INT PRIMARY KEY DEFAULT random())",
		"CREATE USER TABLE app.e (id INT PRIMARY KEY, ok BOOLEAN DEFAULT 'perhaps')",
		"CREATE USER TABLE app.e (id INT PRIMARY KEY, n INT DEFAULT 1 + 1)",
	} {
		if e := execErr(t, s, rootSess, bad); !contains(e.Message, "invalid DEFAULT") {
			t.Errorf("%s: %q", bad, e.Message)
		}
	}
	if e := execErr(t, s, rootSess, "CREATE NAMESPACE x", 1); !contains(e.Message, "Parameters not supported for CREATE NAMESPACE statements") {
		t.Errorf("params on DDL: %q", e.Message)
	}
}
