package main

import "strings"

// statement is one SQL statement of a script and the line it starts on.
type statement struct {
	SQL  string
	Line int
}

// splitSQL cuts a script into statements at semicolons that are outside
// quotes ('…', "…") and comments (-- … and /* … */). Statements that hold
// only whitespace or comments are dropped. complete reports whether the
// script ends outside any quote or block comment with a semicolon (or holds
// nothing but whitespace and comments), which is when the shell runs it.
func splitSQL(src string) (stmts []statement, complete bool) {
	var cur strings.Builder
	line, startLine := 1, 1
	hasCode := false // cur holds something besides whitespace and comments
	const (
		plain = iota
		single
		double
		lineComment
		blockComment
	)
	mode := plain
	flush := func() {
		if hasCode {
			stmts = append(stmts, statement{SQL: strings.TrimSpace(cur.String()), Line: startLine})
		}
		cur.Reset()
		hasCode = false
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		next := byte(0)
		if i+1 < len(src) {
			next = src[i+1]
		}
		if c == '\n' {
			line++
		}
		switch mode {
		case single, double:
			quote := byte('\'')
			if mode == double {
				quote = '"'
			}
			cur.WriteByte(c)
			if c == quote {
				if next == quote { // doubled quote: an escaped one
					cur.WriteByte(next)
					i++
				} else {
					mode = plain
				}
			}
			continue
		case lineComment:
			cur.WriteByte(c)
			if c == '\n' {
				mode = plain
			}
			continue
		case blockComment:
			cur.WriteByte(c)
			if c == '*' && next == '/' {
				cur.WriteByte(next)
				i++
				mode = plain
			}
			continue
		}
		switch {
		case c == ';':
			flush()
			continue
		case c == '\'' || c == '"':
			mode = single
			if c == '"' {
				mode = double
			}
		case c == '-' && next == '-':
			mode = lineComment
		case c == '/' && next == '*':
			cur.WriteByte(c)
			cur.WriteByte(next)
			i++
			mode = blockComment
			continue
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			cur.WriteByte(c)
			continue
		}
		if mode != lineComment && !hasCode {
			hasCode = true
			startLine = line
		}
		cur.WriteByte(c)
	}
	inside := mode == single || mode == double || mode == blockComment
	complete = !inside && !hasCode
	flush()
	return stmts, complete
}
