package store

import (
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Virtual system tables are computed when a statement reads them, like
// KalamDB's system views: system.schemas from the catalog, system.live
// from the live-subscription registry the server hands over with
// SetLiveSource. Each lives in a TEMP table of the main connection
// ("_kalam_v_<name>", out of reach of user SQL like every _kalam name)
// behind a TEMP view "system.<name>"; a statement that names one refills
// its table first, inside the statement's lock. Result columns then carry
// their declared types, as with the other system views.

// LiveInfo describes one active subscription for system.live.
type LiveInfo struct {
	ConnectionID   string
	SubscriptionID string
	// Table is "ns.table".
	Table  string
	UserID string
	Query  string
	// Options is the subscription's options as JSON, "" for none.
	Options    string
	CreatedAt  time.Time
	LastUpdate time.Time
	LastPingAt time.Time
	Changes    int64
}

// SetLiveSource installs the function system.live reads the active
// subscriptions from; nil (the default) means none. The function is called
// with the store's statement lock held, so it must not call the Store.
func (s *Store) SetLiveSource(f func() []LiveInfo) {
	if f == nil {
		s.liveSource.Store(nil)
		return
	}
	s.liveSource.Store(&f)
}

// virtualFill computes the rows of a virtual table, in column order. Caller
// holds mu.
type virtualFill func(s *Store) ([][]any, error)

var virtualFills = map[string]virtualFill{
	"system.schemas": (*Store).schemaRows,
	"system.live":    (*Store).liveRows,
}

// virtualDDL creates the TEMP tables and views of the virtual tables.
func virtualDDL() []string {
	var out []string
	names := make([]string, 0, len(virtualFills))
	for n := range virtualFills {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := systemTables[n]
		var cols, list strings.Builder
		for i, c := range t.Cols {
			if i > 0 {
				cols.WriteString(", ")
				list.WriteString(", ")
			}
			cols.WriteString(quoteIdent(c.Name) + " " + c.Type.affinity())
			list.WriteString(quoteIdent(c.Name))
		}
		out = append(out,
			"CREATE TEMP TABLE IF NOT EXISTS "+quoteIdent(t.sysPhys)+" ("+cols.String()+")",
			"CREATE TEMP VIEW IF NOT EXISTS "+t.view+" AS SELECT "+list.String()+" FROM temp."+quoteIdent(t.sysPhys))
	}
	return out
}

// refreshVirtual refills the virtual tables among refs. Caller holds mu.
func (s *Store) refreshVirtual(refs []*tableDef) *failure {
	for _, t := range refs {
		fill := virtualFills[t.full]
		if fill == nil || t.Kind != tableSystem {
			continue
		}
		rows, err := fill(s)
		if err == nil {
			err = s.execArgs("DELETE FROM temp." + quoteIdent(t.sysPhys))
		}
		ins := "INSERT INTO temp." + quoteIdent(t.sysPhys) + " VALUES (?" + strings.Repeat(", ?", len(t.Cols)-1) + ")"
		for _, r := range rows {
			if err != nil {
				break
			}
			err = s.execArgs(ins, r...)
		}
		if err != nil {
			return execFail("reading "+t.full+": "+err.Error(), false)
		}
	}
	return nil
}

// schemaRows lists every table for system.schemas.
func (s *Store) schemaRows() ([][]any, error) {
	st, err := s.prepare(`SELECT namespace_id, table_name, created_at FROM _kalam_tables ORDER BY namespace_id, table_name`)
	if err != nil {
		return nil, err
	}
	defer st.Reset()
	var rows [][]any
	for st.Step() {
		t := s.tables[st.ColumnText(0)+"."+st.ColumnText(1)]
		if t == nil {
			continue
		}
		created := st.ColumnInt64(2)
		var access, storage, userStorage any
		if t.Kind == tableShared {
			access = t.Access
		}
		storage = "local"
		if t.Kind == tableUser {
			userStorage = int64(0)
		}
		rows = append(rows, []any{t.NS + ":" + t.Name, t.Name, t.NS, strings.ToLower(t.Kind.String()), created,
			int64(1), columnsJSON(t), nil, created, optionsJSON(t), access, int64(1), storage, userStorage})
	}
	if err := st.Err(); err != nil {
		return nil, errors.New(sqliteMessage(err))
	}
	return rows, nil
}

// columnsJSON renders a table's columns the way KalamDB serializes its
// column definitions.
func columnsJSON(t *tableDef) string {
	type colDef struct {
		ID        int             `json:"column_id"`
		Name      string          `json:"column_name"`
		Comment   *string         `json:"column_comment"`
		DataType  json.RawMessage `json:"data_type"`
		Default   any             `json:"default_value"`
		Ordinal   int             `json:"ordinal_position"`
		Nullable  bool            `json:"is_nullable"`
		PK        bool            `json:"is_primary_key"`
		Partition bool            `json:"is_partition_key"`
	}
	out := make([]colDef, len(t.Cols))
	for i, c := range t.Cols {
		dt := c.Type.dataType()
		raw := dt.Raw
		if raw == nil {
			raw = json.RawMessage(strconv.Quote(dt.Name))
		}
		out[i] = colDef{ID: i + 1, Name: c.Name, DataType: raw, Default: defaultJSON(c.Default),
			Ordinal: i + 1, Nullable: !c.NotNull, PK: c.PK}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// defaultJSON turns a stored DEFAULT (see defaultSQL) back into KalamDB's
// ColumnDefault form: "None", {"FunctionCall":{…}} or {"Literal":…}.
func defaultJSON(d string) any {
	switch {
	case d == "":
		return "None"
	case strings.HasSuffix(d, "()"):
		return map[string]any{"FunctionCall": map[string]any{"name": strings.ToUpper(strings.TrimSuffix(d, "()")), "args": []any{}}}
	case d == "NULL":
		return map[string]any{"Literal": nil}
	case strings.HasPrefix(d, "'"):
		return map[string]any{"Literal": strings.ReplaceAll(d[1:len(d)-1], "''", "'")}
	case strings.HasPrefix(d, "x'"):
		return map[string]any{"Literal": d}
	}
	return map[string]any{"Literal": json.RawMessage(d)}
}

// optionsJSON renders a table's options the way KalamDB serializes them.
func optionsJSON(t *tableDef) string {
	var m map[string]any
	switch t.Kind {
	case tableUser:
		m = map[string]any{"table_type": "USER", "storage_id": "local", "use_user_storage": false, "flush_policy": nil, "compression": "snappy"}
	case tableShared:
		m = map[string]any{"table_type": "SHARED", "storage_id": "local", "access_level": t.Access, "flush_policy": nil, "compression": "snappy"}
	default:
		m = map[string]any{"table_type": "STREAM", "ttl_seconds": t.TTL, "eviction_strategy": "time_based", "max_stream_size_bytes": 0, "compression": "snappy"}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// liveRows lists the active subscriptions for system.live.
func (s *Store) liveRows() ([][]any, error) {
	src := s.liveSource.Load()
	if src == nil {
		return nil, nil
	}
	infos := (*src)()
	rows := make([][]any, 0, len(infos))
	for _, l := range infos {
		ns, table, _ := strings.Cut(l.Table, ".")
		var opts any
		if l.Options != "" {
			opts = l.Options
		}
		rows = append(rows, []any{l.UserID + "-" + l.ConnectionID + "-" + l.SubscriptionID, l.ConnectionID,
			l.SubscriptionID, ns, table, l.UserID, l.Query, opts, "active", l.CreatedAt.UnixMicro(),
			l.LastUpdate.UnixMicro(), l.Changes, int64(1), l.LastPingAt.UnixMicro()})
	}
	return rows, nil
}
