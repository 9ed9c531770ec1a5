package store

import (
	"strconv"
	"strings"
)

// rewriter turns KalamDB SQL into SQLite SQL for one statement:
//
//   - ns.t (and unqualified t in table position, through the session's
//     namespace) becomes the view "ns.t", aliased to t, which shows the
//     caller's live rows only;
//   - ns.t.col becomes t.col;
//   - $N becomes ?N;
//   - identifiers that would reach physical tables or SQLite internals are
//     refused.
//
// It records the tables it resolved so the caller can check permissions.
type rewriter struct {
	s        *Store
	src      string // the request text the tokens point into
	ns       string
	refs     []*tableDef
	maxParam int
	ctes     map[string]bool
	// target is the DML table: qualified references to it name alias.
	target *tableDef
	alias  string
}

// clauseWords end a table reference: a word among them right after a table
// name is not an alias.
var clauseWords = map[string]bool{
	"where": true, "group": true, "having": true, "order": true, "limit": true, "window": true,
	"union": true, "intersect": true, "except": true, "on": true, "using": true, "join": true,
	"left": true, "right": true, "full": true, "inner": true, "outer": true, "cross": true,
	"natural": true, "set": true, "returning": true, "values": true, "select": true, "from": true,
	"indexed": true, "not": true, "offset": true,
}

// fromEnders leave the FROM list of the current parenthesis level.
var fromEnders = map[string]bool{
	"where": true, "group": true, "having": true, "order": true, "limit": true, "window": true,
	"union": true, "intersect": true, "except": true, "on": true, "using": true, "select": true,
	"values": true, "set": true, "returning": true,
}

func (r *rewriter) note(t *tableDef) {
	for _, x := range r.refs {
		if x == t {
			return
		}
	}
	r.refs = append(r.refs, t)
}

// scanCTEs records names defined by WITH clauses so they are not resolved
// as tables.
func (r *rewriter) scanCTEs(toks []token) {
	for i := 0; i+2 < len(toks); i++ {
		if !toks[i].isIdent() {
			continue
		}
		prev := token{}
		if i > 0 {
			prev = toks[i-1]
		}
		if !(prev.is("WITH") || prev.is("RECURSIVE") || prev.isPunct(",")) {
			continue
		}
		j := i + 1
		if toks[j].isPunct("(") { // name(cols) AS (
			for j < len(toks) && !toks[j].isPunct(")") {
				j++
			}
			j++
		}
		if j+1 < len(toks) && toks[j].is("AS") && toks[j+1].isPunct("(") {
			if r.ctes == nil {
				r.ctes = map[string]bool{}
			}
			r.ctes[toks[i].ident()] = true
		}
	}
}

// ident writes an identifier token for SQLite.
func identSQL(t token) string {
	if t.kind == tkQuoted {
		return quoteIdent(t.text)
	}
	return t.text
}

// rewrite converts a run of tokens.
func (r *rewriter) rewrite(toks []token) (string, *failure) {
	var b strings.Builder
	inFrom := []bool{false}
	depth := 0
	expectTable := false
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if i > 0 {
			b.WriteString(r.gap(toks[i-1].end, t.pos))
		}
		switch t.kind {
		case tkParam:
			b.WriteString("?" + strconv.Itoa(t.n))
			r.maxParam = max(r.maxParam, t.n)
			expectTable = false
			continue
		case tkOther:
			return "", invalidSQL("Unsupported parameter placeholder '" + t.text + "': use $1, $2, …")
		case tkString:
			b.WriteString(quoteString(t.text))
			expectTable = false
			continue
		case tkBlob:
			b.WriteString("x'" + t.text + "'")
			expectTable = false
			continue
		case tkNumber:
			b.WriteString(t.text)
			expectTable = false
			continue
		case tkPunct:
			switch t.text {
			case "(":
				depth++
				if depth >= len(inFrom) {
					inFrom = append(inFrom, false)
				}
				inFrom[depth] = false
			case ")":
				if depth > 0 {
					inFrom[depth] = false
					depth--
				}
			case ",":
				if inFrom[depth] {
					b.WriteString(",")
					expectTable = true
					continue
				}
			}
			b.WriteString(t.text)
			expectTable = false
			continue
		}

		// Identifiers and keywords.
		if forbiddenIdent(t.text) {
			return "", invalidSQL("Identifier '" + t.text + "' is reserved")
		}
		prevDot := i > 0 && toks[i-1].isPunct(".")
		qualified := !prevDot && i+2 < len(toks) && toks[i+1].isPunct(".") && toks[i+2].isIdent()
		nextParen := i+1 < len(toks) && toks[i+1].isPunct("(")
		if qualified {
			if forbiddenIdent(toks[i+2].text) {
				return "", invalidSQL("Identifier '" + toks[i+2].text + "' is reserved")
			}
			full := t.ident() + "." + toks[i+2].ident()
			def := r.s.lookupTable(full)
			colRef := i+3 < len(toks) && toks[i+3].isPunct(".")
			switch {
			case def != nil && expectTable:
				r.note(def)
				b.WriteString(def.view)
				i += 2
				if !r.hasAlias(toks, i+1) {
					b.WriteString(" AS " + quoteIdent(def.Name))
				}
				expectTable = false
				continue
			case def != nil && colRef:
				// ns.t.col → t.col (or the DML alias)
				name := quoteIdent(def.Name)
				if def == r.target {
					name = quoteIdent(r.alias)
				}
				b.WriteString(name)
				i += 2
				continue
			case def == nil && expectTable:
				return "", tableNotFound(full)
			}
		}
		if expectTable && t.isIdent() && !nextParen && !qualified {
			expectTable = false
			name := t.ident()
			if !r.ctes[name] {
				if def := r.s.lookupTable(r.ns + "." + name); def != nil {
					r.note(def)
					b.WriteString(def.view)
					if !r.hasAlias(toks, i+1) {
						b.WriteString(" AS " + quoteIdent(def.Name))
					}
					continue
				}
			}
			b.WriteString(identSQL(t))
			continue
		}
		expectTable = false
		if t.kind == tkWord {
			w := strings.ToLower(t.text)
			switch {
			case w == "from" || w == "join":
				expectTable = true
				inFrom[depth] = true
			case fromEnders[w]:
				inFrom[depth] = false
			}
		}
		b.WriteString(identSQL(t))
	}
	return b.String(), nil
}

// gap returns the text between two tokens: kept as written (so result
// column names such as count(*) keep their spelling) unless it holds a
// comment, which could swallow text appended after it.
func (r *rewriter) gap(from, to int) string {
	if r.src == "" || from > to || to > len(r.src) {
		return " "
	}
	g := r.src[from:to]
	if strings.Contains(g, "--") || strings.Contains(g, "/*") {
		return " "
	}
	return g
}

// hasAlias reports whether toks[i] starts an alias of the table reference
// just written.
func (r *rewriter) hasAlias(toks []token, i int) bool {
	if i >= len(toks) {
		return false
	}
	t := toks[i]
	if t.is("AS") || t.kind == tkQuoted {
		return true
	}
	return t.kind == tkWord && !clauseWords[strings.ToLower(t.text)]
}
