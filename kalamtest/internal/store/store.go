package store

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kalamgo/kalam/transport/wire"
	"github.com/ncruces/go-sqlite3"
)

// Options configures a Store. The zero value is an in-memory store.
type Options struct {
	// Path is the SQLite database file. Empty means a private in-memory
	// database that vanishes with the Store.
	Path string
	// Now is the clock used for _seq Snowflakes, NOW() and the users'
	// created_at/updated_at. Nil means time.Now. It may go backwards: _seq
	// values stay strictly increasing regardless.
	Now func() time.Time
	// Worker is the Snowflake worker id (only its low 10 bits are used).
	Worker int64
	// Limits bounds what one statement of user SQL may cost; see Limits.
	Limits Limits
}

// Store is KalamDB's SQL semantics on an embedded SQLite database: the
// namespaces, USER/SHARED/STREAM tables, versioned rows with _seq and soft
// deletes, users, live-query snapshots and the change feed.
//
// A Store is safe for concurrent use.
type Store struct {
	now func() time.Time
	seq seqGen

	// mu serializes every use of db and guards the fields below it.
	mu       sync.Mutex
	db       *sqlite3.Conn
	curUser  string                   // what kalam_user() returns
	captured []Change                 // changes of the running transaction
	commits  uint64                   // transactions that queued changes
	fnErr    *failure                 // raised by a Go SQL function in the running statement
	stmts    map[string]*sqlite3.Stmt // prepared statement cache
	ustmts   map[string]*userStmt     // prepared statements of user SQL
	guard    *guard                   // set while user SQL is compiled (authz.go)
	sess     *Session                 // the session running a statement
	plan     *plan                    // the statement it runs
	limits   Limits

	// catMu guards the catalog. It is written only while mu is also held,
	// so code holding mu may read the catalog without it.
	catMu      sync.RWMutex
	namespaces map[string]bool
	tables     map[string]*tableDef // by "ns.t"

	usersMu sync.RWMutex
	users   map[string]*userRec

	// Change delivery (see Watch).
	pendMu    sync.Mutex
	pending   []Change
	deliverMu sync.Mutex
	watchMu   sync.Mutex
	watchers  atomic.Pointer[[]*watcher]

	evalPool   chan *evalConn
	closed     atomic.Bool
	liveSource atomic.Pointer[func() []LiveInfo] // see SetLiveSource
	broken     atomic.Bool                       // set when a panicking statement could not be undone
}

const (
	defaultNamespace = "default"
	rootUser         = "root"
	maxCachedStmts   = 256
)

// Open opens (or creates) a store. With an empty Options.Path the database
// lives in memory. A fresh store holds the namespace "default" and the user
// "root" (role system) without a password; HasPassword("root") is false
// until SetPassword is called, which is what /auth/setup looks at.
func Open(opts Options) (*Store, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	path := opts.Path
	if path == "" {
		path = ":memory:"
	}
	db, err := sqlite3.Open(path)
	if err != nil {
		return nil, &Error{Status: 500, Code: wire.CodeInternalError, Message: "open database: " + sqliteMessage(err)}
	}
	s := &Store{
		now:        now,
		seq:        seqGen{now: now, worker: opts.Worker & 0x3ff},
		db:         db,
		stmts:      make(map[string]*sqlite3.Stmt),
		ustmts:     make(map[string]*userStmt),
		limits:     opts.Limits.withDefaults(),
		namespaces: make(map[string]bool),
		tables:     make(map[string]*tableDef),
		users:      make(map[string]*userRec),
		evalPool:   make(chan *evalConn, 8),
	}
	s.watchers.Store(&[]*watcher{})
	if err := s.secure(db); err != nil {
		db.Close()
		return nil, &Error{Status: 500, Code: wire.CodeInternalError, Message: "initialize database: " + err.Error()}
	}
	if err := s.init(opts.Path != ""); err != nil {
		db.Close()
		return nil, &Error{Status: 500, Code: wire.CodeInternalError, Message: "initialize database: " + err.Error()}
	}
	if err := sidecarModes(opts.Path); err != nil {
		db.Close()
		return nil, &Error{Status: 500, Code: wire.CodeInternalError, Message: "initialize database: " + err.Error()}
	}
	return s, nil
}

func (s *Store) init(onDisk bool) error {
	if onDisk {
		if err := s.db.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"); err != nil {
			return errors.New(sqliteMessage(err))
		}
	}
	if err := s.registerFunctions(s.db); err != nil {
		return err
	}
	for _, q := range metaDDL {
		if err := s.db.Exec(q); err != nil {
			return errors.New(sqliteMessage(err))
		}
	}
	if err := s.migrate(); err != nil {
		return err
	}
	if err := s.loadCatalog(); err != nil {
		return err
	}
	if err := s.upgradeViews(); err != nil {
		return err
	}
	if !s.namespaces[defaultNamespace] {
		if err := s.execArgs(`INSERT INTO _kalam_namespaces VALUES (?, ?)`, defaultNamespace, s.now().UnixMicro()); err != nil {
			return err
		}
		s.namespaces[defaultNamespace] = true
	}
	if err := s.loadUsers(); err != nil {
		return err
	}
	if _, ok := s.users[rootUser]; !ok {
		if err := s.insertUser(rootUser, "", "system", nil); err != nil {
			return err
		}
	}
	// Continue above every stored version, whatever the clock says now.
	var max int64
	for _, t := range s.tables {
		v, err := s.queryInt("SELECT coalesce(max(" + quoteIdent(seqCol) + "), 0) FROM " + t.phys)
		if err != nil {
			return err
		}
		max = maxInt(max, v)
	}
	s.seq.seed(wire.SeqID(max))
	return nil
}

// Close closes the database. Calls after Close fail with ErrClosed. Close
// is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	s.dropStmts()
	s.stmts = nil
	err := s.db.Close()
	for {
		select {
		case c := <-s.evalPool:
			c.close()
			continue
		default:
		}
		break
	}
	if err != nil {
		return &Error{Status: 500, Code: wire.CodeInternalError, Message: "close database: " + sqliteMessage(err)}
	}
	return nil
}

func closedError() *Error {
	return &Error{Status: 503, Code: wire.CodeInternalError, Message: "store closed", cause: ErrClosed}
}

// lock takes mu and reports false (without holding it) when the store is
// closed.
func (s *Store) lock() bool {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return false
	}
	return true
}

// registerFunctions installs the Go functions the schema and KalamDB's SQL
// use. They run only while mu is held, which is what makes reading curUser
// and writing captured/fnErr safe.
func (s *Store) registerFunctions(db *sqlite3.Conn) error {
	const det = sqlite3.DETERMINISTIC | sqlite3.INNOCUOUS
	const vol = sqlite3.INNOCUOUS
	fns := []struct {
		name string
		n    int
		flag sqlite3.FunctionFlag
		fn   sqlite3.ScalarFunction
	}{
		// Deterministic within a statement, which is all SQLite asks; the
		// value changes between statements.
		{"kalam_user", 0, det, func(ctx sqlite3.Context, _ ...sqlite3.Value) { ctx.ResultText(s.curUser) }},
		{"current_user", 0, det, func(ctx sqlite3.Context, _ ...sqlite3.Value) { ctx.ResultText(s.curUser) }},
		{"kalam_seq", 0, vol, func(ctx sqlite3.Context, _ ...sqlite3.Value) { ctx.ResultInt64(int64(s.seq.next())) }},
		{"snowflake_id", 0, vol, func(ctx sqlite3.Context, _ ...sqlite3.Value) { ctx.ResultInt64(int64(s.seq.next())) }},
		{"now", 0, vol, func(ctx sqlite3.Context, _ ...sqlite3.Value) { ctx.ResultInt64(s.now().UnixMicro()) }},
		{"uuid_v7", 0, vol, func(ctx sqlite3.Context, _ ...sqlite3.Value) { ctx.ResultText(s.uuidV7()) }},
		{"ulid", 0, vol, func(ctx sqlite3.Context, _ ...sqlite3.Value) { ctx.ResultText(s.ulid()) }},
		{"kalam_in", 3, det, s.fnConvert},
		{"kalam_capture", -1, vol, s.fnCapture},
		{"kalam_pk_violation", -1, vol, s.fnPKViolation},
		{"kalam_ttl_floor", 1, vol, s.ttlFloor},
	}
	for _, f := range fns {
		if err := db.CreateFunction(f.name, f.n, f.flag, f.fn); err != nil {
			return errors.New("register " + f.name + ": " + sqliteMessage(err))
		}
	}
	return nil
}

// fnConvert is kalam_in(conv, column, value).
func (s *Store) fnConvert(ctx sqlite3.Context, arg ...sqlite3.Value) {
	conv := arg[0].Text()
	v, msg := convertIn(conv, goValue(arg[2]))
	if _, numeric := numericConvs[conv]; numeric && msg != "" {
		// DataFusion's cast error: an execution error that KalamDB shows
		// only to dba/system callers (INFERRED wording, see numeric.go).
		s.fnErr = execFail("Arrow error: "+msg, false)
		ctx.ResultError(s.fnErr)
		return
	}
	if msg != "" {
		s.fnErr = execFail("Invalid value for column '"+arg[1].Text()+"': "+msg, true)
		ctx.ResultError(s.fnErr)
		return
	}
	resultValue(ctx, v)
}

// fnCapture is called by the row triggers: kalam_capture(table, kind,
// owner, seq, old_seq, new values…, old values…).
func (s *Store) fnCapture(ctx sqlite3.Context, arg ...sqlite3.Value) {
	if len(arg) < 5 {
		ctx.ResultError(errors.New("kalam_capture: internal function called with " + strconv.Itoa(len(arg)) + " arguments"))
		return
	}
	t := s.tables[arg[0].Text()]
	if t == nil {
		return
	}
	n := len(t.Cols)
	if ok := len(arg) == 5+n || len(arg) == 5+2*n; !ok || (arg[1].Int64() == 2 && len(arg) != 5+2*n) {
		ctx.ResultError(errors.New("kalam_capture: wrong number of arguments for table " + t.full))
		return
	}
	ch := Change{Table: t.full, Owner: arg[2].Text(), Seq: wire.SeqID(arg[3].Int64()), def: t}
	if !t.Kind.perUser() {
		ch.Owner = ""
	}
	ch.newVals = make([]any, n)
	for i := range n {
		ch.newVals[i] = goValue(arg[5+i])
	}
	switch arg[1].Int64() {
	case 1:
		ch.Kind = wire.ChangeInsert
	case 2:
		ch.Kind = wire.ChangeUpdate
		ch.oldSeq = wire.SeqID(arg[4].Int64())
		ch.oldVals = make([]any, n)
		for i := range n {
			ch.oldVals[i] = goValue(arg[5+n+i])
		}
	default:
		ch.Kind = wire.ChangeDelete
		ch.oldSeq = wire.SeqID(arg[4].Int64())
	}
	s.captured = append(s.captured, ch)
}

// fnPKViolation is raised by the insert trigger when a live row already
// holds the key.
func (s *Store) fnPKViolation(ctx sqlite3.Context, arg ...sqlite3.Value) {
	t := s.tables[arg[0].Text()]
	var vals, cols []string
	for i, a := range arg[1:] {
		vals = append(vals, plainText(goValue(a)))
		if t != nil && i < len(t.pk) {
			cols = append(cols, t.Cols[t.pk[i]].Name)
		}
	}
	s.fnErr = execFail("Already exists: Primary key violation: value '"+strings.Join(vals, ", ")+
		"' already exists in column '"+strings.Join(cols, ", ")+"'", true)
	ctx.ResultError(s.fnErr)
}

// goValue copies an SQLite value into Go: nil, int64, float64, string or
// []byte.
func goValue(v sqlite3.Value) any {
	switch v.Type() {
	case sqlite3.INTEGER:
		return v.Int64()
	case sqlite3.FLOAT:
		return v.Float()
	case sqlite3.TEXT:
		return v.Text()
	case sqlite3.BLOB:
		return v.Blob(nil)
	}
	return nil
}

func resultValue(ctx sqlite3.Context, v any) {
	switch x := v.(type) {
	case nil:
		ctx.ResultNull()
	case int64:
		ctx.ResultInt64(x)
	case float64:
		ctx.ResultFloat(x)
	case string:
		ctx.ResultText(x)
	case []byte:
		ctx.ResultBlob(x)
	}
}

func plainText(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return x
	case []byte:
		return string(x)
	}
	return strings.Trim(string(appendAny(nil, v)), `"`)
}

// columnValue reads result column i of st into Go.
func columnValue(st *sqlite3.Stmt, i int) any {
	switch st.ColumnType(i) {
	case sqlite3.INTEGER:
		return st.ColumnInt64(i)
	case sqlite3.FLOAT:
		return st.ColumnFloat(i)
	case sqlite3.TEXT:
		return st.ColumnText(i)
	case sqlite3.BLOB:
		return st.ColumnBlob(i, nil)
	}
	return nil
}

// bind binds Go values (nil, bool, int64, float64, string, []byte) to
// ?1… of st.
func bind(st *sqlite3.Stmt, args ...any) error {
	for i, a := range args {
		var err error
		switch x := a.(type) {
		case nil:
			err = st.BindNull(i + 1)
		case bool:
			err = st.BindBool(i+1, x)
		case int:
			err = st.BindInt64(i+1, int64(x))
		case int64:
			err = st.BindInt64(i+1, x)
		case wire.SeqID:
			err = st.BindInt64(i+1, int64(x))
		case float64:
			err = st.BindFloat(i+1, x)
		case string:
			err = st.BindText(i+1, x)
		case []byte:
			err = st.BindBlob(i+1, x)
		default:
			err = errors.New("unsupported bind type")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// prepare returns a cached prepared statement for q. Caller holds mu.
func (s *Store) prepare(q string) (*sqlite3.Stmt, error) {
	if st, ok := s.stmts[q]; ok {
		return st, nil
	}
	st, tail, err := s.db.Prepare(q)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(tail) != "" {
		st.Close()
		return nil, invalidSQL("only one statement is allowed here")
	}
	if len(s.stmts) >= maxCachedStmts {
		s.dropStmts()
	}
	s.stmts[q] = st
	return st, nil
}

// dropStmts empties the statement cache (after DDL, or when it is full).
func (s *Store) dropStmts() {
	for q, st := range s.stmts {
		safely(func() { st.Close() })
		delete(s.stmts, q)
	}
	s.dropUserStmts()
}

// execArgs runs an internal statement. Caller holds mu (or is Open).
func (s *Store) execArgs(q string, args ...any) error {
	st, err := s.prepare(q)
	if err != nil {
		return errors.New(sqliteMessage(err))
	}
	defer st.Reset()
	if err := bind(st, args...); err != nil {
		return err
	}
	if err := st.Exec(); err != nil {
		return errors.New(sqliteMessage(err))
	}
	return nil
}

// queryInt runs an internal single-value query.
func (s *Store) queryInt(q string, args ...any) (int64, error) {
	st, err := s.prepare(q)
	if err != nil {
		return 0, errors.New(sqliteMessage(err))
	}
	defer st.Reset()
	if err := bind(st, args...); err != nil {
		return 0, err
	}
	var v int64
	if st.Step() {
		v = st.ColumnInt64(0)
	}
	if err := st.Err(); err != nil {
		return 0, errors.New(sqliteMessage(err))
	}
	return v, nil
}

func (s *Store) loadCatalog() error {
	st, _, err := s.db.Prepare(`SELECT namespace_id FROM _kalam_namespaces`)
	if err != nil {
		return errors.New(sqliteMessage(err))
	}
	for st.Step() {
		s.namespaces[st.ColumnText(0)] = true
	}
	st.Close()
	st, _, err = s.db.Prepare(`SELECT namespace_id, table_name, table_type, def FROM _kalam_tables`)
	if err != nil {
		return errors.New(sqliteMessage(err))
	}
	defer st.Close()
	for st.Step() {
		t, err := unmarshalTable(st.ColumnText(0), st.ColumnText(1), st.ColumnText(2), st.ColumnText(3))
		if err != nil {
			return errors.New("table " + st.ColumnText(0) + "." + st.ColumnText(1) + ": " + err.Error())
		}
		s.tables[t.full] = t
	}
	if err := st.Err(); err != nil {
		return errors.New(sqliteMessage(err))
	}
	return nil
}

// lookupTable finds a table or system view by "ns.t".
func (s *Store) lookupTable(full string) *tableDef {
	if t, ok := systemTables[full]; ok {
		return t
	}
	s.catMu.RLock()
	t := s.tables[full]
	s.catMu.RUnlock()
	return t
}

// seqGen mints strictly increasing Snowflake SeqIDs.
type seqGen struct {
	mu     sync.Mutex
	now    func() time.Time
	worker int64
	lastMs int64
	n      int64
}

// seed makes every later id larger than max.
func (g *seqGen) seed(max wire.SeqID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if max > 0 {
		g.lastMs = max.UnixMillis() + 1
		g.n = -1
	}
}

func (g *seqGen) next() wire.SeqID {
	g.mu.Lock()
	defer g.mu.Unlock()
	ms := max(g.now().UnixMilli(), wire.SeqEpochMillis)
	if ms <= g.lastMs {
		// Same millisecond, or the clock went back: stay on the last
		// millisecond and count up, borrowing the next one when the 12-bit
		// sequence runs out.
		ms = g.lastMs
		g.n++
		if g.n > 0xfff {
			ms++
			g.n = 0
		}
	} else {
		g.n = 0
	}
	g.lastMs = ms
	return wire.MakeSeqID(ms, g.worker, g.n)
}

// uuidV7 returns an RFC 9562 version 7 UUID.
func (s *Store) uuidV7() string {
	var b [16]byte
	rand.Read(b[6:])
	ms := uint64(s.now().UnixMilli())
	binary.BigEndian.PutUint64(b[:8], ms<<16|uint64(binary.BigEndian.Uint16(b[6:8])))
	b[6] = 0x70 | b[6]&0x0f
	b[8] = 0x80 | b[8]&0x3f
	return formatUUID(b[:])
}

// ulid returns a ULID (48-bit ms timestamp + 80 random bits, Crockford
// base32).
func (s *Store) ulid() string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var b [16]byte
	rand.Read(b[6:])
	ms := uint64(s.now().UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	out := make([]byte, 26)
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out)
}

func maxInt(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}
