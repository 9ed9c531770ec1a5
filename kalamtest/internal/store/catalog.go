package store

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/kalamgo/kalam/transport/wire"
	"github.com/ncruces/go-sqlite3"
)

// tableKind is a KalamDB table type.
type tableKind uint8

const (
	tableUser tableKind = iota + 1
	tableShared
	tableStream
	tableSystem
)

func (k tableKind) String() string {
	switch k {
	case tableUser:
		return "User"
	case tableShared:
		return "Shared"
	case tableStream:
		return "Stream"
	}
	return "System"
}

// perUser reports whether rows belong to one user each.
func (k tableKind) perUser() bool { return k == tableUser || k == tableStream }

// Shared-table access levels.
const (
	accessPublic     = "public"
	accessPrivate    = "private"
	accessRestricted = "restricted"
)

// Physical names. A table ns.t lives in the SQLite table "ns.t#"; the view
// "ns.t" shows the calling user's live rows. User SQL can name neither the
// '#' tables nor anything starting with _kalam (see forbiddenIdent).
const (
	ownerCol   = "_kalam_owner"
	seqCol     = wire.SeqColumn
	deletedCol = wire.DeletedColumn
	commitCol  = "_commit_seq"
	// maxColumns keeps the capture trigger within SQLite's function
	// argument limit (2n+5 arguments).
	maxColumns = 400
)

// column is one user column of a table.
type column struct {
	Name    string  `json:"name"`
	Type    colType `json:"-"`
	PK      bool    `json:"pk,omitempty"`
	NotNull bool    `json:"nn,omitempty"`
	Unique  bool    `json:"uq,omitempty"`
	Default string  `json:"default,omitempty"` // SQLite expression, already translated

	// persisted form of Type
	TypeKind  kind `json:"kind"`
	TypeParam int  `json:"p,omitempty"`
	TypeScale int  `json:"s,omitempty"`
}

// tableDef describes a table. It is immutable once registered: DDL replaces
// definitions instead of editing them, so readers may keep a pointer.
type tableDef struct {
	NS, Name string
	Kind     tableKind
	Access   string // SHARED only
	TTL      int64  // STREAM only, seconds (see ttlFilter)
	Cols     []column

	full   string         // "ns.t"
	phys   string         // quoted physical table
	view   string         // quoted view
	pk     []int          // indexes of primary-key columns
	byName map[string]int // lower-cased column name → index
	// system views map their physical source here instead
	sysPhys string
}

func newTableDef(ns, name string, kind tableKind, cols []column) *tableDef {
	t := &tableDef{NS: ns, Name: name, Kind: kind, Cols: cols}
	t.init()
	return t
}

func (t *tableDef) init() {
	t.full = t.NS + "." + t.Name
	t.phys = quoteIdent(t.full + "#")
	t.view = quoteIdent(t.full)
	t.byName = make(map[string]int, len(t.Cols))
	t.pk = t.pk[:0]
	for i, c := range t.Cols {
		t.byName[strings.ToLower(c.Name)] = i
		if c.PK {
			t.pk = append(t.pk, i)
		}
	}
}

// col finds a column by name, case-insensitively.
func (t *tableDef) col(name string) (int, bool) {
	i, ok := t.byName[strings.ToLower(name)]
	return i, ok
}

// field returns the schema field of column i at result position idx.
func (t *tableDef) field(i, idx int) wire.SchemaField {
	c := t.Cols[i]
	f := wire.SchemaField{Name: c.Name, DataType: c.Type.dataType(), Index: idx}
	switch {
	case c.PK:
		f.Flags = []string{"pk", "nn", "uq"}
	case c.NotNull && c.Unique:
		f.Flags = []string{"nn", "uq"}
	case c.NotNull:
		f.Flags = []string{"nn"}
	case c.Unique:
		f.Flags = []string{"uq"}
	}
	return f
}

func seqField(idx int) wire.SchemaField {
	return wire.SchemaField{Name: seqCol, DataType: wire.DataType{Name: wire.TypeBigInt}, Index: idx, Flags: []string{"nn"}}
}

func deletedField(idx int) wire.SchemaField {
	return wire.SchemaField{Name: deletedCol, DataType: wire.DataType{Name: wire.TypeBoolean}, Index: idx, Flags: []string{"nn"}}
}

// ttlFilter is the condition, " AND …" or "", that hides the rows of a
// STREAM table older than its TTL: a row's age is that of its _seq, whose
// Snowflake carries the time of its last write. Expired rows are also
// deleted (see Store.evictExpired); the filter makes them vanish on time
// in between.
func (t *tableDef) ttlFilter() string {
	if t.Kind != tableStream || t.TTL <= 0 {
		return ""
	}
	return " AND " + quoteIdent(seqCol) + " >= kalam_ttl_floor(" + strconv.FormatInt(t.TTL, 10) + ")"
}

// ownerExpr is the SQL expression for the owner of rows the caller sees.
func (t *tableDef) ownerExpr() string {
	if t.Kind.perUser() {
		return "kalam_user()"
	}
	return "''"
}

// ddl returns the SQLite statements that create t's storage, view and
// triggers.
func (t *tableDef) ddl() []string {
	var b strings.Builder
	b.WriteString("CREATE TABLE " + t.phys + " (" + quoteIdent(ownerCol) + " TEXT NOT NULL")
	for _, c := range t.Cols {
		b.WriteString(", " + quoteIdent(c.Name) + " " + c.Type.affinity())
		if c.NotNull || c.PK {
			b.WriteString(" NOT NULL")
		}
		if c.Default != "" {
			b.WriteString(" DEFAULT (" + c.Default + ")")
		}
	}
	b.WriteString(", " + quoteIdent(seqCol) + " INTEGER NOT NULL, " + quoteIdent(deletedCol) + " INTEGER NOT NULL DEFAULT 0")
	if len(t.pk) > 0 {
		b.WriteString(", PRIMARY KEY (" + quoteIdent(ownerCol))
		for _, i := range t.pk {
			b.WriteString(", " + quoteIdent(t.Cols[i].Name))
		}
		b.WriteString(")) WITHOUT ROWID")
	} else {
		b.WriteString(")")
	}
	stmts := []string{b.String(),
		"CREATE INDEX " + quoteIdent(t.full+"#seq") + " ON " + t.phys + " (" + quoteIdent(ownerCol) + ", " + quoteIdent(seqCol) + ")",
	}
	for _, c := range t.Cols {
		if c.Unique && !c.PK {
			stmts = append(stmts, "CREATE UNIQUE INDEX "+quoteIdent(t.full+"#uq_"+c.Name)+" ON "+t.phys+
				" ("+quoteIdent(ownerCol)+", "+quoteIdent(c.Name)+") WHERE "+quoteIdent(deletedCol)+" = 0")
		}
	}

	stmts = append(stmts, t.viewDDL())

	lit := quoteString(t.full)
	if len(t.pk) > 0 {
		var args, match strings.Builder
		for _, i := range t.pk {
			n := quoteIdent(t.Cols[i].Name)
			args.WriteString(", NEW." + n)
			match.WriteString(" AND " + n + " IS NEW." + n)
		}
		where := " WHERE " + quoteIdent(ownerCol) + " = NEW." + quoteIdent(ownerCol) + match.String()
		stmts = append(stmts, "CREATE TRIGGER "+quoteIdent(t.full+"#bi")+" BEFORE INSERT ON "+t.phys+" BEGIN "+
			"SELECT kalam_pk_violation("+lit+args.String()+") FROM "+t.phys+where+" AND "+quoteIdent(deletedCol)+" = 0; "+
			"DELETE FROM "+t.phys+where+" AND "+quoteIdent(deletedCol)+" = 1; END")
	}
	var newVals, oldVals strings.Builder
	for _, c := range t.Cols {
		newVals.WriteString(", NEW." + quoteIdent(c.Name))
		oldVals.WriteString(", OLD." + quoteIdent(c.Name))
	}
	own, seq := quoteIdent(ownerCol), quoteIdent(seqCol)
	stmts = append(stmts,
		"CREATE TRIGGER "+quoteIdent(t.full+"#ai")+" AFTER INSERT ON "+t.phys+" BEGIN "+
			"SELECT kalam_capture("+lit+", 1, NEW."+own+", NEW."+seq+", NULL"+newVals.String()+"); END",
		"CREATE TRIGGER "+quoteIdent(t.full+"#au")+" AFTER UPDATE ON "+t.phys+" BEGIN "+
			"SELECT kalam_capture("+lit+", CASE WHEN NEW."+quoteIdent(deletedCol)+" THEN 3 ELSE 2 END, NEW."+own+
			", NEW."+seq+", OLD."+seq+newVals.String()+oldVals.String()+"); END",
	)
	return stmts
}

// viewDDL creates the view of the caller's live rows of t.
func (t *tableDef) viewDDL() string {
	var b strings.Builder
	b.WriteString("CREATE VIEW " + t.view + " AS SELECT ")
	for _, c := range t.Cols {
		b.WriteString(quoteIdent(c.Name) + ", ")
	}
	b.WriteString(quoteIdent(seqCol) + ", " + quoteIdent(deletedCol) + " FROM " + t.phys +
		" WHERE " + quoteIdent(ownerCol) + " = " + t.ownerExpr() + " AND " + quoteIdent(deletedCol) + " = 0" + t.ttlFilter())
	return b.String()
}

// dropDDL returns the statements that remove t's storage (its indexes and
// triggers go with the table).
func (t *tableDef) dropDDL() []string {
	return []string{"DROP VIEW IF EXISTS " + t.view, "DROP TABLE IF EXISTS " + t.phys}
}

// persisted is the JSON form of a table definition in _kalam_tables.
type persisted struct {
	Access string   `json:"access,omitempty"`
	TTL    int64    `json:"ttl,omitempty"`
	Cols   []column `json:"cols"`
}

func (t *tableDef) marshal() string {
	cols := make([]column, len(t.Cols))
	for i, c := range t.Cols {
		c.TypeKind, c.TypeParam, c.TypeScale = c.Type.kind, c.Type.p, c.Type.s
		cols[i] = c
	}
	b, _ := json.Marshal(persisted{Access: t.Access, TTL: t.TTL, Cols: cols})
	return string(b)
}

func unmarshalTable(ns, name, kindName, def string) (*tableDef, error) {
	var p persisted
	if err := json.Unmarshal([]byte(def), &p); err != nil {
		return nil, err
	}
	var k tableKind
	switch kindName {
	case "User":
		k = tableUser
	case "Shared":
		k = tableShared
	case "Stream":
		k = tableStream
	default:
		return nil, &json.UnsupportedValueError{Str: "table type " + strconv.Quote(kindName)}
	}
	for i := range p.Cols {
		c := &p.Cols[i]
		c.Type = colType{kind: c.TypeKind, p: c.TypeParam, s: c.TypeScale}
	}
	t := newTableDef(ns, name, k, p.Cols)
	t.Access, t.TTL = p.Access, p.TTL
	return t, nil
}

// metaDDL creates the store's own bookkeeping tables and the system views.
var metaDDL = []string{
	`CREATE TABLE IF NOT EXISTS _kalam_namespaces (namespace_id TEXT PRIMARY KEY, created_at INTEGER NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS _kalam_tables (namespace_id TEXT NOT NULL, table_name TEXT NOT NULL,
		table_type TEXT NOT NULL, access_level TEXT, def TEXT NOT NULL, created_at INTEGER NOT NULL,
		PRIMARY KEY (namespace_id, table_name))`,
	`CREATE TABLE IF NOT EXISTS _kalam_users (user_id TEXT PRIMARY KEY, password_hash TEXT NOT NULL DEFAULT '',
		role TEXT NOT NULL, email TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, deleted_at INTEGER,
		auth_type TEXT NOT NULL DEFAULT 'password', auth_data TEXT)`,
	`CREATE VIEW IF NOT EXISTS "system.namespaces" AS SELECT namespace_id, created_at FROM _kalam_namespaces`,
	`CREATE VIEW IF NOT EXISTS "system.tables" AS SELECT namespace_id, table_name, table_type, access_level, created_at FROM _kalam_tables`,
}

// migrations bring a store file written by an older kalamtest up to date;
// each runs when its check query returns 0. The system views are created
// afresh at every open, so their columns always match systemTables.
var migrations = []struct{ check, apply string }{
	{`SELECT count(*) FROM pragma_table_info('_kalam_users') WHERE name = 'auth_type'`,
		`ALTER TABLE _kalam_users ADD COLUMN auth_type TEXT NOT NULL DEFAULT 'password'`},
	{`SELECT count(*) FROM pragma_table_info('_kalam_users') WHERE name = 'auth_data'`,
		`ALTER TABLE _kalam_users ADD COLUMN auth_data TEXT`},
}

// viewDDL (re)creates the system views over the bookkeeping tables.
var viewDDL = []string{
	`DROP VIEW IF EXISTS "system.users"`,
	`CREATE VIEW "system.users" AS SELECT user_id, role, email, auth_type, auth_data, created_at, updated_at, deleted_at FROM _kalam_users`,
}

// migrate applies migrations and viewDDL. Caller holds mu (or is Open).
func (s *Store) migrate() error {
	for _, m := range migrations {
		n, err := s.queryInt(m.check)
		if err != nil {
			return err
		}
		if n == 0 {
			if err := s.db.Exec(m.apply); err != nil {
				return errors.New(sqliteMessage(err))
			}
		}
	}
	for _, q := range append(viewDDL, virtualDDL()...) {
		if err := s.db.Exec(q); err != nil {
			return errors.New(sqliteMessage(err))
		}
	}
	s.dropStmts()
	return nil
}

// upgradeViews recreates the view of every table, so that a store file
// written by an older kalamtest gets the current view definitions (such as
// the TTL filter of STREAM tables). Caller holds mu (or is Open).
func (s *Store) upgradeViews() error {
	var stmts []string
	for _, t := range s.tables {
		stmts = append(stmts, "DROP VIEW IF EXISTS "+t.view, t.viewDDL())
	}
	if len(stmts) == 0 {
		return nil
	}
	return s.ddl(stmts)
}

// evictExpired deletes the rows of the STREAM tables among refs that are
// older than their TTL. Eviction is silent, as in KalamDB: subscribers get
// no delete event. Caller holds mu.
func (s *Store) evictExpired(refs ...*tableDef) *failure {
	for _, t := range refs {
		if t.ttlFilter() == "" {
			continue
		}
		q := "DELETE FROM " + t.phys + " WHERE " + quoteIdent(seqCol) + " < kalam_ttl_floor(" + strconv.FormatInt(t.TTL, 10) + ")"
		if err := s.execArgs(q); err != nil {
			return execFail("evicting expired rows of "+t.full+": "+err.Error(), false)
		}
	}
	return nil
}

// ttlFloor is kalam_ttl_floor(seconds): the smallest _seq a row written
// no more than seconds ago can have.
func (s *Store) ttlFloor(ctx sqlite3.Context, arg ...sqlite3.Value) {
	ms := s.now().UnixMilli() - arg[0].Int64()*1000
	if ms < wire.SeqEpochMillis {
		ctx.ResultInt64(math.MinInt64)
		return
	}
	ctx.ResultInt64(int64(wire.MakeSeqID(ms, 0, 0)))
}

// systemTables are the read-only system views, keyed by "system.<name>".
var systemTables = func() map[string]*tableDef {
	mk := func(name, phys string, cols ...column) *tableDef {
		t := newTableDef("system", name, tableSystem, cols)
		t.sysPhys = phys
		return t
	}
	text := colType{kind: kText}
	ts := colType{kind: kTimestamp}
	m := map[string]*tableDef{}
	for _, t := range []*tableDef{
		mk("users", "_kalam_users",
			column{Name: "user_id", Type: text, PK: true},
			column{Name: "role", Type: text, NotNull: true},
			column{Name: "email", Type: text},
			column{Name: "auth_type", Type: text, NotNull: true},
			column{Name: "auth_data", Type: colType{kind: kJSON}},
			column{Name: "created_at", Type: ts, NotNull: true},
			column{Name: "updated_at", Type: ts, NotNull: true},
			column{Name: "deleted_at", Type: ts}),
		mk("schemas", "_kalam_v_schemas",
			column{Name: "table_id", Type: text, PK: true},
			column{Name: "table_name", Type: text, NotNull: true},
			column{Name: "namespace_id", Type: text, NotNull: true},
			column{Name: "table_type", Type: text, NotNull: true},
			column{Name: "created_at", Type: ts, NotNull: true},
			column{Name: "schema_version", Type: colType{kind: kInt}, NotNull: true},
			column{Name: "columns", Type: colType{kind: kJSON}, NotNull: true},
			column{Name: "table_comment", Type: text},
			column{Name: "updated_at", Type: ts, NotNull: true},
			column{Name: "options", Type: colType{kind: kJSON}},
			column{Name: "access_level", Type: text},
			column{Name: "is_latest", Type: colType{kind: kBoolean}, NotNull: true},
			column{Name: "storage_id", Type: text},
			column{Name: "use_user_storage", Type: colType{kind: kBoolean}}),
		mk("live", "_kalam_v_live",
			column{Name: "live_id", Type: text, PK: true},
			column{Name: "connection_id", Type: text, NotNull: true},
			column{Name: "subscription_id", Type: text, NotNull: true},
			column{Name: "namespace_id", Type: text, NotNull: true},
			column{Name: "table_name", Type: text, NotNull: true},
			column{Name: "user_id", Type: text, NotNull: true},
			column{Name: "query", Type: text, NotNull: true},
			column{Name: "options", Type: colType{kind: kJSON}},
			column{Name: "status", Type: text, NotNull: true},
			column{Name: "created_at", Type: ts, NotNull: true},
			column{Name: "last_update", Type: ts, NotNull: true},
			column{Name: "changes", Type: colType{kind: kBigInt}, NotNull: true},
			column{Name: "node_id", Type: colType{kind: kBigInt}, NotNull: true},
			column{Name: "last_ping_at", Type: ts, NotNull: true}),
		mk("namespaces", "_kalam_namespaces",
			column{Name: "namespace_id", Type: text, PK: true},
			column{Name: "created_at", Type: ts, NotNull: true}),
		mk("tables", "_kalam_tables",
			column{Name: "namespace_id", Type: text, PK: true},
			column{Name: "table_name", Type: text, PK: true},
			column{Name: "table_type", Type: text, NotNull: true},
			column{Name: "access_level", Type: text},
			column{Name: "created_at", Type: ts, NotNull: true}),
	} {
		m[t.full] = t
	}
	return m
}()

// reservedNamespaces cannot be created by users.
var reservedNamespaces = map[string]bool{
	"system": true, "sys": true, "root": true, "kalamdb": true, "kalam": true, "main": true,
	"default": true, "sql": true, "admin": true, "internal": true, "information_schema": true,
	"pg_catalog": true, "datafusion": true, "temp": true,
}

// validName reports whether s is a plain identifier: letters, digits and
// underscores, not starting with a digit.
func validName(s string) bool {
	if s == "" || len(s) > 128 || isDigit(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			return false
		}
	}
	return true
}

// forbiddenIdent reports identifiers user SQL may not use: they would reach
// the store's physical tables, bookkeeping or SQLite internals.
func forbiddenIdent(s string) bool {
	l := strings.ToLower(s)
	return strings.Contains(l, "#") || strings.HasPrefix(l, "_kalam") ||
		strings.HasPrefix(l, "sqlite_") || strings.HasPrefix(l, "pragma_")
}
