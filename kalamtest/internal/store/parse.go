package store

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/kalamgo/kalam/transport/wire"
)

// planKind is the class of a parsed statement.
type planKind uint8

const (
	pSelect planKind = iota + 1
	pInsert
	pUpdate
	pDelete
	pCreateNamespace
	pDropNamespace
	pCreateTable
	pDropTable
	pCreateUser
	pAlterUser
	pDropUser
	pUse
	pShowNamespaces
	pShowTables
	pBegin
	pCommit
	pRollback
)

// tref is a table reference as written: ns is "" when unqualified.
type tref struct{ ns, name string }

func (r tref) resolve(ns string) string {
	if r.ns != "" {
		return r.ns + "." + r.name
	}
	return ns + "." + r.name
}

// colSpec is a column of CREATE TABLE as written.
type colSpec struct {
	name    string
	typ     colType
	pk      bool
	notNull bool
	unique  bool
	def     []token // DEFAULT expression
}

type assign struct {
	col  string
	expr []token
}

// plan is one parsed statement. Which fields are set depends on kind.
type plan struct {
	kind   planKind
	src    string  // whole request text (token offsets point into it)
	toks   []token // the statement (inside EXECUTE AS when wrapped)
	execAs string  // EXECUTE AS USER target, "" when not wrapped
	secret bool    // carries a password: never echo its SQL

	ifExists, ifNotExists, cascade bool
	name                           string // namespace, user or USE target
	table                          tref

	// CREATE TABLE
	tkind   tableKind // 0 = not given
	cols    []colSpec
	pkCols  []string
	options map[string]string

	// CREATE/ALTER USER
	password    *string
	role, email string
	hasEmail    bool
	alterWhat   string
	authType    string // CREATE USER: authPassword, authOAuth or authInternal
	oauth       string // WITH OAUTH '{json}'
	hasOAuth    bool

	// DML
	insCols []string
	source  []token // INSERT source (VALUES/SELECT)
	assigns []assign
	where   []token
}

// returnsRows reports statements whose result is a row set.
func (p *plan) returnsRows() bool {
	switch p.kind {
	case pSelect, pShowNamespaces, pShowTables:
		return true
	}
	return false
}

// parser walks the tokens of one statement.
type parser struct {
	src  string
	toks []token
	i    int
}

func (p *parser) eof() bool { return p.i >= len(p.toks) }

func (p *parser) peek() token {
	if p.eof() {
		return token{}
	}
	return p.toks[p.i]
}

func (p *parser) peekAt(k int) token {
	if p.i+k >= len(p.toks) {
		return token{}
	}
	return p.toks[p.i+k]
}

func (p *parser) next() token {
	t := p.peek()
	if !p.eof() {
		p.i++
	}
	return t
}

// accept consumes the keyword sequence kws when it is next.
func (p *parser) accept(kws ...string) bool {
	for k, kw := range kws {
		if !p.peekAt(k).is(kw) {
			return false
		}
	}
	p.i += len(kws)
	return true
}

func (p *parser) acceptPunct(s string) bool {
	if p.peek().isPunct(s) {
		p.i++
		return true
	}
	return false
}

// near describes the current position for an error message.
func (p *parser) near() string {
	if p.eof() {
		return "end of statement"
	}
	t := p.peek()
	txt := p.src[t.pos:t.end]
	if len(txt) > 32 {
		txt = txt[:32] + "…"
	}
	return "'" + txt + "'"
}

func (p *parser) fail(what string) *failure {
	return invalidSQL("SQL parse error: expected " + what + " near " + p.near())
}

func (p *parser) expect(kw string) *failure {
	if !p.accept(kw) {
		return p.fail(kw)
	}
	return nil
}

func (p *parser) expectPunct(s string) *failure {
	if !p.acceptPunct(s) {
		return p.fail("'" + s + "'")
	}
	return nil
}

func (p *parser) expectEnd() *failure {
	if !p.eof() {
		return invalidSQL("SQL parse error: unexpected " + p.near())
	}
	return nil
}

// ident reads an identifier (bare words are lower-cased).
func (p *parser) ident(what string) (string, *failure) {
	t := p.peek()
	if !t.isIdent() {
		return "", p.fail(what)
	}
	p.i++
	return t.ident(), nil
}

// name reads an identifier or a string literal (user names may be quoted
// either way).
func (p *parser) name(what string) (string, *failure) {
	t := p.peek()
	switch {
	case t.kind == tkString, t.kind == tkQuoted:
		p.i++
		return t.text, nil
	case t.kind == tkWord:
		p.i++
		return t.text, nil
	}
	return "", p.fail(what)
}

// tableRef reads [ns.]table.
func (p *parser) tableRef() (tref, *failure) {
	a, f := p.ident("a table name")
	if f != nil {
		return tref{}, f
	}
	if p.acceptPunct(".") {
		b, f := p.ident("a table name")
		if f != nil {
			return tref{}, f
		}
		return tref{ns: a, name: b}, nil
	}
	return tref{name: a}, nil
}

// until returns the tokens up to (not including) the first depth-0 token
// for which stop is true, and advances past them.
func (p *parser) until(stop func(t token) bool) []token {
	start, depth := p.i, 0
	for !p.eof() {
		t := p.peek()
		if depth == 0 && stop(t) {
			break
		}
		switch {
		case t.isPunct("("):
			depth++
		case t.isPunct(")"):
			depth--
		}
		p.i++
	}
	return p.toks[start:p.i]
}

// parseStatement classifies and parses one statement of a request.
func parseStatement(src string, toks []token) (*plan, *failure) {
	p := &parser{src: src, toks: toks}
	if p.peek().is("EXECUTE") {
		return parseExecuteAs(p)
	}
	return parseInner(p)
}

// parseExecuteAs unwraps EXECUTE AS USER 'name' ( statement ).
func parseExecuteAs(p *parser) (*plan, *failure) {
	bad := func(msg string) *failure {
		return &failure{status: http.StatusBadRequest, code: wire.CodeInvalidInput, msg: msg, safe: true}
	}
	if !p.accept("EXECUTE", "AS", "USER") {
		return nil, invalidSQL("SQL parse error: expected EXECUTE AS USER")
	}
	t := p.next()
	if t.kind != tkString && t.kind != tkWord && t.kind != tkQuoted {
		return nil, bad("EXECUTE AS USER: expected a user name")
	}
	user := t.text
	if !validUserID(user) {
		return nil, bad("EXECUTE AS USER: invalid user name")
	}
	if !p.acceptPunct("(") {
		return nil, bad("EXECUTE AS USER: expected '(' before the wrapped statement")
	}
	inner := p.until(func(t token) bool { return t.isPunct(")") })
	if p.eof() {
		return nil, bad("EXECUTE AS USER: missing ')' after the wrapped statement")
	}
	p.i++ // ')'
	if !p.eof() {
		return nil, bad("EXECUTE AS USER: unexpected text after ')'")
	}
	for i := range inner {
		if inner[i].isPunct(";") {
			if i == len(inner)-1 {
				inner = inner[:i]
				break
			}
			return nil, bad("EXECUTE AS USER must wrap exactly one SQL statement")
		}
	}
	if len(inner) == 0 {
		return nil, bad("EXECUTE AS USER: empty wrapped statement")
	}
	if inner[0].is("EXECUTE") {
		return nil, bad("EXECUTE AS USER cannot be nested")
	}
	pl, f := parseInner(&parser{src: p.src, toks: inner})
	if f != nil {
		return nil, f
	}
	pl.execAs = user
	return pl, nil
}

func parseInner(p *parser) (*plan, *failure) {
	pl := &plan{src: p.src, toks: p.toks}
	t := p.peek()
	switch {
	case t.is("SELECT"), t.is("WITH"), t.is("VALUES"), t.isPunct("("):
		pl.kind = pSelect
		return pl, nil
	case t.is("INSERT"):
		return pl, parseInsert(p, pl)
	case t.is("UPDATE"):
		return pl, parseUpdate(p, pl)
	case t.is("DELETE"):
		return pl, parseDelete(p, pl)
	case t.is("CREATE"):
		return pl, parseCreate(p, pl)
	case t.is("DROP"):
		return pl, parseDrop(p, pl)
	case t.is("ALTER") && p.peekAt(1).is("USER"):
		return pl, parseAlterUser(p, pl)
	case t.is("USE"), t.is("SET") && p.peekAt(1).is("NAMESPACE"):
		p.next()
		p.accept("NAMESPACE")
		pl.kind = pUse
		var f *failure
		if pl.name, f = p.ident("a namespace name"); f != nil {
			return nil, f
		}
		return pl, p.expectEnd()
	case t.is("SHOW"):
		return pl, parseShow(p, pl)
	case t.is("BEGIN"), t.is("START") && p.peekAt(1).is("TRANSACTION"):
		p.next()
		p.accept("TRANSACTION")
		pl.kind = pBegin
		return pl, p.expectEnd()
	case t.is("COMMIT"), t.is("END"):
		p.next()
		p.accept("TRANSACTION")
		pl.kind = pCommit
		return pl, p.expectEnd()
	case t.is("ROLLBACK"):
		p.next()
		p.accept("TRANSACTION")
		pl.kind = pRollback
		return pl, p.expectEnd()
	}
	return nil, invalidSQL("Unsupported SQL statement near " + p.near())
}

func parseShow(p *parser, pl *plan) *failure {
	p.next()
	switch {
	case p.accept("NAMESPACES"):
		pl.kind = pShowNamespaces
	case p.accept("TABLES"):
		pl.kind = pShowTables
		if p.accept("IN") || p.accept("FROM") {
			p.accept("NAMESPACE")
			var f *failure
			if pl.name, f = p.ident("a namespace name"); f != nil {
				return f
			}
		}
	default:
		return invalidSQL("Unsupported SHOW statement near " + p.near())
	}
	return p.expectEnd()
}

// tableKindWord reads an optional USER|SHARED|STREAM prefix.
func tableKindWord(p *parser) tableKind {
	switch {
	case p.peek().is("USER") && p.peekAt(1).is("TABLE"):
		p.next()
		return tableUser
	case p.peek().is("SHARED"):
		p.next()
		return tableShared
	case p.peek().is("STREAM"):
		p.next()
		return tableStream
	}
	return 0
}

func parseCreate(p *parser, pl *plan) *failure {
	p.next() // CREATE
	switch {
	case p.accept("NAMESPACE"):
		pl.kind = pCreateNamespace
		pl.ifNotExists = p.accept("IF", "NOT", "EXISTS")
		var f *failure
		if pl.name, f = p.ident("a namespace name"); f != nil {
			return f
		}
		return p.expectEnd()
	case p.peek().is("USER") && !p.peekAt(1).is("TABLE"):
		p.next()
		return parseCreateUser(p, pl)
	}
	pl.tkind = tableKindWord(p)
	if !p.accept("TABLE") {
		return invalidSQL("Unsupported CREATE statement near " + p.near())
	}
	pl.kind = pCreateTable
	pl.ifNotExists = p.accept("IF", "NOT", "EXISTS")
	var f *failure
	if pl.table, f = p.tableRef(); f != nil {
		return f
	}
	if f := p.expectPunct("("); f != nil {
		return f
	}
	for {
		if f := parseTableElement(p, pl); f != nil {
			return f
		}
		if p.acceptPunct(",") {
			continue
		}
		if f := p.expectPunct(")"); f != nil {
			return f
		}
		break
	}
	pl.options = map[string]string{}
	for !p.eof() {
		switch {
		case p.accept("WITH"):
			if f := parseOptions(p, pl.options); f != nil {
				return f
			}
		case p.accept("TTL"):
			t := p.next()
			if t.kind != tkNumber {
				return p.fail("a TTL in seconds")
			}
			pl.options["ttl_seconds"] = t.text
		default:
			return invalidSQL("SQL parse error: unexpected " + p.near())
		}
	}
	return nil
}

// parseOptions reads ( KEY = value, … ) into opts with lower-cased keys.
func parseOptions(p *parser, opts map[string]string) *failure {
	if f := p.expectPunct("("); f != nil {
		return f
	}
	for {
		k, f := p.ident("an option name")
		if f != nil {
			return f
		}
		if f := p.expectPunct("="); f != nil {
			return f
		}
		v := p.next()
		switch v.kind {
		case tkString, tkNumber, tkWord, tkQuoted:
		default:
			return p.fail("an option value")
		}
		opts[strings.ToLower(k)] = v.text
		if p.acceptPunct(",") {
			continue
		}
		return p.expectPunct(")")
	}
}

func parseTableElement(p *parser, pl *plan) *failure {
	if p.accept("CONSTRAINT") {
		if _, f := p.ident("a constraint name"); f != nil {
			return f
		}
	}
	if p.accept("PRIMARY", "KEY") {
		if f := p.expectPunct("("); f != nil {
			return f
		}
		for {
			c, f := p.ident("a column name")
			if f != nil {
				return f
			}
			pl.pkCols = append(pl.pkCols, c)
			if p.acceptPunct(",") {
				continue
			}
			return p.expectPunct(")")
		}
	}
	var c colSpec
	var f *failure
	if c.name, f = p.ident("a column name"); f != nil {
		return f
	}
	if c.typ, f = parseType(p); f != nil {
		return f
	}
	for {
		switch {
		case p.accept("PRIMARY", "KEY"):
			c.pk = true
		case p.accept("NOT", "NULL"):
			c.notNull = true
		case p.accept("NULL"):
		case p.accept("UNIQUE"):
			c.unique = true
		case p.accept("DEFAULT"):
			if len(c.def) > 0 {
				return invalidSQL("SQL parse error: column '" + c.name + "' has more than one DEFAULT")
			}
			c.def = p.until(func(t token) bool {
				return t.isPunct(",") || t.isPunct(")") || t.is("PRIMARY") || t.is("NOT") ||
					t.is("UNIQUE") || t.is("DEFAULT") || t.is("CONSTRAINT") || t.is("AUTO_INCREMENT")
			})
			if len(c.def) == 0 {
				return p.fail("a DEFAULT value")
			}
		case p.peek().is("AUTO_INCREMENT"):
			// KalamDB rewrites MySQL's AUTO_INCREMENT to DEFAULT
			// SNOWFLAKE_ID(), whatever the column's type.
			if len(c.def) > 0 {
				return invalidSQL("SQL parse error: column '" + c.name + "' has more than one DEFAULT")
			}
			t := p.next()
			c.def = []token{{kind: tkWord, pos: t.pos, end: t.end, text: "SNOWFLAKE_ID"}}
		default:
			pl.cols = append(pl.cols, c)
			return nil
		}
	}
}

// parseType reads a column type such as BIGINT, VARCHAR(20),
// DECIMAL(10, 2), EMBEDDING(384) or DOUBLE PRECISION.
func parseType(p *parser) (colType, *failure) {
	t := p.peek()
	if t.kind != tkWord {
		return colType{}, p.fail("a data type")
	}
	p.next()
	name := strings.ToLower(t.text)
	k, ok := sqlTypeNames[name]
	if !ok {
		return colType{}, invalidSQL("Unsupported data type '" + t.text + "'")
	}
	if name == "double" {
		p.accept("PRECISION")
	}
	if name == "timestamp" && p.accept("WITH") {
		p.accept("TIME")
		p.accept("ZONE")
	}
	ct := colType{kind: k}
	var args []int
	if p.acceptPunct("(") {
		for {
			n := p.next()
			v, err := strconv.Atoi(n.text)
			if n.kind != tkNumber || err != nil || v < 0 || v > 65536 {
				return colType{}, invalidSQL("Invalid parameter for data type '" + t.text + "'")
			}
			args = append(args, v)
			if p.acceptPunct(",") {
				continue
			}
			if f := p.expectPunct(")"); f != nil {
				return colType{}, f
			}
			break
		}
	}
	switch k {
	case kEmbedding:
		if len(args) != 1 || args[0] < 1 {
			return colType{}, invalidSQL("EMBEDDING needs a dimension, e.g. EMBEDDING(384)")
		}
		ct.p = args[0]
	case kDecimal:
		ct.p, ct.s = 38, 10
		if len(args) >= 1 {
			ct.p, ct.s = args[0], 0
		}
		if len(args) >= 2 {
			ct.s = args[1]
		}
		if ct.p < 1 || ct.p > 38 || ct.s > ct.p {
			return colType{}, invalidSQL("Invalid DECIMAL precision/scale")
		}
	}
	return ct, nil
}

func parseDrop(p *parser, pl *plan) *failure {
	p.next() // DROP
	var f *failure
	switch {
	case p.accept("NAMESPACE"):
		pl.kind = pDropNamespace
		pl.ifExists = p.accept("IF", "EXISTS")
		if pl.name, f = p.ident("a namespace name"); f != nil {
			return f
		}
		pl.cascade = p.accept("CASCADE")
		return p.expectEnd()
	case p.peek().is("USER") && !p.peekAt(1).is("TABLE"):
		p.next()
		pl.kind = pDropUser
		pl.ifExists = p.accept("IF", "EXISTS")
		if pl.name, f = p.name("a user name"); f != nil {
			return f
		}
		return p.expectEnd()
	}
	pl.tkind = tableKindWord(p)
	if !p.accept("TABLE") {
		return invalidSQL("Unsupported DROP statement near " + p.near())
	}
	pl.kind = pDropTable
	pl.ifExists = p.accept("IF", "EXISTS")
	if pl.table, f = p.tableRef(); f != nil {
		return f
	}
	return p.expectEnd()
}

// userSyntax is the only parse error of user statements: they carry
// passwords, so no token of them is ever quoted back.
func userSyntax(stmt string) *failure {
	return invalidSQL("SQL parse error in " + stmt + " (expected " + stmt +
		" 'name' WITH PASSWORD '…' ROLE user|service|dba|system [EMAIL '…'])")
}

func parseCreateUser(p *parser, pl *plan) *failure {
	pl.kind, pl.secret = pCreateUser, true
	var f *failure
	if pl.name, f = p.name("a user name"); f != nil {
		return userSyntax("CREATE USER")
	}
	if !p.accept("WITH") {
		return userSyntax("CREATE USER")
	}
	switch {
	case p.accept("PASSWORD"):
		t := p.next()
		if t.kind != tkString {
			return userSyntax("CREATE USER")
		}
		pw := t.text
		pl.password, pl.authType = &pw, authPassword
	case p.accept("OAUTH"):
		// An optional JSON payload naming the provider and the subject.
		pl.authType = authOAuth
		if p.peek().kind == tkString {
			pl.oauth, pl.hasOAuth = p.next().text, true
		}
	case p.accept("INTERNAL"):
		pl.authType = authInternal
	default:
		return userSyntax("CREATE USER")
	}
	for !p.eof() {
		switch {
		case p.accept("ROLE"):
			r, f := p.name("a role")
			if f != nil {
				return userSyntax("CREATE USER")
			}
			pl.role = canonicalRole(r)
		case p.accept("EMAIL"):
			t := p.next()
			if t.kind != tkString {
				return userSyntax("CREATE USER")
			}
			pl.email, pl.hasEmail = t.text, true
		default:
			return userSyntax("CREATE USER")
		}
	}
	if pl.role == "" {
		pl.role = roleUser
	}
	return nil
}

func parseAlterUser(p *parser, pl *plan) *failure {
	p.next()
	p.next() // ALTER USER
	pl.kind, pl.secret = pAlterUser, true
	var f *failure
	if pl.name, f = p.name("a user name"); f != nil {
		return userSyntax("ALTER USER")
	}
	if !p.accept("SET") {
		return userSyntax("ALTER USER")
	}
	switch {
	case p.accept("PASSWORD"):
		t := p.next()
		if t.kind != tkString {
			return userSyntax("ALTER USER")
		}
		pw := t.text
		pl.password, pl.alterWhat = &pw, "password"
	case p.accept("ROLE"):
		r, f := p.name("a role")
		if f != nil {
			return userSyntax("ALTER USER")
		}
		pl.role, pl.alterWhat = canonicalRole(r), "role"
	case p.accept("EMAIL"):
		t := p.next()
		if t.kind != tkString {
			return userSyntax("ALTER USER")
		}
		pl.email, pl.hasEmail, pl.alterWhat = t.text, true, "email"
	default:
		return userSyntax("ALTER USER")
	}
	if !p.eof() {
		return userSyntax("ALTER USER")
	}
	return nil
}

// noClause refuses a depth-0 keyword in a DML statement.
func noClause(toks []token, what string, kws ...string) *failure {
	depth := 0
	for _, t := range toks {
		switch {
		case t.isPunct("("):
			depth++
		case t.isPunct(")"):
			depth--
		case depth == 0:
			for _, kw := range kws {
				if t.is(kw) {
					return invalidSQL(what + " does not support " + strings.ToUpper(kw))
				}
			}
		}
	}
	return nil
}

func parseInsert(p *parser, pl *plan) *failure {
	p.next()
	pl.kind = pInsert
	if p.peek().is("OR") {
		return invalidSQL("INSERT OR … is not supported")
	}
	if f := p.expect("INTO"); f != nil {
		return f
	}
	var f *failure
	if pl.table, f = p.tableRef(); f != nil {
		return f
	}
	if p.peek().isPunct("(") && !p.peekAt(1).is("SELECT") && !p.peekAt(1).is("VALUES") && !p.peekAt(1).is("WITH") {
		p.next()
		for {
			c, f := p.ident("a column name")
			if f != nil {
				return f
			}
			pl.insCols = append(pl.insCols, c)
			if p.acceptPunct(",") {
				continue
			}
			if f := p.expectPunct(")"); f != nil {
				return f
			}
			break
		}
	}
	t := p.peek()
	if !(t.is("VALUES") || t.is("SELECT") || t.is("WITH") || t.isPunct("(")) {
		return p.fail("VALUES or SELECT")
	}
	pl.source = p.toks[p.i:]
	return noClause(pl.source, "INSERT", "RETURNING", "ON")
}

func parseUpdate(p *parser, pl *plan) *failure {
	p.next()
	pl.kind = pUpdate
	if p.peek().is("OR") {
		return invalidSQL("UPDATE OR … is not supported")
	}
	var f *failure
	if pl.table, f = p.tableRef(); f != nil {
		return f
	}
	if f := p.expect("SET"); f != nil {
		return f
	}
	for {
		c, f := p.ident("a column name")
		if f != nil {
			return f
		}
		if f := p.expectPunct("="); f != nil {
			return f
		}
		e := p.until(func(t token) bool { return t.isPunct(",") || t.is("WHERE") })
		if len(e) == 0 {
			return p.fail("a value")
		}
		pl.assigns = append(pl.assigns, assign{col: c, expr: e})
		if p.acceptPunct(",") {
			continue
		}
		break
	}
	if p.accept("WHERE") {
		pl.where = p.toks[p.i:]
		if len(pl.where) == 0 {
			return p.fail("a condition")
		}
	} else if f := p.expectEnd(); f != nil {
		return f
	}
	for _, a := range pl.assigns {
		if f := noClause(a.expr, "UPDATE", "FROM", "RETURNING", "ORDER", "LIMIT"); f != nil {
			return f
		}
	}
	return noClause(pl.where, "UPDATE", "RETURNING", "ORDER", "LIMIT")
}

func parseDelete(p *parser, pl *plan) *failure {
	p.next()
	pl.kind = pDelete
	if f := p.expect("FROM"); f != nil {
		return f
	}
	var f *failure
	if pl.table, f = p.tableRef(); f != nil {
		return f
	}
	if p.accept("WHERE") {
		pl.where = p.toks[p.i:]
		if len(pl.where) == 0 {
			return p.fail("a condition")
		}
	} else if f := p.expectEnd(); f != nil {
		return f
	}
	return noClause(pl.where, "DELETE", "RETURNING", "ORDER", "LIMIT")
}
