package store

import (
	"strings"

	"github.com/ncruces/go-sqlite3"
)

// Access control on what SQLite actually touches.
//
// The rewriter resolves the table names it recognises and checks them, but
// a name can be spelled in ways it does not parse ("system.users" as one
// quoted identifier, a name inside a CTE, …). So every statement built from
// user SQL is also prepared under SQLite's authorizer, which reports each
// table, view and function the compiled program will use, whatever the
// spelling. Two kinds of rule apply:
//
//   - structural rules that do not depend on the caller: user SQL reads the
//     physical tables only through their views (or as the target of its own
//     INSERT/UPDATE/DELETE), never reaches SQLite internals or the store's
//     bookkeeping, writes nothing but its target, and calls the internal
//     functions (kalam_capture, kalam_pk_violation) only from the store's
//     own triggers. A violation fails the prepare.
//   - the role rules of checkAccess, applied to every logical table the
//     program reads (each view SQLite expands). They depend on the caller,
//     so the tables are remembered with the cached statement and checked on
//     every use.

// guard is the authorization context of one prepare of user SQL. Caller
// holds mu.
type guard struct {
	target *tableDef // the DML or live-query table: its physical table may be named directly
	write  bool      // the statement may write target
	reads  []*tableDef
	fail   *failure
}

// userStmt is a cached statement built from user SQL.
type userStmt struct {
	st    *sqlite3.Stmt
	reads []*tableDef
}

// internalFuncs may only run inside the store's triggers.
var internalFuncs = map[string]bool{"kalam_capture": true, "kalam_pk_violation": true}

// authorize is the connection's authorizer. It allows everything for the
// store's own statements (no guard) and applies the rules above otherwise.
func (s *Store) authorize(action sqlite3.AuthorizerActionCode, n3, n4, _, inner string) sqlite3.AuthorizerReturnCode {
	g := s.guard
	if g == nil {
		return sqlite3.AUTH_OK
	}
	if g.fail != nil {
		return sqlite3.AUTH_DENY
	}
	var f *failure
	switch action {
	case sqlite3.AUTH_SELECT, sqlite3.AUTH_RECURSIVE:
		return sqlite3.AUTH_OK
	case sqlite3.AUTH_READ:
		f = s.authorizeRead(g, n3, n4, inner)
	case sqlite3.AUTH_FUNCTION:
		name := strings.ToLower(n4)
		if internalFuncs[name] && !(g.write && s.triggerOf(inner) == g.target) {
			f = denied("Permission denied: function '" + name + "' is internal to the server")
		}
	case sqlite3.AUTH_INSERT, sqlite3.AUTH_UPDATE, sqlite3.AUTH_DELETE:
		if !g.write || s.physDef(n3) != g.target {
			f = denied("Permission denied: statement may not write '" + logicalName(n3) + "'")
		}
	default:
		f = denied("Permission denied: operation not allowed in user SQL")
	}
	if f != nil {
		g.fail = f
		return sqlite3.AUTH_DENY
	}
	return sqlite3.AUTH_OK
}

// authorizeRead checks one column read of table (a view, a physical
// table or a CTE); inner is the view, trigger or CTE whose code does the
// read. column is empty when SQLite uses a table without reading a column
// of it (count(*) over a flattened view).
func (s *Store) authorizeRead(g *guard, table, column, inner string) *failure {
	if def := s.viewDef(table); def != nil {
		g.note(def)
		return nil
	}
	if def := s.physDef(table); def != nil {
		switch {
		case strings.EqualFold(inner, def.full):
			// The expansion of its view, which filters owner and
			// _deleted: every reference to the view passes here, even
			// one that reads no column of it.
			g.note(def)
			return nil
		case def == g.target:
			return nil
		case column == "" && g.expanded(def):
			return nil
		}
		return denied("Permission denied: table '" + def.full + "' must be read through its view")
	}
	if sys := systemView(inner); sys != nil {
		// A source of a system view (which may join several).
		g.note(sys)
		return nil
	}
	if column == "" && g.readsSystem() {
		return nil // count(*) over a flattened system view
	}
	l := strings.ToLower(table)
	if strings.Contains(l, "#") || strings.HasPrefix(l, "_kalam") || strings.HasPrefix(l, "sqlite_") {
		return denied("Permission denied: '" + table + "' is not readable by user SQL")
	}
	return nil // a CTE or subquery of the statement itself
}

// systemView returns the system view named name, in any letter case.
func systemView(name string) *tableDef {
	if name == "" {
		return nil
	}
	return systemTables[strings.ToLower(name)]
}

// readsSystem reports whether the statement reads a system view, which
// only callers allowed to read system tables get past.
func (g *guard) readsSystem() bool {
	for _, t := range g.reads {
		if t.Kind == tableSystem {
			return true
		}
	}
	return false
}

// note records that the statement reads t.
func (g *guard) note(t *tableDef) {
	if !g.expanded(t) {
		g.reads = append(g.reads, t)
	}
}

// expanded reports whether the statement reads t through its view.
func (g *guard) expanded(t *tableDef) bool {
	for _, x := range g.reads {
		if x == t {
			return true
		}
	}
	return false
}

// viewDef returns the table whose view is named name.
func (s *Store) viewDef(name string) *tableDef {
	if t, ok := systemTables[name]; ok {
		return t
	}
	return s.tables[name]
}

// physDef returns the table stored in the physical table name ("ns.t#").
func (s *Store) physDef(name string) *tableDef {
	full, ok := strings.CutSuffix(name, "#")
	if !ok {
		return nil
	}
	return s.tables[full]
}

// triggerOf returns the table whose row trigger is named name, or nil.
func (s *Store) triggerOf(name string) *tableDef {
	for _, suf := range []string{"#ai", "#au", "#bi"} {
		if full, ok := strings.CutSuffix(name, suf); ok {
			return s.tables[full]
		}
	}
	return nil
}

func logicalName(name string) string { return strings.TrimSuffix(name, "#") }

// prepareUser prepares (or takes from the cache) a statement built from the
// SQL of the running session and checks it: the structural rules when it
// is compiled, the caller's table permissions every time. target is the
// table the statement may write (nil for a query). Caller holds mu, inside
// runGuarded.
func (s *Store) prepareUser(q string, target *tableDef) (*sqlite3.Stmt, error) {
	key := q
	if target != nil {
		key = target.full + "\x00" + q
	}
	us, ok := s.ustmts[key]
	if !ok {
		g := &guard{target: target, write: target != nil}
		s.guard = g
		st, tail, err := s.db.Prepare(q)
		s.guard = nil
		if g.fail != nil {
			if st != nil {
				st.Close()
			}
			return nil, g.fail
		}
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(tail) != "" {
			st.Close()
			return nil, invalidSQL("only one statement is allowed here")
		}
		if len(s.ustmts) >= maxCachedStmts {
			s.dropStmts()
		}
		us = &userStmt{st: st, reads: g.reads}
		s.ustmts[key] = us
	}
	if s.sess != nil {
		for _, t := range us.reads {
			if t == target {
				continue // checked as the write target
			}
			if f := checkAccess(*s.sess, s.plan, t, false); f != nil {
				return nil, f
			}
		}
	}
	return us.st, nil
}

// dropUserStmts empties the cache of user statements. Caller holds mu.
func (s *Store) dropUserStmts() {
	for k, us := range s.ustmts {
		safely(func() { us.st.Close() })
		delete(s.ustmts, k)
	}
}

// safely runs f and swallows a panic: the SQLite driver panics when a call
// reports out-of-memory, which cleanup after a failure must survive.
func safely(f func()) {
	defer func() { _ = recover() }()
	f()
}
