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
	start, startLine, line := 0, 0, 1
	hasCode := false // the current statement holds more than whitespace and comments
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ';':
			if hasCode {
				stmts = append(stmts, statement{SQL: strings.TrimSpace(src[start:i]), Line: startLine})
			}
			i++
			start, hasCode = i, false
			continue
		case c == '-' && strings.HasPrefix(src[i:], "--"):
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				end = len(src) - i
			}
			line += strings.Count(src[i:i+end], "\n")
			i += end
			continue
		case c == '/' && strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return appendRest(stmts, src[start:], hasCode, startLine), false
			}
			line += strings.Count(src[i:i+end+4], "\n")
			i += end + 4
			continue
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			if c == '\n' {
				line++
			}
			i++
			continue
		}
		if !hasCode {
			hasCode, startLine = true, line
		}
		if c != '\'' && c != '"' {
			i++
			continue
		}
		end, ok := quoteEnd(src, i)
		line += strings.Count(src[i:end], "\n")
		i = end
		if !ok {
			return appendRest(stmts, src[start:], true, startLine), false
		}
	}
	return appendRest(stmts, src[start:], hasCode, startLine), !hasCode
}

// quoteEnd returns the index just past the quoted text starting at src[i]
// (a doubled quote inside is an escaped one), and false when it never ends.
func quoteEnd(src string, i int) (int, bool) {
	q := src[i]
	for j := i + 1; j < len(src); j++ {
		if src[j] != q {
			continue
		}
		if j+1 < len(src) && src[j+1] == q {
			j++
			continue
		}
		return j + 1, true
	}
	return len(src), false
}

func appendRest(stmts []statement, rest string, hasCode bool, line int) []statement {
	if !hasCode {
		return stmts
	}
	return append(stmts, statement{SQL: strings.TrimSpace(rest), Line: line})
}
