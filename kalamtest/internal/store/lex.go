package store

import (
	"strconv"
	"strings"
)

// tokKind classifies a lexical token of KalamDB's SQL dialect.
type tokKind uint8

const (
	tkWord   tokKind = iota + 1 // bare identifier or keyword
	tkQuoted                    // "ident", `ident` or [ident]
	tkString                    // 'text'
	tkBlob                      // x'hex'
	tkNumber                    // numeric literal
	tkParam                     // $N
	tkOther                     // ?, ?N, :name, @name: placeholders we do not accept
	tkPunct                     // operator or punctuation
)

// token is one lexeme. pos/end are byte offsets into the source; text is the
// identifier (unquoted for tkQuoted), the string's content (for tkString), or
// the operator.
type token struct {
	kind     tokKind
	pos, end int
	text     string
	n        int // parameter number for tkParam
}

// is reports whether t is the keyword kw (case-insensitive, bare words only).
func (t token) is(kw string) bool { return t.kind == tkWord && strings.EqualFold(t.text, kw) }

// isPunct reports whether t is the operator p.
func (t token) isPunct(p string) bool { return t.kind == tkPunct && t.text == p }

// isIdent reports whether t can name a table or a column.
func (t token) isIdent() bool { return t.kind == tkWord || t.kind == tkQuoted }

// ident returns the identifier's canonical form: bare words are lower-cased
// (SQL folds unquoted identifiers), quoted ones are kept as written.
func (t token) ident() string {
	if t.kind == tkWord {
		return strings.ToLower(t.text)
	}
	return t.text
}

// lexError reports malformed SQL text.
type lexError struct {
	msg string
	pos int
}

func (e *lexError) Error() string { return e.msg + " at position " + strconv.Itoa(e.pos) }

// lex splits src into tokens. Whitespace and comments are dropped.
func lex(src string) ([]token, error) {
	toks := make([]token, 0, len(src)/4+1)
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			j := strings.Index(src[i+2:], "*/")
			if j < 0 {
				return nil, &lexError{"unterminated block comment", i}
			}
			i += j + 4
		case c == '\'':
			s, end, err := scanQuoted(src, i, '\'')
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tkString, pos: i, end: end, text: s})
			i = end
		case c == '"' || c == '`':
			s, end, err := scanQuoted(src, i, c)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tkQuoted, pos: i, end: end, text: s})
			i = end
		case c == '[':
			j := strings.IndexByte(src[i+1:], ']')
			if j < 0 {
				return nil, &lexError{"unterminated quoted identifier", i}
			}
			toks = append(toks, token{kind: tkQuoted, pos: i, end: i + j + 2, text: src[i+1 : i+1+j]})
			i += j + 2
		case (c == 'x' || c == 'X') && i+1 < len(src) && src[i+1] == '\'':
			s, end, err := scanQuoted(src, i+1, '\'')
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tkBlob, pos: i, end: end, text: s})
			i = end
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			toks = append(toks, token{kind: tkWord, pos: i, end: j, text: src[i:j]})
			i = j
		case isDigit(c) || (c == '.' && i+1 < len(src) && isDigit(src[i+1])):
			j := scanNumber(src, i)
			toks = append(toks, token{kind: tkNumber, pos: i, end: j, text: src[i:j]})
			i = j
		case c == '$':
			j := i + 1
			for j < len(src) && isDigit(src[j]) {
				j++
			}
			if j == i+1 || j-i > 6 {
				return nil, &lexError{"invalid parameter placeholder", i}
			}
			n, _ := strconv.Atoi(src[i+1 : j])
			if n < 1 {
				return nil, &lexError{"parameter placeholders start at $1", i}
			}
			toks = append(toks, token{kind: tkParam, pos: i, end: j, text: src[i:j], n: n})
			i = j
		case c == '?' || c == ':' || c == '@':
			j := i + 1
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			if c == ':' && j == i+1 {
				toks = append(toks, token{kind: tkPunct, pos: i, end: j, text: ":"})
			} else {
				toks = append(toks, token{kind: tkOther, pos: i, end: j, text: src[i:j]})
			}
			i = j
		default:
			n := punctLen(src, i)
			toks = append(toks, token{kind: tkPunct, pos: i, end: i + n, text: src[i : i+n]})
			i += n
		}
	}
	return toks, nil
}

// scanQuoted reads a quoted run starting at src[i] == q, where a doubled
// quote stands for itself. It returns the content and the end offset.
func scanQuoted(src string, i int, q byte) (string, int, error) {
	var b strings.Builder
	j := i + 1
	start := j
	for j < len(src) {
		if src[j] == q {
			if j+1 < len(src) && src[j+1] == q {
				b.WriteString(src[start : j+1])
				j += 2
				start = j
				continue
			}
			b.WriteString(src[start:j])
			return b.String(), j + 1, nil
		}
		j++
	}
	what := "unterminated string literal"
	if q != '\'' {
		what = "unterminated quoted identifier"
	}
	return "", 0, &lexError{what, i}
}

func scanNumber(src string, i int) int {
	j := i
	if src[j] == '0' && j+1 < len(src) && (src[j+1] == 'x' || src[j+1] == 'X') {
		j += 2
		for j < len(src) && isHex(src[j]) {
			j++
		}
		return j
	}
	for j < len(src) && isDigit(src[j]) {
		j++
	}
	if j < len(src) && src[j] == '.' {
		j++
		for j < len(src) && isDigit(src[j]) {
			j++
		}
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		k := j + 1
		if k < len(src) && (src[k] == '+' || src[k] == '-') {
			k++
		}
		if k < len(src) && isDigit(src[k]) {
			j = k
			for j < len(src) && isDigit(src[j]) {
				j++
			}
		}
	}
	return j
}

func punctLen(src string, i int) int {
	if i+1 < len(src) {
		switch src[i : i+2] {
		case "<=", ">=", "<>", "!=", "==", "||", "<<", ">>", "->":
			if src[i:i+2] == "->" && i+2 < len(src) && src[i+2] == '>' {
				return 3
			}
			return 2
		}
	}
	// Consume one UTF-8 sequence so stray non-ASCII bytes stay whole.
	c := src[i]
	switch {
	case c < 0x80:
		return 1
	case c&0xe0 == 0xc0:
		return min(2, len(src)-i)
	case c&0xf0 == 0xe0:
		return min(3, len(src)-i)
	default:
		return min(4, len(src)-i)
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isIdentPart(c byte) bool { return isIdentStart(c) || isDigit(c) }
func isDigit(c byte) bool     { return c >= '0' && c <= '9' }
func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// split cuts a token list into statements at semicolons outside
// parentheses. Empty statements are dropped.
func split(toks []token) [][]token {
	var out [][]token
	start, depth := 0, 0
	for i, t := range toks {
		switch {
		case t.isPunct("("):
			depth++
		case t.isPunct(")"):
			depth = max(depth-1, 0)
		case t.isPunct(";") && depth == 0:
			if i > start {
				out = append(out, toks[start:i])
			}
			start = i + 1
		}
	}
	if start < len(toks) {
		out = append(out, toks[start:])
	}
	return out
}

// quoteIdent quotes an identifier for SQLite.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// quoteString quotes a string literal for SQLite.
func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// srcText returns the original text covered by toks.
func srcText(src string, toks []token) string {
	if len(toks) == 0 {
		return ""
	}
	return src[toks[0].pos:toks[len(toks)-1].end]
}
