package fsm

import "strings"

// validIdent reports whether s is a plain SQL identifier.
func validIdent(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// useStatement recognises USE ns, USE NAMESPACE ns and SET NAMESPACE ns.
// KalamDB's HTTP API has no session, so the client keeps the namespace
// itself once the server has accepted the statement.
func useStatement(sql string) (string, bool) {
	f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(sql), ";"))
	switch {
	case len(f) == 2 && strings.EqualFold(f[0], "USE"):
		return f[1], validIdent(f[1])
	case len(f) == 3 && (strings.EqualFold(f[0], "USE") || strings.EqualFold(f[0], "SET")) && strings.EqualFold(f[1], "NAMESPACE"):
		return f[2], validIdent(f[2])
	}
	return "", false
}

// qualify prefixes the table after the top-level FROM with ns when it is
// not namespace-qualified, because live SQL must name ns.table. Quoted
// strings, quoted identifiers and comments are skipped. SQL without such a
// table is returned unchanged and left for the server to judge.
func qualify(sql, ns string) string {
	if ns == "" {
		return sql
	}
	depth := 0
	for i := 0; i < len(sql); {
		if next, ok := skipTrivia(sql, i); ok {
			if next < 0 {
				return sql
			}
			i = next
			continue
		}
		c := sql[i]
		switch {
		case c == '(':
			depth++
			i++
		case c == ')':
			depth--
			i++
		case isIdentStart(c):
			j := i
			for j < len(sql) && isIdentPart(sql[j]) {
				j++
			}
			if depth == 0 && strings.EqualFold(sql[i:j], "FROM") {
				return qualifyAt(sql, j, ns)
			}
			i = j
		default:
			i++
		}
	}
	return sql
}

// qualifyAt qualifies the table name that follows position p.
func qualifyAt(sql string, p int, ns string) string {
	i := p
	for i < len(sql) && isSpace(sql[i]) {
		i++
	}
	if i >= len(sql) {
		return sql
	}
	start := i
	if sql[i] == '"' || sql[i] == '`' {
		i = skipQuoted(sql, i)
	} else {
		if !isIdentStart(sql[i]) {
			return sql
		}
		for i < len(sql) && isIdentPart(sql[i]) {
			i++
		}
	}
	if i < len(sql) && sql[i] == '.' {
		return sql // already ns.table
	}
	return sql[:start] + ns + "." + sql[start:]
}

func skipQuoted(s string, i int) int {
	q := s[i]
	i++
	for i < len(s) {
		if s[i] == q {
			if i+1 < len(s) && s[i+1] == q { // doubled quote
				i += 2
				continue
			}
			return i + 1
		}
		i++
	}
	return i
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentPart(c byte) bool  { return isIdentStart(c) || c >= '0' && c <= '9' }
func isSpace(c byte) bool      { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// ownNamespace reports whether live sql can go without the client's
// namespace, and the first namespace it names. It can when it names one for
// every table it reads (after FROM or JOIN, at any depth, ns.table), and
// when no table could be found in it at all: the client could not qualify
// such SQL anyway, so the server judges it (and names what is wrong).
func ownNamespace(sql string) (string, bool) {
	ns, tables, all := scanTables(sql)
	return ns, all || tables == 0
}

// qualifiedNamespace reports whether sql names a namespace for every table
// it reads (after FROM or JOIN, at any depth, ns.table), and returns the
// first such namespace. SQL that reads no table, or any table without a
// namespace, does not qualify.
func qualifiedNamespace(sql string) (string, bool) {
	ns, tables, all := scanTables(sql)
	return ns, all && tables > 0
}

// scanTables finds the tables sql reads: the first namespace named, how
// many were seen, and whether every one is qualified (false as soon as one
// is not; an unterminated comment counts as an unqualified table).
func scanTables(sql string) (ns string, tables int, all bool) {
	for i := 0; i < len(sql); {
		if next, ok := skipTrivia(sql, i); ok {
			if next < 0 {
				return ns, tables + 1, false
			}
			i = next
			continue
		}
		c := sql[i]
		switch {
		case isIdentStart(c):
			j := i
			for j < len(sql) && isIdentPart(sql[j]) {
				j++
			}
			word := sql[i:j]
			i = j
			if !strings.EqualFold(word, "FROM") && !strings.EqualFold(word, "JOIN") {
				continue
			}
			for {
				got, next, ok := tableRef(sql, i)
				if !ok {
					return ns, tables + 1, false
				}
				i = next
				if got == "" {
					break // a subquery: its own FROM is scanned in turn
				}
				tables++
				if ns == "" {
					ns = got
				}
				if i = skipAlias(sql, i); i < len(sql) && sql[i] == ',' {
					i++
					continue
				}
				break
			}
		default:
			i++
		}
	}
	return ns, tables, true
}

// tableRef reads the table named at p: its namespace, where it ends, and
// false when it has no namespace. A '(' (subquery) gives "" and true.
func tableRef(sql string, p int) (ns string, end int, ok bool) {
	i := p
	for i < len(sql) && isSpace(sql[i]) {
		i++
	}
	if i < len(sql) && sql[i] == '(' {
		return "", i, true
	}
	first, i, ok := ident(sql, i)
	if !ok || i >= len(sql) || sql[i] != '.' {
		return "", i, false
	}
	if _, i, ok = ident(sql, i+1); !ok {
		return "", i, false
	}
	return strings.Trim(first, "\"`"), i, true
}

// ident reads a plain or quoted identifier at i.
func ident(sql string, i int) (string, int, bool) {
	if i >= len(sql) {
		return "", i, false
	}
	start := i
	switch {
	case sql[i] == '"' || sql[i] == '`':
		i = skipQuoted(sql, i)
	case isIdentStart(sql[i]):
		for i < len(sql) && isIdentPart(sql[i]) {
			i++
		}
	default:
		return "", i, false
	}
	return sql[start:i], i, true
}

// skipAlias skips an optional alias ([AS] name) after a table, unless the
// next word is a keyword that continues the statement.
func skipAlias(sql string, i int) int {
	for i < len(sql) && isSpace(sql[i]) {
		i++
	}
	word, j, ok := ident(sql, i)
	if !ok {
		return i
	}
	if strings.EqualFold(word, "AS") {
		for j < len(sql) && isSpace(sql[j]) {
			j++
		}
		if _, k, ok := ident(sql, j); ok {
			j = k
		}
		return skipSpaces(sql, j)
	}
	switch strings.ToUpper(word) {
	case "WHERE", "JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS", "ON", "GROUP", "ORDER", "LIMIT", "UNION", "HAVING", "OFFSET", "NATURAL":
		return i
	}
	return skipSpaces(sql, j)
}

func skipSpaces(sql string, i int) int {
	for i < len(sql) && isSpace(sql[i]) {
		i++
	}
	return i
}

// skipTrivia reports whether a quoted string or a comment starts at i and,
// if so, the index past it; -1 for a block comment that never ends.
func skipTrivia(sql string, i int) (next int, ok bool) {
	c := sql[i]
	switch {
	case c == '\'' || c == '"' || c == '`':
		return skipQuoted(sql, i), true
	case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
		for i < len(sql) && sql[i] != '\n' {
			i++
		}
		return i, true
	case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
		end := strings.Index(sql[i+2:], "*/")
		if end < 0 {
			return -1, true
		}
		return i + end + 4, true
	}
	return i, false
}
