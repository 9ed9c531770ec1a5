package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kalamgo/kalam/transport/wire"
	"github.com/ncruces/go-sqlite3"
)

// Limits bounds what one statement of user SQL may cost. Every statement
// runs under the store's single lock, so without them one expensive query
// would stall every other caller. The zero value means the defaults.
type Limits struct {
	// StatementTimeout interrupts a statement that runs longer. Zero means
	// DefaultStatementTimeout; negative means no timeout.
	StatementTimeout time.Duration
	// HeapLimit is the most memory SQLite may allocate on the data
	// connection, in bytes. A statement that needs more fails with an
	// out-of-memory error and the store carries on. Zero means
	// DefaultHeapLimit; negative means no limit.
	HeapLimit int64
	// MaxValueBytes is the largest string or blob a statement may build
	// (SQLite's SQLITE_LIMIT_LENGTH). Zero means DefaultMaxValueBytes;
	// negative means SQLite's own limit (about 1 GB).
	MaxValueBytes int
}

// Defaults of Limits. 30 s is also how long KalamDB's own client waits
// for a reply by default (its receive_timeout).
const (
	DefaultStatementTimeout = 30 * time.Second
	DefaultHeapLimit        = 256 << 20
	DefaultMaxValueBytes    = 32 << 20
)

func (l Limits) withDefaults() Limits {
	if l.StatementTimeout == 0 {
		l.StatementTimeout = DefaultStatementTimeout
	}
	if l.HeapLimit == 0 {
		l.HeapLimit = DefaultHeapLimit
	}
	if l.MaxValueBytes == 0 {
		l.MaxValueBytes = DefaultMaxValueBytes
	}
	return l
}

// secure installs the authorizer and the memory limits on a connection.
func (s *Store) secure(db *sqlite3.Conn) error {
	if err := db.SetAuthorizer(s.authorize); err != nil {
		return errors.New("set authorizer: " + sqliteMessage(err))
	}
	limitConn(db, s.limits)
	return nil
}

// limitConn applies the memory limits of l to db (the data connection or
// a filter-evaluation connection).
func limitConn(db *sqlite3.Conn, l Limits) {
	if l.HeapLimit > 0 {
		db.HardHeapLimit(l.HeapLimit)
	}
	if l.MaxValueBytes > 0 {
		db.Limit(sqlite3.LIMIT_LENGTH, l.MaxValueBytes)
	}
}

// sidecarModes gives the -wal and -shm files of the database at path the
// permissions of the database file itself (SQLite's Go VFS creates them
// with the process umask): they hold the same data.
func sidecarModes(path string) error {
	if path == "" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	for _, p := range []string{path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, fi.Mode().Perm()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// runGuarded runs one statement of a request: under the statement timeout,
// with the session recorded for prepareUser's permission checks, and with
// a panic (the SQLite driver panics when memory runs out) turned into a
// failure after the connection is brought back to a clean state. Caller
// holds mu and has set ctx as the connection's interrupt.
func (s *Store) runGuarded(ctx context.Context, st *execState, p *plan, batch bool) (f *failure) {
	sctx := ctx
	if d := s.limits.StatementTimeout; d > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
		s.db.SetInterrupt(sctx)
		defer s.db.SetInterrupt(ctx)
	}
	s.sess, s.plan = &st.sess, p
	defer func() {
		s.sess, s.plan, s.guard = nil, nil, nil
		if r := recover(); r != nil {
			f = s.afterPanic(r, st)
		}
		if f != nil && ctx.Err() == nil && errors.Is(sctx.Err(), context.DeadlineExceeded) {
			f = timeoutFailure(s.limits.StatementTimeout)
		}
		if f != nil && strings.Contains(f.msg, "string or blob too big") {
			f = &failure{status: http.StatusBadRequest, code: wire.CodeSQLExecutionError, safe: true, prefix: true,
				msg: "Value too large: a string or blob would exceed the server's limit of " +
					strconv.Itoa(s.limits.MaxValueBytes) + " bytes"}
		}
	}()
	return s.run(st, p, batch)
}

func timeoutFailure(d time.Duration) *failure {
	return &failure{status: http.StatusBadRequest, code: wire.CodeSQLExecutionError, safe: true, prefix: true,
		msg: "Query cancelled: statement timeout of " + d.String() + " exceeded"}
}

// afterPanic cleans up after a statement panicked: every cached statement
// is finalized (one may be stopped mid-step), an open transaction is rolled
// back and the captured changes are discarded, so the next request finds
// the connection as if the statement had failed normally. Caller holds mu.
func (s *Store) afterPanic(r any, st *execState) *failure {
	safely(s.dropStmts)
	if st.inTx || !s.db.GetAutocommit() {
		safely(func() { _ = s.db.Exec("ROLLBACK") })
		st.inTx = false
	}
	safely(func() {
		if !s.db.GetAutocommit() {
			s.broken.Store(true)
		}
	})
	s.captured = nil
	s.fnErr = nil
	msg := fmt.Sprint(r)
	if strings.Contains(msg, "out of memory") {
		return &failure{status: http.StatusBadRequest, code: wire.CodeSQLExecutionError, safe: true, prefix: true,
			msg: "Out of memory: the statement needs more than the server's SQL memory limit of " +
				strconv.FormatInt(s.limits.HeapLimit>>20, 10) + " MiB"}
	}
	return &failure{status: http.StatusInternalServerError, code: wire.CodeInternalError, safe: true, prefix: true,
		msg: "Internal error: the statement failed unexpectedly and was rolled back"}
}

// Check reports whether the store can serve requests: it is open, and no
// failed statement left the connection in a state it could not undo.
func (s *Store) Check() error {
	if s.closed.Load() {
		return closedError()
	}
	if s.broken.Load() {
		return &Error{Status: http.StatusServiceUnavailable, Code: wire.CodeInternalError,
			Message: "a failed statement left the database connection in an unknown state; restart the server"}
	}
	return nil
}
