package store

import (
	"context"
	"errors"
	"time"

	"github.com/kalamgo/kalam/transport/wire"
)

// ErrInvalidCredentials reports an unknown user, a wrong password or a
// deleted user. The three are indistinguishable on purpose.
var ErrInvalidCredentials = errors.New("kalamtest: invalid credentials")

// Options configures a Store.
type Options struct {
	Path   string           // "" = in memory
	Now    func() time.Time // nil = time.Now; used for _seq Snowflakes and created_at
	Worker int64            // Snowflake worker id (10 bits)
}

// Store is the SQLite-backed database.
type Store struct{}

// Open opens a store.
func Open(opts Options) (*Store, error) { return nil, notImplemented() }

// Close closes the store.
func (s *Store) Close() error { return nil }

// Session says who runs a statement.
type Session struct {
	User      string
	Role      string
	Namespace string
}

// Error is every failure; Status/Code are what the wire carries.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return "kalamtest: " + e.Message }

func notImplemented() *Error {
	return &Error{Status: 500, Code: wire.CodeInternalError, Message: "not implemented"}
}

// Result is the outcome of Exec.
type Result struct {
	Results  []wire.QueryResult
	Streamed bool
}

// Exec runs sql.
func (s *Store) Exec(ctx context.Context, sess Session, sql string, params []any) (Result, error) {
	return Result{}, notImplemented()
}

// UserInfo describes a user.
type UserInfo struct {
	ID, Role             string
	Email                *string
	CreatedAt, UpdatedAt time.Time
}

func (s *Store) CreateUser(id, password, role string, email *string) error { return notImplemented() }
func (s *Store) Authenticate(id, password string) (UserInfo, error) {
	return UserInfo{}, ErrInvalidCredentials
}
func (s *Store) LookupUser(id string) (UserInfo, bool) { return UserInfo{}, false }
func (s *Store) SetPassword(id, password string) error { return notImplemented() }
func (s *Store) HasPassword(id string) bool            { return false }

// LiveQuery is a validated subscription query.
type LiveQuery struct{ table string }

func (q *LiveQuery) Table() string              { return q.table }
func (q *LiveQuery) Schema() []wire.SchemaField { return nil }

func (s *Store) PrepareLive(sess Session, sql string) (*LiveQuery, error) {
	return nil, notImplemented()
}
func (s *Store) SnapshotEnd(q *LiveQuery, sess Session) (wire.SeqID, error) {
	return 0, notImplemented()
}
func (s *Store) Snapshot(q *LiveQuery, sess Session, after, upto wire.SeqID, limit int) ([]wire.Row, error) {
	return nil, notImplemented()
}
func (s *Store) SnapshotLast(q *LiveQuery, sess Session, upto wire.SeqID, n int) ([]wire.Row, error) {
	return nil, notImplemented()
}

// Change is one committed row change.
type Change struct {
	Table string
	Kind  string
	Owner string
	Seq   wire.SeqID
}

func (s *Store) Watch(fn func(Change)) (stop func()) { return func() {} }
func (s *Store) Notify(q *LiveQuery, sess Session, ch Change) (msg *wire.ServerMessage, ok bool, err error) {
	return nil, false, notImplemented()
}
