package store

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/kalamgo/kalam/transport/wire"
	"github.com/ncruces/go-sqlite3"
)

// Sentinel errors. Match them with errors.Is; an [*Error] unwraps to one of
// them when it has a sentinel cause.
var (
	// ErrInvalidCredentials reports an unknown user, a deleted user, a user
	// without a password, or a wrong password. The cases are
	// indistinguishable on purpose.
	ErrInvalidCredentials = errors.New("kalamtest: invalid credentials")
	// ErrClosed reports a call on a closed Store.
	ErrClosed = errors.New("kalamtest: store closed")
	// ErrUserExists reports CreateUser with an id that is taken.
	ErrUserExists = errors.New("kalamtest: user already exists")
	// ErrUserNotFound reports an unknown (or deleted) user id.
	ErrUserNotFound = errors.New("kalamtest: user not found")
	// ErrInvalidUser reports a malformed user id, role or password.
	ErrInvalidUser = errors.New("kalamtest: invalid user")
)

// Error is every failure of Exec and PrepareLive (and of the snapshot and
// notification calls). Status and Code are what the wire carries: for Exec
// the HTTP status and SQL error code of the SQL envelope (PROTOCOL.md §2.5),
// for PrepareLive the WebSocket error code of §4.11 (Status is then the
// closest HTTP status, for logs only).
//
// Message is the text for the wire, already reduced to KalamDB's generic
// wording for callers that are not dba/system when the error is not one
// the server deems safe to show. Details is set only for dba/system callers
// and holds the failing statement's SQL (never for statements that carry
// passwords).
type Error struct {
	Status  int
	Code    string
	Message string
	Details string

	cause error // a sentinel such as ErrClosed, for errors.Is
}

// Error returns the code and message. It never contains SQL text, so it
// cannot leak a literal from the statement.
func (e *Error) Error() string { return "kalamtest: " + e.Code + ": " + e.Message }

// Unwrap returns the sentinel cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// failure is an error while running one statement, before it is turned
// into an *Error with the statement number and masking applied.
type failure struct {
	status int
	code   string
	msg    string
	safe   bool // shown to non-admin callers as is
	prefix bool // message gets "Statement N failed: "
	cause  error
}

func (f *failure) Error() string { return f.msg }

// invalidSQL is a statement that cannot be parsed or is not allowed; like
// KalamDB's classifier errors it has no statement prefix and is masked for
// non-admins.
func invalidSQL(msg string) *failure {
	return &failure{status: http.StatusBadRequest, code: wire.CodeInvalidSQL, msg: msg}
}

// execFail is a runtime failure of a statement.
func execFail(msg string, safe bool) *failure {
	return &failure{status: http.StatusBadRequest, code: wire.CodeSQLExecutionError, msg: msg, safe: safe, prefix: true}
}

// denied is a role check that said no.
func denied(msg string) *failure {
	return &failure{status: http.StatusForbidden, code: wire.CodePermissionDenied, msg: msg, safe: true, prefix: true}
}

// tableNotFound mirrors KalamDB: an execution error, not shown to
// non-admins.
func tableNotFound(full string) *failure {
	return execFail("Table not found: "+full, false)
}

// publicMessages are the texts non-admin callers get for unsafe errors.
var publicMessages = map[string]string{
	wire.CodeSQLExecutionError: "SQL statement failed",
	wire.CodeInvalidSQL:        "SQL statement is invalid or not allowed",
	wire.CodeBatchParseError:   "Failed to parse SQL batch",
	wire.CodeTableNotFound:     "Requested table is not available",
	wire.CodeInternalError:     "SQL request failed",
}

// safeMessage mirrors KalamDB's list of validation errors that are shown
// to every caller.
func safeMessage(msg string) bool {
	m := strings.ToLower(msg)
	return (strings.Contains(m, "column") && strings.Contains(m, "not found")) ||
		(strings.Contains(m, "field") && strings.Contains(m, "not found")) ||
		strings.Contains(m, "no field named") ||
		strings.Contains(m, "primary key") ||
		strings.Contains(m, "constraint violation") ||
		strings.Contains(m, "already exists") ||
		strings.Contains(m, "duplicate") ||
		strings.Contains(m, "unique constraint")
}

// toError finalizes a failure of statement n (1-based; 0 = not tied to a
// statement) for a caller with the given admin status.
func (f *failure) toError(n int, admin bool, details string) *Error {
	msg := f.msg
	if f.prefix && n > 0 {
		msg = "Statement " + strconv.Itoa(n) + " failed: " + msg
	}
	e := &Error{Status: f.status, Code: f.code, Message: msg, cause: f.cause}
	if !admin && !f.safe && !safeMessage(f.msg) {
		if pub, ok := publicMessages[f.code]; ok {
			e.Message = pub
		}
	}
	if admin {
		e.Details = details
	}
	return e
}

// sqliteMessage strips the "sqlite3: <code text>: " prefix from an SQLite
// error.
func sqliteMessage(err error) string {
	s := err.Error()
	var se *sqlite3.Error
	if errors.As(err, &se) {
		if i := strings.Index(s, ": "); i >= 0 {
			if j := strings.Index(s[i+2:], ": "); j >= 0 {
				return s[i+2+j+2:]
			}
		}
	}
	return strings.TrimPrefix(s, "sqlite3: ")
}

// translate maps an SQLite error of a user statement to KalamDB's wording.
// ns is the namespace unqualified names resolved against.
func translate(err error, ns string) *failure {
	if f, ok := err.(*failure); ok {
		return f
	}
	if errors.Is(err, sqlite3.INTERRUPT) {
		return execFail("Query cancelled", true)
	}
	msg := sqliteMessage(err)
	switch {
	case strings.HasPrefix(msg, "no such table: "):
		name := strings.TrimPrefix(msg, "no such table: ")
		if !strings.Contains(name, ".") {
			name = ns + "." + name
		}
		return tableNotFound(strings.TrimPrefix(name, "main."))
	case strings.HasPrefix(msg, "no such column: "):
		return execFail("Schema error: No field named "+strings.TrimPrefix(msg, "no such column: ")+". Column not found", true)
	case strings.Contains(msg, " has no column named "):
		i := strings.Index(msg, " has no column named ")
		return execFail("Schema error: No field named "+msg[i+len(" has no column named "):]+". Column not found", true)
	case strings.HasPrefix(msg, "NOT NULL constraint failed: "):
		col := strings.TrimPrefix(msg, "NOT NULL constraint failed: ")
		if i := strings.LastIndexByte(col, '.'); i >= 0 {
			col = col[i+1:]
		}
		return execFail("Constraint violation: column '"+col+"' cannot be NULL", true)
	case strings.HasPrefix(msg, "UNIQUE constraint failed: "):
		col := strings.TrimPrefix(msg, "UNIQUE constraint failed: ")
		if i := strings.LastIndexByte(col, '.'); i >= 0 {
			col = col[i+1:]
		}
		return execFail("Constraint violation: unique constraint on column '"+col+"': value already exists", true)
	case strings.Contains(msg, "syntax error"), strings.Contains(msg, "incomplete input"),
		strings.Contains(msg, "unrecognized token"):
		return invalidSQL("SQL parse error: " + msg)
	}
	return execFail(msg, false)
}
