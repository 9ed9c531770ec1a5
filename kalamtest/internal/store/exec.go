package store

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/kalamgo/kalam/transport/wire"
	"github.com/ncruces/go-sqlite3"
)

// Session says who runs a statement.
type Session struct {
	// User is the canonical user id (the JWT sub). USER and STREAM tables
	// show and take only this user's rows.
	User string
	// Role is "user", "service", "dba" or "system"; anything else counts
	// as "user".
	Role string
	// Namespace resolves unqualified table names; "" means "default".
	Namespace string
}

func (s Session) norm() Session {
	if s.Namespace == "" {
		s.Namespace = defaultNamespace
	}
	if !validRole(s.Role) {
		s.Role = roleUser
	}
	return s
}

// Result is what Exec returns on success.
type Result struct {
	// Results are the per-statement results in wire form, already arranged
	// by KalamDB's batch rule (PROTOCOL.md §2.5): in a request with more
	// than one statement, INSERT/UPDATE/DELETE get no result of their own;
	// their counts are summed and appended at the end.
	Results []wire.QueryResult
	// Streamed is true when the request held exactly one statement and it
	// returns rows (SELECT, SHOW …): the HTTP layer then uses the streamed
	// response form.
	Streamed bool
}

// Request limits, as in KalamDB.
const (
	maxSQLLength  = 1 << 20
	maxParams     = 50
	maxParamBytes = 512 * 1024
)

// execState is the per-request state of Exec.
type execState struct {
	sess    Session
	ns      string
	args    []any
	inTx    bool
	results []wire.QueryResult
	counts  [3]int64 // inserted, updated, deleted
}

// Exec runs one request of KalamDB SQL (PROTOCOL.md §2.5): statements
// separated by ';', positional parameters $1…, the batch rule, USE,
// EXECUTE AS USER, and BEGIN/COMMIT/ROLLBACK within the request.
//
// Every statement is parsed before any runs; a parse error stops the whole
// request (INVALID_SQL). Statements then run in order, each committed on
// its own unless inside an explicit transaction; the first failing
// statement stops the request with "Statement N failed: …", and the
// statements before it stay committed. A request that ends inside an open
// transaction is rolled back.
//
// params are the JSON-decoded request params: nil, bool, float64, int64,
// int, json.Number or string. Arrays and objects are refused with
// INVALID_PARAMETER; params together with more than one statement with
// PARAMS_WITH_BATCH.
//
// The error is always an *Error. Canceling ctx interrupts the running
// statement.
func (s *Store) Exec(ctx context.Context, sess Session, sql string, params []any) (Result, error) {
	sess = sess.norm()
	admin := isAdmin(sess.Role)
	if s.closed.Load() {
		return Result{}, closedError()
	}
	if len(sql) > maxSQLLength {
		return Result{}, invalidSQL("SQL query too long: "+strconv.Itoa(len(sql))+
			" bytes (maximum "+strconv.Itoa(maxSQLLength)+")").toError(0, admin, "")
	}
	args, f := convertParams(params)
	if f != nil {
		return Result{}, f.toError(0, admin, "")
	}
	toks, err := lex(sql)
	if err != nil {
		code := wire.CodeInvalidSQL
		if strings.Contains(sql, ";") {
			code = wire.CodeBatchParseError
		}
		f := &failure{status: http.StatusBadRequest, code: code, msg: "Failed to parse SQL batch: " + err.Error()}
		return Result{}, f.toError(0, admin, "")
	}
	stmts := split(toks)
	if len(stmts) == 0 {
		f := &failure{status: http.StatusBadRequest, code: wire.CodeEmptySQL, msg: "No SQL statements provided", safe: true}
		return Result{}, f.toError(0, admin, "")
	}
	if len(params) > 0 && len(stmts) > 1 {
		f := &failure{status: http.StatusBadRequest, code: wire.CodeParamsWithBatch, safe: true,
			msg: "Parameters not supported with multi-statement batches"}
		return Result{}, f.toError(0, admin, "")
	}
	plans := make([]*plan, len(stmts))
	for i, st := range stmts {
		p, f := parseStatement(sql, st)
		if f != nil {
			// Like KalamDB's classifier errors: no statement number, no
			// details (the statement may carry a password).
			return Result{}, f.toError(i+1, admin, "")
		}
		plans[i] = p
	}
	if i, f := authorizeBatch(sess, plans); f != nil {
		return Result{}, f.toError(i+1, admin, "")
	}

	if ctx == nil {
		ctx = context.Background()
	}
	wrote := false
	defer func() {
		if wrote {
			s.deliver()
		}
	}()
	if !s.lock() {
		return Result{}, closedError()
	}
	defer s.mu.Unlock()
	old := s.db.SetInterrupt(ctx)
	defer s.db.SetInterrupt(old)
	before := s.commits
	defer func() { wrote = s.commits != before }()

	st := &execState{sess: sess, ns: sess.Namespace, args: args}
	for i, p := range plans {
		var f *failure
		if err := ctx.Err(); err != nil {
			f = execFail("Query cancelled: "+err.Error(), true)
		} else {
			f = s.runGuarded(ctx, st, p, len(plans) > 1)
		}
		if f != nil {
			if st.inTx {
				s.rollback(st)
			}
			details := ""
			if !p.secret {
				details = srcText(sql, p.toks)
			}
			return Result{}, f.toError(i+1, admin, details)
		}
	}
	if st.inTx {
		s.rollback(st)
		f := execFail("Request completed with an open explicit transaction; rolled back automatically", true)
		f.prefix = false
		return Result{}, f.toError(0, admin, "")
	}
	res := Result{Results: st.results}
	if len(plans) > 1 {
		for k, msg := range []string{"Inserted", "Updated", "Deleted"} {
			if n := st.counts[k]; n > 0 {
				res.Results = append(res.Results, wire.QueryResult{RowCount: n,
					Message: msg + " " + strconv.FormatInt(n, 10) + " row(s)", AsUser: sess.User})
			}
		}
	} else {
		res.Streamed = plans[0].returnsRows()
	}
	if res.Results == nil {
		res.Results = []wire.QueryResult{}
	}
	return res, nil
}

// convertParams validates request params and turns them into bind values.
func convertParams(params []any) ([]any, *failure) {
	if len(params) > maxParams {
		return nil, execFail("Parameter count exceeded: maximum "+strconv.Itoa(maxParams)+
			" parameters allowed, got "+strconv.Itoa(len(params)), true)
	}
	bad := func(i int, why string) *failure {
		return &failure{status: http.StatusBadRequest, code: wire.CodeInvalidParameter, safe: true,
			msg: "Parameter $" + strconv.Itoa(i+1) + " invalid: " + why}
	}
	out := make([]any, len(params))
	for i, p := range params {
		switch x := p.(type) {
		case nil:
			out[i] = nil
		case bool:
			out[i] = b2i(x)
		case int:
			out[i] = int64(x)
		case int32:
			out[i] = int64(x)
		case int64:
			out[i] = x
		case float32:
			out[i] = float64(x)
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, bad(i, "not a finite number")
			}
			out[i] = x
		case json.Number:
			if n, err := x.Int64(); err == nil {
				out[i] = n
			} else if f, err := x.Float64(); err == nil {
				out[i] = f
			} else {
				return nil, bad(i, "not a number")
			}
		case string:
			if len(x) > maxParamBytes {
				return nil, execFail("Parameter $"+strconv.Itoa(i+1)+" exceeds the maximum size of "+
					strconv.Itoa(maxParamBytes)+" bytes", true)
			}
			out[i] = x
		case []any:
			return nil, bad(i, "Array parameters not yet supported")
		case map[string]any:
			return nil, bad(i, "Object parameters not yet supported")
		default:
			return nil, bad(i, "unsupported parameter type")
		}
	}
	return out, nil
}

// run executes one statement. Caller holds mu.
func (s *Store) run(st *execState, p *plan, batch bool) *failure {
	user := st.sess.User
	if p.execAs != "" {
		if f := s.checkImpersonation(st.sess, p.execAs); f != nil {
			return f
		}
		user = p.execAs
	}
	s.curUser = user
	s.fnErr = nil
	if len(st.args) > 0 {
		switch p.kind {
		case pSelect, pInsert, pUpdate, pDelete:
		default:
			return execFail("Parameters not supported for "+kindName(p.kind)+" statements", true)
		}
	}
	switch p.kind {
	case pBegin, pCommit, pRollback:
		return s.runTx(st, p)
	case pCreateNamespace, pDropNamespace, pCreateTable, pDropTable:
		if st.inTx {
			return execFail("Invalid operation: DDL is not supported inside an explicit transaction", true)
		}
	}
	var res wire.QueryResult
	var f *failure
	switch p.kind {
	case pSelect:
		res, f = s.runSelect(st, p)
	case pInsert, pUpdate, pDelete:
		var n int64
		n, f = s.runDML(st, p)
		if f == nil {
			k := map[planKind]int{pInsert: 0, pUpdate: 1, pDelete: 2}[p.kind]
			st.counts[k] += n
			if batch {
				return nil
			}
			res = wire.QueryResult{RowCount: n, Message: []string{"Inserted", "Updated", "Deleted"}[k] +
				" " + strconv.FormatInt(n, 10) + " row(s)"}
		}
	case pCreateNamespace:
		res.Message, f = s.createNamespace(st, p)
	case pDropNamespace:
		res.Message, f = s.dropNamespace(st, p)
	case pCreateTable:
		res.Message, f = s.createTable(st, p)
	case pDropTable:
		res.Message, f = s.dropTable(st, p)
	case pCreateUser, pAlterUser, pDropUser:
		res.Message, f = s.runUserDDL(st, p)
	case pUse:
		s.catMu.RLock()
		ok := s.namespaces[p.name]
		s.catMu.RUnlock()
		if !ok {
			return execFail("Not found: Namespace '"+p.name+"' does not exist", true)
		}
		st.ns = p.name
		res.Message = "Namespace switched to '" + p.name + "'"
	case pShowNamespaces, pShowTables:
		res = s.show(st, p)
	}
	if f != nil {
		return f
	}
	res.AsUser = user
	st.results = append(st.results, res)
	return nil
}

func kindName(k planKind) string {
	switch k {
	case pCreateNamespace:
		return "CREATE NAMESPACE"
	case pDropNamespace:
		return "DROP NAMESPACE"
	case pCreateTable:
		return "CREATE TABLE"
	case pDropTable:
		return "DROP TABLE"
	case pCreateUser:
		return "CREATE USER"
	case pAlterUser:
		return "ALTER USER"
	case pDropUser:
		return "DROP USER"
	case pUse:
		return "USE"
	case pShowNamespaces, pShowTables:
		return "SHOW"
	}
	return "transaction"
}

// roleDebug spells a role the way KalamDB's messages do.
func roleDebug(r string) string {
	if r == "" {
		return "User"
	}
	if r == roleDBA {
		return "Dba"
	}
	return strings.ToUpper(r[:1]) + r[1:]
}

// checkImpersonation applies the EXECUTE AS USER role hierarchy.
func (s *Store) checkImpersonation(sess Session, target string) *failure {
	if target == sess.User {
		return nil
	}
	tr := s.roleOf(target)
	ok := false
	switch sess.Role {
	case roleSystem:
		ok = true
	case roleDBA:
		ok = tr != roleSystem
	case roleService:
		ok = tr == roleService || tr == roleUser
	}
	if ok {
		return nil
	}
	return denied("Unauthorized: EXECUTE AS USER is not authorized: actor '" + sess.User + "' with role " +
		roleDebug(sess.Role) + " cannot target '" + target + "' with role " + roleDebug(tr))
}

// checkAccess enforces table permissions for reads (write=false) and
// writes, and refuses EXECUTE AS on SHARED tables.
func checkAccess(sess Session, p *plan, t *tableDef, write bool) *failure {
	switch t.Kind {
	case tableSystem:
		if write {
			return execFail("Invalid operation: system table '"+t.full+"' is read-only", true)
		}
		if !isAdmin(sess.Role) {
			return denied("Permission denied: access to system table '" + t.full + "' requires dba or system role")
		}
	case tableShared:
		if p.execAs != "" {
			return execFail("EXECUTE AS USER is not allowed on SHARED tables (table '"+t.full+
				"'). AS USER impersonation is only supported for USER and STREAM tables.", true)
		}
		elevated := sess.Role != roleUser
		if !elevated && (write || t.Access != accessPublic) {
			op := "read"
			if write {
				op = "write"
			}
			return denied("Permission denied: Shared table '" + t.full + "' " + op +
				" denied (access_level=" + roleDebug(t.Access) + ")")
		}
	}
	return nil
}

func paramCount(r *rewriter, args []any) *failure {
	if r.maxParam != len(args) {
		return execFail("Parameter count mismatch: expected "+strconv.Itoa(r.maxParam)+
			" parameters, got "+strconv.Itoa(len(args)), true)
	}
	return nil
}

func (s *Store) runSelect(st *execState, p *plan) (wire.QueryResult, *failure) {
	r := &rewriter{s: s, src: p.src, ns: st.ns}
	r.scanCTEs(p.toks)
	q, f := r.rewrite(p.toks)
	if f != nil {
		return wire.QueryResult{}, f
	}
	for _, t := range r.refs {
		if f := checkAccess(st.sess, p, t, false); f != nil {
			return wire.QueryResult{}, f
		}
	}
	if f := paramCount(r, st.args); f != nil {
		return wire.QueryResult{}, f
	}
	if f := s.refreshVirtual(r.refs); f != nil {
		return wire.QueryResult{}, f
	}
	if f := s.evictExpired(r.refs...); f != nil {
		return wire.QueryResult{}, f
	}
	return s.query(q, st.args, st.ns)
}

// resultCol describes one output column of a query.
type resultCol struct {
	field wire.SchemaField
	typ   colType
	known bool // typed by its source column; otherwise inferred from values
}

// query runs a read-only statement and encodes its rows. Caller holds mu.
func (s *Store) query(q string, args []any, ns string) (wire.QueryResult, *failure) {
	stmt, err := s.prepareUser(q, nil)
	if err != nil {
		return wire.QueryResult{}, translate(err, ns)
	}
	defer stmt.ClearBindings()
	defer stmt.Reset()
	if !stmt.ReadOnly() {
		return wire.QueryResult{}, invalidSQL("Only read-only queries are allowed here")
	}
	if err := bind(stmt, args...); err != nil {
		return wire.QueryResult{}, translate(err, ns)
	}
	n := stmt.ColumnCount()
	cols := make([]resultCol, n)
	for i := range cols {
		cols[i] = s.describeColumn(stmt, i)
	}
	var rows [][]any
	for stmt.Step() {
		vals := make([]any, n)
		for i := range vals {
			vals[i] = columnValue(stmt, i)
		}
		rows = append(rows, vals)
	}
	if err := stmt.Err(); err != nil {
		if s.fnErr != nil {
			return wire.QueryResult{}, s.fnErr
		}
		return wire.QueryResult{}, translate(err, ns)
	}
	res := wire.QueryResult{Schema: make([]wire.SchemaField, n), RowCount: int64(len(rows))}
	for i := range cols {
		if !cols[i].known {
			cols[i].typ = inferType(rows, i)
			cols[i].field.DataType = cols[i].typ.dataType()
		}
		res.Schema[i] = cols[i].field
	}
	if len(rows) > 0 {
		res.Rows = make([][]json.RawMessage, len(rows))
		var buf []byte
		for r, vals := range rows {
			out := make([]json.RawMessage, n)
			for i, v := range vals {
				start := len(buf)
				buf = appendCell(buf, cols[i].typ, v)
				out[i] = buf[start:len(buf):len(buf)]
			}
			res.Rows[r] = out
		}
	}
	return res, nil
}

// physToSystem maps system views' physical tables to their definitions.
var physToSystem = func() map[string]*tableDef {
	m := map[string]*tableDef{}
	for _, t := range systemTables {
		m[t.sysPhys] = t
	}
	return m
}()

// describeColumn finds the KalamDB type of result column i from its
// origin, when it comes straight from a table column.
func (s *Store) describeColumn(st *sqlite3.Stmt, i int) resultCol {
	name := st.ColumnName(i)
	rc := resultCol{field: wire.SchemaField{Name: name, Index: i}}
	tbl, col := st.ColumnTableName(i), st.ColumnOriginName(i)
	if tbl == "" {
		return rc
	}
	var def *tableDef
	if full, ok := strings.CutSuffix(tbl, "#"); ok {
		def = s.tables[full]
	} else {
		def = physToSystem[tbl]
	}
	if def == nil {
		return rc
	}
	switch col {
	case seqCol:
		rc.field, rc.typ, rc.known = seqField(i), colType{kind: kBigInt}, true
	case deletedCol:
		rc.field, rc.typ, rc.known = deletedField(i), colType{kind: kBoolean}, true
	default:
		ci, ok := def.col(col)
		if !ok {
			return rc
		}
		rc.field, rc.typ, rc.known = def.field(ci, i), def.Cols[ci].Type, true
	}
	rc.field.Name = name
	return rc
}

// inferType types an expression column by the values it produced, the way
// DataFusion would type the expression: integers are Int64 (BigInt),
// reals Float64.
func inferType(rows [][]any, i int) colType {
	k := kind(0)
	for _, r := range rows {
		var vk kind
		switch r[i].(type) {
		case nil:
			continue
		case int64:
			vk = kBigInt
		case float64:
			vk = kDouble
		case string:
			vk = kText
		case []byte:
			vk = kBytes
		}
		switch {
		case k == 0:
			k = vk
		case k == vk:
		case (k == kBigInt && vk == kDouble) || (k == kDouble && vk == kBigInt):
			k = kDouble
		default:
			k = kText
		}
	}
	if k == 0 {
		k = kText
	}
	return colType{kind: k}
}

// resolveTarget finds the table a DML statement writes.
func (s *Store) resolveTarget(st *execState, p *plan) (*tableDef, *failure) {
	full := p.table.resolve(st.ns)
	if forbiddenIdent(p.table.ns) || forbiddenIdent(p.table.name) {
		return nil, invalidSQL("Identifier '" + full + "' is reserved")
	}
	t := s.lookupTable(full)
	if t == nil {
		return nil, tableNotFound(full)
	}
	if f := checkAccess(st.sess, p, t, true); f != nil {
		return nil, f
	}
	return t, nil
}

// runDML executes INSERT, UPDATE or DELETE and returns the rows affected.
// Caller holds mu.
func (s *Store) runDML(st *execState, p *plan) (int64, *failure) {
	t, f := s.resolveTarget(st, p)
	if f != nil {
		return 0, f
	}
	var q string
	switch p.kind {
	case pInsert:
		q, f = s.insertSQL(st, p, t)
	default:
		q, f = s.updateSQL(st, p, t)
	}
	if f != nil {
		return 0, f
	}
	if f := s.evictExpired(t); f != nil {
		return 0, f
	}
	stmt, err := s.prepareUser(q, t)
	if err != nil {
		f := translate(err, st.ns)
		if strings.Contains(err.Error(), "_kalam_src") {
			f = execFail("Column count mismatch: each VALUES row must have one value per target column", true)
		}
		return 0, f
	}
	defer stmt.ClearBindings()
	if err := bind(stmt, st.args...); err != nil {
		return 0, translate(err, st.ns)
	}
	mark := len(s.captured)
	if err := stmt.Exec(); err != nil {
		s.captured = s.captured[:mark]
		if s.fnErr != nil {
			return 0, s.fnErr
		}
		return 0, translate(err, st.ns)
	}
	n := s.db.Changes()
	if !st.inTx {
		s.commitCaptured()
	}
	return n, nil
}

// insertSQL builds
//
//	WITH "_kalam_src"("c1",…) AS (<source>)
//	INSERT INTO "ns.t#" (owner, _seq, cols…)
//	SELECT <owner>, kalam_seq(), kalam_in(…, "c1"), … FROM "_kalam_src"
//
// so omitted columns get their defaults and every row its own _seq.
func (s *Store) insertSQL(st *execState, p *plan, t *tableDef) (string, *failure) {
	var idx []int
	if len(p.insCols) == 0 {
		for i := range t.Cols {
			idx = append(idx, i)
		}
	} else {
		for _, c := range p.insCols {
			if isSystemColumn(c) {
				return "", execFail("System column violation: column '"+c+"' cannot be written", true)
			}
			i, ok := t.col(c)
			if !ok {
				return "", execFail("Schema error: No field named "+c+". Column not found in "+t.full, true)
			}
			if slices.Contains(idx, i) {
				return "", execFail("Column '"+c+"' specified more than once", true)
			}
			idx = append(idx, i)
		}
	}
	r := &rewriter{s: s, src: p.src, ns: st.ns}
	r.scanCTEs(p.source)
	src, f := r.rewrite(p.source)
	if f != nil {
		return "", f
	}
	for _, ref := range r.refs {
		if f := checkAccess(st.sess, p, ref, false); f != nil {
			return "", f
		}
	}
	if f := paramCount(r, st.args); f != nil {
		return "", f
	}
	if f := s.refreshVirtual(r.refs); f != nil {
		return "", f
	}
	var b strings.Builder
	b.WriteString(`WITH "_kalam_src"(`)
	for k := range idx {
		if k > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`"c` + strconv.Itoa(k+1) + `"`)
	}
	b.WriteString(") AS (" + src + ") INSERT INTO " + t.phys + " (" + quoteIdent(ownerCol) + ", " + quoteIdent(seqCol))
	for _, i := range idx {
		b.WriteString(", " + quoteIdent(t.Cols[i].Name))
	}
	b.WriteString(") SELECT " + t.ownerExpr() + ", kalam_seq()")
	for k, i := range idx {
		b.WriteString(", " + convExpr(t.Cols[i], `"c`+strconv.Itoa(k+1)+`"`))
	}
	b.WriteString(` FROM "_kalam_src"`)
	return b.String(), nil
}

func convExpr(c column, expr string) string {
	if cv := c.Type.conv(); cv != "" {
		return "kalam_in(" + quoteString(cv) + ", " + quoteString(c.Name) + ", " + expr + ")"
	}
	return expr
}

func isSystemColumn(c string) bool {
	switch strings.ToLower(c) {
	case seqCol, deletedCol, commitCol:
		return true
	}
	return false
}

// updateSQL builds the UPDATE behind UPDATE and DELETE (a soft delete):
//
//	UPDATE "ns.t#" AS "t" SET …, "_seq" = kalam_seq()
//	WHERE "t"."_kalam_owner" = <owner> AND "t"."_deleted" = 0 AND (<where>)
//	  [AND ("t"."c1" IS NOT <new c1> OR …)]
func (s *Store) updateSQL(st *execState, p *plan, t *tableDef) (string, *failure) {
	r := &rewriter{s: s, src: p.src, ns: st.ns, target: t, alias: t.Name}
	r.scanCTEs(p.toks)
	alias := quoteIdent(t.Name)
	var b strings.Builder
	// changed holds "col IS NOT new value" per assignment: like KalamDB, an
	// UPDATE that would leave a row as it is writes no new version and is
	// not counted.
	var changed []string
	b.WriteString("UPDATE " + t.phys + " AS " + alias + " SET ")
	if p.kind == pDelete {
		b.WriteString(quoteIdent(deletedCol) + " = 1")
	} else {
		seen := map[int]bool{}
		for k, a := range p.assigns {
			if isSystemColumn(a.col) {
				return "", execFail("System column violation: column '"+a.col+"' cannot be written", true)
			}
			i, ok := t.col(a.col)
			if !ok {
				return "", execFail("Schema error: No field named "+a.col+". Column not found in "+t.full, true)
			}
			if seen[i] {
				return "", execFail("Column '"+a.col+"' assigned more than once", true)
			}
			seen[i] = true
			e, f := r.rewrite(a.expr)
			if f != nil {
				return "", f
			}
			if k > 0 {
				b.WriteString(", ")
			}
			val := convExpr(t.Cols[i], "("+e+")")
			b.WriteString(quoteIdent(t.Cols[i].Name) + " = " + val)
			changed = append(changed, alias+"."+quoteIdent(t.Cols[i].Name)+" IS NOT "+val)
		}
	}
	b.WriteString(", " + quoteIdent(seqCol) + " = kalam_seq() WHERE " + alias + "." + quoteIdent(ownerCol) +
		" = " + t.ownerExpr() + " AND " + alias + "." + quoteIdent(deletedCol) + " = 0")
	if len(p.where) > 0 {
		w, f := r.rewrite(p.where)
		if f != nil {
			return "", f
		}
		b.WriteString(" AND (" + w + ")")
	}
	if len(changed) > 0 {
		b.WriteString(" AND (" + strings.Join(changed, " OR ") + ")")
	}
	for _, ref := range r.refs {
		if ref != t {
			if f := checkAccess(st.sess, p, ref, false); f != nil {
				return "", f
			}
		}
	}
	if f := paramCount(r, st.args); f != nil {
		return "", f
	}
	if f := s.refreshVirtual(r.refs); f != nil {
		return "", f
	}
	return b.String(), nil
}

// commitCaptured hands the committed transaction's changes to the delivery
// queue, in _seq order. Caller holds mu.
func (s *Store) commitCaptured() {
	if len(s.captured) == 0 {
		return
	}
	batch := s.captured
	s.captured = nil
	sort.SliceStable(batch, func(i, j int) bool { return batch[i].Seq < batch[j].Seq })
	s.pendMu.Lock()
	s.pending = append(s.pending, batch...)
	s.pendMu.Unlock()
	s.commits++
}

func (s *Store) rollback(st *execState) {
	s.db.Exec("ROLLBACK")
	s.captured = nil
	st.inTx = false
}

func (s *Store) runTx(st *execState, p *plan) *failure {
	var msg string
	switch p.kind {
	case pBegin:
		if st.inTx {
			return execFail("Invalid operation: a transaction is already active", true)
		}
		if err := s.db.Exec("BEGIN IMMEDIATE"); err != nil {
			return translate(err, st.ns)
		}
		st.inTx, msg = true, "Transaction started"
	case pCommit:
		if !st.inTx {
			return execFail("Invalid operation: no active transaction", true)
		}
		if err := s.db.Exec("COMMIT"); err != nil {
			s.rollback(st)
			return translate(err, st.ns)
		}
		st.inTx, msg = false, "Transaction committed"
		s.commitCaptured()
	case pRollback:
		if !st.inTx {
			return execFail("Invalid operation: no active transaction", true)
		}
		s.rollback(st)
		msg = "Transaction rolled back"
	}
	st.results = append(st.results, wire.QueryResult{Message: msg, AsUser: s.curUser})
	return nil
}

// show answers SHOW NAMESPACES and SHOW TABLES.
func (s *Store) show(st *execState, p *plan) wire.QueryResult {
	text := wire.DataType{Name: wire.TypeText}
	str := func(v string) json.RawMessage { return appendJSONString(nil, v) }
	s.catMu.RLock()
	defer s.catMu.RUnlock()
	var res wire.QueryResult
	if p.kind == pShowNamespaces {
		res.Schema = []wire.SchemaField{{Name: "namespace_id", DataType: text, Index: 0}}
		var names []string
		for n := range s.namespaces {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			res.Rows = append(res.Rows, []json.RawMessage{str(n)})
		}
	} else {
		res.Schema = []wire.SchemaField{{Name: "namespace_id", DataType: text, Index: 0},
			{Name: "table_name", DataType: text, Index: 1}, {Name: "table_type", DataType: text, Index: 2}}
		var names []string
		for n, t := range s.tables {
			if p.name == "" || t.NS == p.name {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			t := s.tables[n]
			res.Rows = append(res.Rows, []json.RawMessage{str(t.NS), str(t.Name), str(strings.ToUpper(t.Kind.String()))})
		}
	}
	res.RowCount = int64(len(res.Rows))
	return res
}
