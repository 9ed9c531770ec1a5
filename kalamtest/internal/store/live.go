package store

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/kalamgo/kalam/transport/wire"
	"github.com/ncruces/go-sqlite3"
)

// LiveQuery is a validated subscription query (SELECT <cols>|* FROM ns.t
// [WHERE …]) bound to the user it was prepared for. It is immutable and
// safe for concurrent use.
type LiveQuery struct {
	def    *tableDef
	out    []int // table columns in output order (all for SELECT *)
	star   bool  // SELECT *: rows carry _deleted too
	schema []wire.SchemaField
	names  []string // row keys of a full row: out columns, _seq [, _deleted]
	pkOnly []int    // primary-key columns not in out (projections)

	cond    string // WHERE condition over the table's column names, "" = none
	evalSQL string // SELECT 1 FROM (SELECT ?1 AS c1 …) WHERE cond
	snapSQL string
	lastSQL string
	endSQL  string
}

// Table returns the subscribed table as "ns.table".
func (q *LiveQuery) Table() string { return q.def.full }

// Schema returns the subscription schema: the projected columns in SELECT
// order, or all columns by ordinal including _seq and _deleted for SELECT
// *. The slice must not be modified.
func (q *LiveQuery) Schema() []wire.SchemaField { return q.schema }

// liveErr builds a PrepareLive error with a WebSocket code.
func liveErr(status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

func liveInvalid(msg string) *Error {
	return liveErr(http.StatusBadRequest, wire.CodeInvalidSQL, "Invalid SQL: "+msg)
}

const onlySelect = "Subscription query supports only SELECT ... FROM ... [WHERE ...]."

// PrepareLive validates a subscription query for sess (PROTOCOL.md §4.4,
// §4.6): the shape (INVALID_SQL), a namespace-qualified table (INVALID_SQL
// "Invalid SQL: Query must use namespace.table format"), the system
// namespace (UNAUTHORIZED unless dba/system), the table's existence
// (NOT_FOUND "Not found: Table not found: ns.t") and SHARED access levels
// (UNAUTHORIZED). CURRENT_USER() in the WHERE clause is replaced by
// sess.User. The error is an *Error carrying a WebSocket error code.
func (s *Store) PrepareLive(sess Session, sql string) (*LiveQuery, error) {
	sess = sess.norm()
	if s.closed.Load() {
		return nil, closedError()
	}
	toks, err := lex(sql)
	if err != nil {
		return nil, liveInvalid(err.Error())
	}
	stmts := split(toks)
	if len(stmts) != 1 {
		return nil, liveInvalid("Subscription query must be exactly one SELECT statement.")
	}
	toks = stmts[0]
	p := &parser{src: sql, toks: toks}
	switch {
	case p.peek().is("WITH"):
		return nil, liveInvalid("Subscription query does not support WITH clauses. Only SELECT ... FROM ... [WHERE ...] is supported.")
	case !p.accept("SELECT"):
		return nil, liveInvalid("Subscription query supports only simple SELECT statements.")
	case p.peek().is("DISTINCT"), p.peek().is("ALL"):
		return nil, liveInvalid(onlySelect)
	}

	// Projection.
	star := false
	var projCols []string
	if p.acceptPunct("*") {
		star = true
	} else {
		for {
			var parts []token
			for p.peek().isIdent() {
				parts = append(parts, p.next())
				if !p.acceptPunct(".") {
					break
				}
			}
			if len(parts) == 0 || !(p.peek().isPunct(",") || p.peek().is("FROM")) {
				return nil, liveInvalid("Subscription query supports only column names or * in the SELECT list.")
			}
			last := parts[len(parts)-1]
			if isSystemColumn(last.ident()) {
				return nil, liveInvalid("Subscription query cannot project system columns '_seq' or '_deleted'.")
			}
			projCols = append(projCols, last.ident())
			if !p.acceptPunct(",") {
				break
			}
		}
	}
	if !p.accept("FROM") {
		return nil, liveInvalid("No FROM clause in SELECT")
	}

	// FROM ns.t [AS alias]
	if p.peek().isPunct("(") {
		return nil, liveInvalid("Subscription query requires a direct table reference in FROM.")
	}
	ref, f := p.tableRef()
	if f != nil {
		return nil, liveInvalid("Subscription query requires a direct table reference in FROM.")
	}
	alias := ref.name
	if p.accept("AS") {
		a, f := p.ident("an alias")
		if f != nil {
			return nil, liveInvalid(onlySelect)
		}
		alias = a
	} else if t := p.peek(); t.kind == tkQuoted || (t.kind == tkWord && !clauseWords[strings.ToLower(t.text)]) {
		alias = t.ident()
		p.next()
	}
	switch t := p.peek(); {
	case t.isPunct(","):
		return nil, liveInvalid("Subscription query requires exactly one table in the FROM clause.")
	case t.is("JOIN"), t.is("LEFT"), t.is("RIGHT"), t.is("INNER"), t.is("FULL"), t.is("CROSS"), t.is("NATURAL"):
		return nil, liveInvalid("Subscription query does not support JOIN clauses. Only SELECT ... FROM ... [WHERE ...] is supported.")
	}
	var where []token
	if p.accept("WHERE") {
		where = p.until(func(token) bool { return false })
		if len(where) == 0 {
			return nil, liveInvalid("expected a condition after WHERE")
		}
		// The condition runs to the end; a trailing clause would be
		// swallowed by it, so look for one at depth 0.
		p2 := &parser{src: sql, toks: where}
		p2.until(func(t token) bool {
			return t.is("ORDER") || t.is("LIMIT") || t.is("OFFSET") || t.is("GROUP") || t.is("HAVING") ||
				t.is("UNION") || t.is("INTERSECT") || t.is("EXCEPT") || t.is("WINDOW")
		})
		if !p2.eof() {
			p = p2
		}
	}
	if !p.eof() {
		switch t := p.peek(); {
		case t.is("ORDER"):
			return nil, liveInvalid("Subscription query does not support ORDER BY. Only SELECT ... FROM ... [WHERE ...] is supported.")
		case t.is("GROUP"):
			return nil, liveInvalid("Subscription query does not support GROUP BY. Only SELECT ... FROM ... [WHERE ...] is supported.")
		case t.is("UNION"), t.is("INTERSECT"), t.is("EXCEPT"):
			return nil, liveInvalid("Subscription query supports only simple SELECT statements.")
		}
		return nil, liveInvalid(onlySelect)
	}

	// Table checks, in KalamDB's order.
	if ref.ns == "" {
		return nil, liveInvalid("Query must use namespace.table format")
	}
	full := ref.ns + "." + ref.name
	if ref.ns == "system" || ref.ns == "sys" {
		if !isAdmin(sess.Role) {
			return nil, liveErr(http.StatusForbidden, wire.CodeUnauthorized, "Permission denied: Cannot subscribe to system table '"+
				full+"': insufficient privileges. Only DBA and system roles can subscribe to system tables.")
		}
		if systemTables[full] != nil {
			return nil, liveErr(http.StatusBadRequest, wire.CodeUnsupported, "Invalid operation: kalamtest does not support subscriptions to system tables")
		}
	}
	if forbiddenIdent(ref.ns) || forbiddenIdent(ref.name) {
		return nil, liveInvalid("Identifier '" + full + "' is reserved")
	}
	s.catMu.RLock()
	def := s.tables[full]
	s.catMu.RUnlock()
	if def == nil {
		return nil, liveErr(http.StatusNotFound, wire.CodeNotFound, "Not found: Table not found: "+full)
	}
	if def.Kind == tableShared && sess.Role == roleUser && def.Access != accessPublic {
		return nil, liveErr(http.StatusForbidden, wire.CodeUnauthorized, "Permission denied: Cannot subscribe to shared table '"+
			full+"': access level '"+roleDebug(def.Access)+"' requires elevated privileges.")
	}

	q := &LiveQuery{def: def, star: star}
	if star {
		for i := range def.Cols {
			q.out = append(q.out, i)
			q.schema = append(q.schema, def.field(i, i))
		}
		q.schema = append(q.schema, seqField(len(def.Cols)), deletedField(len(def.Cols)+1))
	} else {
		for k, c := range projCols {
			i, ok := def.col(c)
			if !ok {
				return nil, liveInvalid("Column '" + c + "' not found in " + full)
			}
			q.out = append(q.out, i)
			q.schema = append(q.schema, def.field(i, k))
		}
		for _, i := range def.pk {
			if !containsInt(q.out, i) {
				q.pkOnly = append(q.pkOnly, i)
			}
		}
	}
	for _, i := range q.out {
		q.names = append(q.names, def.Cols[i].Name)
	}
	q.names = append(q.names, seqCol)
	if star {
		q.names = append(q.names, deletedCol)
	}

	if len(where) > 0 {
		cond, err := liveCondition(where, ref, alias, sess.User)
		if err != nil {
			return nil, err
		}
		q.cond = cond
	}
	q.buildSQL()
	if q.cond != "" {
		// Compile the filter once now so a bad condition fails the
		// subscribe, not the first notification.
		c, err := s.getEval()
		if err != nil {
			return nil, err
		}
		_, perr := c.stmt(q.evalSQL)
		s.putEval(c)
		if perr != nil {
			msg := sqliteMessage(perr)
			if strings.HasPrefix(msg, "no such table") {
				msg = "subqueries are not supported in subscription filters"
			}
			return nil, liveInvalid(msg)
		}
	}
	return q, nil
}

func containsInt(xs []int, v int) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

// liveCondition rewrites a subscription WHERE clause to SQLite text over
// bare column names: qualifiers are dropped and CURRENT_USER() becomes the
// user id literal.
func liveCondition(toks []token, ref tref, alias, user string) (string, *Error) {
	var b strings.Builder
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if i > 0 {
			b.WriteByte(' ')
		}
		switch t.kind {
		case tkParam, tkOther:
			return "", liveInvalid("parameters are not supported in subscriptions")
		case tkString:
			b.WriteString(quoteString(t.text))
			continue
		case tkBlob:
			b.WriteString("x'" + t.text + "'")
			continue
		case tkNumber, tkPunct:
			b.WriteString(t.text)
			continue
		}
		if forbiddenIdent(t.text) {
			return "", liveInvalid("Identifier '" + t.text + "' is reserved")
		}
		if t.is("SELECT") {
			return "", liveInvalid("subqueries are not supported in subscription filters")
		}
		if t.is("CURRENT_USER") && i+2 < len(toks) && toks[i+1].isPunct("(") && toks[i+2].isPunct(")") {
			b.WriteString(quoteString(user))
			i += 2
			continue
		}
		// Drop qualifiers: ns.t.col, t.col, alias.col → col.
		if i+2 < len(toks) && toks[i+1].isPunct(".") && toks[i+2].isIdent() {
			a := t.ident()
			if i+4 < len(toks) && a == ref.ns && toks[i+2].ident() == ref.name && toks[i+3].isPunct(".") && toks[i+4].isIdent() {
				i += 4
				b.WriteString(identSQL(toks[i]))
				continue
			}
			if a == alias || a == ref.name {
				i += 2
				b.WriteString(identSQL(toks[i]))
				continue
			}
		}
		b.WriteString(identSQL(t))
	}
	return b.String(), nil
}

func (q *LiveQuery) buildSQL() {
	t := q.def
	var cols strings.Builder
	for _, i := range q.out {
		cols.WriteString(quoteIdent(t.Cols[i].Name) + ", ")
	}
	cols.WriteString(quoteIdent(seqCol))
	if q.star {
		cols.WriteString(", " + quoteIdent(deletedCol))
	}
	cond := ""
	if q.cond != "" {
		cond = " AND (" + q.cond + ")"
	}
	base := " FROM " + t.phys + " WHERE " + quoteIdent(ownerCol) + " = ?1 AND " + quoteIdent(deletedCol) + " = 0" + t.ttlFilter()
	seq := quoteIdent(seqCol)
	q.snapSQL = "SELECT " + cols.String() + base + " AND " + seq + " > ?2 AND " + seq + " <= ?3" + cond +
		" ORDER BY " + seq + " LIMIT ?4"
	q.lastSQL = "SELECT " + cols.String() + base + " AND " + seq + " <= ?2" + cond +
		" ORDER BY " + seq + " DESC LIMIT ?3"
	q.endSQL = "SELECT coalesce(max(" + seq + "), 0)" + base + cond

	if q.cond != "" {
		var b strings.Builder
		b.WriteString("SELECT 1 FROM (SELECT ")
		for i, c := range t.Cols {
			b.WriteString("CAST(?" + strconv.Itoa(i+1) + " AS " + c.Type.affinity() + ") AS " + quoteIdent(c.Name) + ", ")
		}
		n := len(t.Cols)
		b.WriteString("CAST(?" + strconv.Itoa(n+1) + " AS INTEGER) AS " + seq + ", CAST(?" + strconv.Itoa(n+2) +
			" AS INTEGER) AS " + quoteIdent(deletedCol) + ") WHERE " + q.cond)
		q.evalSQL = b.String()
	}
}

// owner is the _kalam_owner value of sess's rows in q's table.
func (q *LiveQuery) owner(sess Session) string {
	if q.def.Kind.perUser() {
		return sess.User
	}
	return ""
}

// checkLive verifies q can still be served.
func (s *Store) checkLive(q *LiveQuery) *Error {
	if q == nil || q.def == nil {
		return liveErr(http.StatusBadRequest, wire.CodeSubscriptionFailed, "Invalid operation: no live query")
	}
	if s.closed.Load() {
		return closedError()
	}
	if s.tables[q.def.full] != q.def {
		return liveErr(http.StatusNotFound, wire.CodeNotFound, "Not found: Table not found: "+q.def.full)
	}
	return nil
}

// SnapshotEnd returns the snapshot boundary of an initial load: MAX(_seq)
// of the rows sess can see that match q (live rows only), or 0 when there
// are none.
func (s *Store) SnapshotEnd(q *LiveQuery, sess Session) (wire.SeqID, error) {
	if !s.lock() {
		return 0, closedError()
	}
	defer s.mu.Unlock()
	if err := s.checkLive(q); err != nil {
		return 0, err
	}
	v, err := s.queryInt(q.endSQL, q.owner(sess))
	if err != nil {
		return 0, liveErr(http.StatusInternalServerError, wire.CodeSubscriptionFailed, "Execution error: "+err.Error())
	}
	return wire.SeqID(v), nil
}

// Snapshot returns one initial-load batch: the rows matching q with
// after < _seq <= upto that are not deleted, ascending by _seq, at most
// limit of them. Rows are JSON objects keyed by column name: all columns
// plus _seq and _deleted for SELECT *, the projected columns plus _seq
// otherwise.
func (s *Store) Snapshot(q *LiveQuery, sess Session, after, upto wire.SeqID, limit int) ([]wire.Row, error) {
	if limit <= 0 {
		return nil, nil
	}
	return s.snapshot(q, q.snapSQL, false, q.owner(sess), after, upto, limit)
}

// SnapshotLast returns the newest n rows matching q with _seq <= upto, in
// ascending _seq order (the last_rows option).
func (s *Store) SnapshotLast(q *LiveQuery, sess Session, upto wire.SeqID, n int) ([]wire.Row, error) {
	if n <= 0 {
		return nil, nil
	}
	return s.snapshot(q, q.lastSQL, true, q.owner(sess), upto, n)
}

func (s *Store) snapshot(q *LiveQuery, sql string, reverse bool, args ...any) ([]wire.Row, error) {
	if !s.lock() {
		return nil, closedError()
	}
	defer s.mu.Unlock()
	if err := s.checkLive(q); err != nil {
		return nil, err
	}
	st, err := s.prepare(sql)
	if err != nil {
		return nil, liveErr(http.StatusInternalServerError, wire.CodeSubscriptionFailed, "Execution error: "+sqliteMessage(err))
	}
	defer st.Reset()
	if err := bind(st, args...); err != nil {
		return nil, liveErr(http.StatusInternalServerError, wire.CodeSubscriptionFailed, "Execution error: "+err.Error())
	}
	var rows []wire.Row
	vals := make([]any, len(q.names))
	for st.Step() {
		for i := range vals {
			vals[i] = columnValue(st, i)
		}
		rows = append(rows, q.fullRow(vals[:len(q.out)], wire.SeqID(vals[len(q.out)].(int64)), false))
	}
	if err := st.Err(); err != nil {
		return nil, liveErr(http.StatusInternalServerError, wire.CodeSubscriptionFailed, "Execution error: "+sqliteMessage(err))
	}
	if reverse {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	return rows, nil
}

// fullRow encodes a row in q's output layout; vals are the out columns'
// values in output order.
func (q *LiveQuery) fullRow(vals []any, seq wire.SeqID, deleted bool) wire.Row {
	cells := make([]json.RawMessage, 0, len(q.names))
	var buf []byte
	for k, i := range q.out {
		start := len(buf)
		buf = appendCell(buf, q.def.Cols[i].Type, vals[k])
		cells = append(cells, buf[start:len(buf):len(buf)])
	}
	cells = append(cells, wire.SeqCell(seq))
	if q.star {
		cells = append(cells, json.RawMessage(strconv.FormatBool(deleted)))
	}
	return wire.EncodeRow(q.names, cells)
}

// rowBuilder collects the cells of a partial row (update payloads).
type rowBuilder struct {
	names []string
	cells []json.RawMessage
	buf   []byte
}

func (b *rowBuilder) add(name string, t colType, v any) {
	start := len(b.buf)
	b.buf = appendCell(b.buf, t, v)
	b.names = append(b.names, name)
	b.cells = append(b.cells, b.buf[start:len(b.buf):len(b.buf)])
}

func (b *rowBuilder) row(seq wire.SeqID, deleted *bool) wire.Row {
	b.names = append(b.names, seqCol)
	b.cells = append(b.cells, wire.SeqCell(seq))
	if deleted != nil {
		b.names = append(b.names, deletedCol)
		b.cells = append(b.cells, json.RawMessage(strconv.FormatBool(*deleted)))
	}
	return wire.EncodeRow(b.names, b.cells)
}

// Notify builds the "change" message a subscription on q for sess must
// receive for ch (PROTOCOL.md §4.5), complete except SubscriptionID, or
// ok=false when ch does not concern it: another table, another owner's row
// of a USER/STREAM table, or a WHERE clause that is false for the new row
// (insert, update) or the tombstone (delete). The WHERE clause is
// evaluated by SQLite on the change's values.
//
// Payloads: insert → the full row (or projection + _seq); update → rows[0]
// holds the primary key, the new _seq and every non-NULL column (projected
// ones only), old_values[0] the primary key, the previous _seq and the old
// values of the columns that changed; delete → old_values[0] is the
// tombstone with the delete's _seq and _deleted:true.
func (s *Store) Notify(q *LiveQuery, sess Session, ch Change) (msg *wire.ServerMessage, ok bool, err error) {
	if q == nil || ch.def == nil || ch.def != q.def {
		return nil, false, nil
	}
	if q.def.Kind.perUser() && ch.Owner != sess.User {
		return nil, false, nil
	}
	if s.closed.Load() {
		return nil, false, closedError()
	}
	if q.evalSQL != "" {
		deleted := int64(0)
		if ch.Kind == wire.ChangeDelete {
			deleted = 1
		}
		match, err := s.evalFilter(q.evalSQL, ch.newVals, int64(ch.Seq), deleted)
		if err != nil {
			return nil, false, liveErr(http.StatusInternalServerError, wire.CodeSubscriptionFailed, "Execution error: "+err.Error())
		}
		if !match {
			return nil, false, nil
		}
	}
	m := &wire.ServerMessage{Type: wire.TypeChange, ChangeType: ch.Kind}
	t := q.def
	switch ch.Kind {
	case wire.ChangeInsert:
		vals := make([]any, len(q.out))
		for k, i := range q.out {
			vals[k] = ch.newVals[i]
		}
		m.Rows = []wire.Row{q.fullRow(vals, ch.Seq, false)}
	case wire.ChangeUpdate:
		var nb, ob rowBuilder
		for _, i := range q.pkOnly {
			c := t.Cols[i]
			nb.add(c.Name, c.Type, ch.newVals[i])
			ob.add(c.Name, c.Type, ch.oldVals[i])
		}
		for _, i := range q.out {
			c := t.Cols[i]
			nv, ov := ch.newVals[i], ch.oldVals[i]
			if c.PK || nv != nil {
				nb.add(c.Name, c.Type, nv)
			}
			if c.PK || !sameValue(nv, ov) {
				ob.add(c.Name, c.Type, ov)
			}
		}
		m.Rows = []wire.Row{nb.row(ch.Seq, nil)}
		m.OldValues = []wire.Row{ob.row(ch.oldSeq, nil)}
	case wire.ChangeDelete:
		var b rowBuilder
		for _, i := range q.pkOnly {
			b.add(t.Cols[i].Name, t.Cols[i].Type, ch.newVals[i])
		}
		for _, i := range q.out {
			b.add(t.Cols[i].Name, t.Cols[i].Type, ch.newVals[i])
		}
		yes := true
		m.OldValues = []wire.Row{b.row(ch.Seq, &yes)}
	default:
		return nil, false, nil
	}
	return m, true, nil
}

func sameValue(a, b any) bool {
	switch x := a.(type) {
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case nil:
		return b == nil
	}
	if _, ok := b.([]byte); ok {
		return false
	}
	return a == b
}

// evalConn is a private in-memory SQLite connection used to evaluate
// subscription filters without touching the data connection.
type evalConn struct {
	db    *sqlite3.Conn
	stmts map[string]*sqlite3.Stmt
}

func (c *evalConn) close() {
	for _, st := range c.stmts {
		st.Close()
	}
	c.db.Close()
}

func (c *evalConn) stmt(q string) (*sqlite3.Stmt, error) {
	if st, ok := c.stmts[q]; ok {
		return st, nil
	}
	st, _, err := c.db.Prepare(q)
	if err != nil {
		return nil, err
	}
	if len(c.stmts) >= maxCachedStmts {
		for k, old := range c.stmts {
			old.Close()
			delete(c.stmts, k)
		}
	}
	c.stmts[q] = st
	return st, nil
}

func (s *Store) getEval() (*evalConn, error) {
	select {
	case c := <-s.evalPool:
		return c, nil
	default:
	}
	if s.closed.Load() {
		return nil, closedError()
	}
	db, err := sqlite3.Open(":memory:")
	if err != nil {
		return nil, liveErr(http.StatusInternalServerError, wire.CodeSubscriptionFailed, "Execution error: "+sqliteMessage(err))
	}
	limitConn(db, s.limits)
	now := s.now
	err = db.CreateFunction("now", 0, sqlite3.INNOCUOUS, func(ctx sqlite3.Context, _ ...sqlite3.Value) {
		ctx.ResultInt64(now().UnixMicro())
	})
	if err != nil {
		db.Close()
		return nil, liveErr(http.StatusInternalServerError, wire.CodeSubscriptionFailed, "Execution error: "+sqliteMessage(err))
	}
	return &evalConn{db: db, stmts: map[string]*sqlite3.Stmt{}}, nil
}

func (s *Store) putEval(c *evalConn) {
	if s.closed.Load() {
		c.close()
		return
	}
	select {
	case s.evalPool <- c:
		// Close may have drained the pool just before this send.
		if s.closed.Load() {
			select {
			case c := <-s.evalPool:
				c.close()
			default:
			}
		}
	default:
		c.close()
	}
}

// evalFilter binds a row to a compiled filter and reports whether the
// WHERE clause holds.
func (s *Store) evalFilter(q string, vals []any, seq, deleted int64) (ok bool, err error) {
	c, err := s.getEval()
	if err != nil {
		return false, err
	}
	defer func() {
		if r := recover(); r != nil { // out of memory: drop the connection
			safely(c.close)
			ok, err = false, liveErr(http.StatusInternalServerError, wire.CodeSubscriptionFailed, "Execution error: subscription filter failed")
			return
		}
		s.putEval(c)
	}()
	st, err := c.stmt(q)
	if err != nil {
		return false, err
	}
	defer st.Reset()
	for i, v := range vals {
		if err := bind1(st, i+1, v); err != nil {
			return false, err
		}
	}
	n := len(vals)
	st.BindInt64(n+1, seq)
	st.BindInt64(n+2, deleted)
	match := st.Step()
	if err := st.Err(); err != nil {
		return false, err
	}
	return match, nil
}

func bind1(st *sqlite3.Stmt, i int, v any) error {
	switch x := v.(type) {
	case nil:
		return st.BindNull(i)
	case int64:
		return st.BindInt64(i, x)
	case float64:
		return st.BindFloat(i, x)
	case string:
		return st.BindText(i, x)
	case []byte:
		return st.BindBlob(i, x)
	}
	return st.BindNull(i)
}
