package store

import (
	"errors"
	"strconv"
	"strings"
)

// ddl runs internal statements atomically (a savepoint, so it composes
// with an outer transaction). Caller holds mu.
func (s *Store) ddl(stmts []string) error {
	if err := s.db.Exec("SAVEPOINT kalam_ddl"); err != nil {
		return err
	}
	for _, q := range stmts {
		if err := s.db.Exec(q); err != nil {
			s.db.Exec("ROLLBACK TO kalam_ddl; RELEASE kalam_ddl")
			return err
		}
	}
	s.dropStmts()
	return s.db.Exec("RELEASE kalam_ddl")
}

func requireAdmin(st *execState, action string) *failure {
	if isAdmin(st.sess.Role) {
		return nil
	}
	return denied("Unauthorized: Admin privileges (DBA or System role) required to " + action)
}

func (s *Store) createNamespace(st *execState, p *plan) (string, *failure) {
	if f := requireAdmin(st, "create namespace"); f != nil {
		return "", f
	}
	name := p.name
	if !validName(name) {
		return "", execFail("Invalid operation: Invalid namespace name '"+name+
			"'. Only alphanumeric characters and underscores are allowed", true)
	}
	s.catMu.RLock()
	exists := s.namespaces[name]
	s.catMu.RUnlock()
	if exists {
		if p.ifNotExists {
			return "Namespace '" + name + "' already exists", nil
		}
		return "", execFail("Already exists: Namespace '"+name+"' already exists", true)
	}
	if reservedNamespaces[name] {
		return "", execFail("Invalid operation: Namespace name '"+name+"' is reserved", true)
	}
	if err := s.execArgs(`INSERT INTO _kalam_namespaces VALUES (?, ?)`, name, s.now().UnixMicro()); err != nil {
		return "", execFail(err.Error(), false)
	}
	s.catMu.Lock()
	s.namespaces[name] = true
	s.catMu.Unlock()
	return "Namespace '" + name + "' created successfully", nil
}

func (s *Store) dropNamespace(st *execState, p *plan) (string, *failure) {
	if f := requireAdmin(st, "drop namespace"); f != nil {
		return "", f
	}
	name := p.name
	if name == defaultNamespace || reservedNamespaces[name] {
		return "", execFail("Invalid operation: Cannot drop system namespace '"+name+"'", true)
	}
	s.catMu.RLock()
	exists := s.namespaces[name]
	var tables []*tableDef
	for _, t := range s.tables {
		if t.NS == name {
			tables = append(tables, t)
		}
	}
	s.catMu.RUnlock()
	if !exists {
		if p.ifExists {
			return "Namespace '" + name + "' does not exist", nil
		}
		return "", execFail("Not found: Namespace '"+name+"' does not exist", true)
	}
	if len(tables) > 0 && !p.cascade {
		return "", execFail("Invalid operation: Namespace '"+name+"' contains "+strconv.Itoa(len(tables))+
			" table(s). Drop them first or use DROP NAMESPACE "+name+" CASCADE", true)
	}
	var stmts []string
	for _, t := range tables {
		stmts = append(stmts, t.dropDDL()...)
	}
	stmts = append(stmts,
		"DELETE FROM _kalam_tables WHERE namespace_id = "+quoteString(name),
		"DELETE FROM _kalam_namespaces WHERE namespace_id = "+quoteString(name))
	if err := s.ddl(stmts); err != nil {
		return "", execFail(sqliteMessage(err), false)
	}
	s.catMu.Lock()
	delete(s.namespaces, name)
	for _, t := range tables {
		delete(s.tables, t.full)
	}
	s.catMu.Unlock()
	return "Namespace '" + name + "' dropped successfully", nil
}

func (s *Store) createTable(st *execState, p *plan) (string, *failure) {
	ns := p.table.ns
	if ns == "" {
		ns = st.ns
	}
	name := p.table.name
	kind := p.tkind
	if v, ok := p.options["type"]; ok {
		switch strings.ToUpper(v) {
		case "USER":
			kind = tableUser
		case "SHARED":
			kind = tableShared
		case "STREAM":
			kind = tableStream
		default:
			return "", execFail("Invalid operation: Invalid table TYPE '"+v+"'", true)
		}
	}
	if kind == 0 {
		kind = tableShared // KalamDB's default for plain CREATE TABLE
	}
	role := st.sess.Role
	if kind == tableShared && (role == roleUser || role == roleService) && ns == st.sess.User {
		kind = tableUser
	}
	if kind == tableShared && role == roleUser {
		return "", denied("Unauthorized: Insufficient privileges to create Shared tables")
	}
	if ns == "system" {
		return "", execFail("Invalid operation: Cannot create system table 'system."+name+
			"'. System tables are managed internally.", true)
	}
	if !validName(name) {
		return "", execFail("Invalid operation: Invalid table name '"+name+
			"'. Only alphanumeric characters and underscores are allowed.", true)
	}
	full := ns + "." + name
	s.catMu.RLock()
	nsExists := s.namespaces[ns]
	_, exists := s.tables[full]
	s.catMu.RUnlock()
	if !nsExists {
		return "", execFail("Invalid operation: Namespace '"+ns+"' does not exist. Create it first with CREATE NAMESPACE "+ns, true)
	}
	if exists {
		if p.ifNotExists {
			return "Table " + full + " already exists (IF NOT EXISTS)", nil
		}
		return "", execFail("Already exists: Table "+full+" already exists", true)
	}

	t, f := buildTable(ns, name, kind, p)
	if f != nil {
		return "", f
	}
	stmts := append(t.ddl(), "INSERT INTO _kalam_tables VALUES ("+quoteString(ns)+", "+quoteString(name)+", "+
		quoteString(kind.String())+", "+nullableString(t.Access)+", "+quoteString(t.marshal())+", "+
		strconv.FormatInt(s.now().UnixMicro(), 10)+")")
	if err := s.ddl(stmts); err != nil {
		return "", execFail("CREATE TABLE failed: "+sqliteMessage(err), true)
	}
	s.catMu.Lock()
	s.tables[full] = t
	s.catMu.Unlock()
	return kind.String() + " table " + full + " created successfully", nil
}

func nullableString(s string) string {
	if s == "" {
		return "NULL"
	}
	return quoteString(s)
}

// buildTable validates a CREATE TABLE and builds its definition.
func buildTable(ns, name string, kind tableKind, p *plan) (*tableDef, *failure) {
	if len(p.cols) == 0 {
		return nil, execFail("Invalid operation: a table needs at least one column", true)
	}
	if len(p.cols) > maxColumns {
		return nil, execFail("Invalid operation: at most "+strconv.Itoa(maxColumns)+" columns are supported", true)
	}
	cols := make([]column, 0, len(p.cols))
	seen := map[string]bool{}
	for _, c := range p.cols {
		l := strings.ToLower(c.name)
		if isSystemColumn(l) || forbiddenIdent(l) {
			return nil, execFail("System column violation: column name '"+c.name+"' is reserved", true)
		}
		if !validName(c.name) {
			return nil, execFail("Invalid operation: Invalid column name '"+c.name+
				"'. Only alphanumeric characters and underscores are allowed.", true)
		}
		if seen[l] {
			return nil, execFail("Invalid operation: duplicate column '"+c.name+"'", true)
		}
		seen[l] = true
		col := column{Name: c.name, Type: c.typ, PK: c.pk, NotNull: c.notNull || c.pk, Unique: c.unique || c.pk}
		if len(c.def) > 0 {
			d, f := defaultSQL(c.def, c.typ)
			if f != nil {
				return nil, execFail("Invalid operation: invalid DEFAULT for column '"+c.name+"': "+f.msg, true)
			}
			col.Default = d
		}
		cols = append(cols, col)
	}
	for _, pk := range p.pkCols {
		found := false
		for i := range cols {
			if strings.EqualFold(cols[i].Name, pk) {
				cols[i].PK, cols[i].NotNull, cols[i].Unique, found = true, true, true, true
			}
		}
		if !found {
			return nil, execFail("Invalid operation: PRIMARY KEY column '"+pk+"' is not defined", true)
		}
	}
	t := newTableDef(ns, name, kind, cols)
	if len(t.pk) == 0 && kind != tableStream {
		return nil, execFail("Invalid operation: "+kind.String()+" tables require a PRIMARY KEY column", true)
	}
	if kind == tableShared {
		t.Access = accessPrivate
		if v, ok := p.options["access_level"]; ok {
			switch strings.ToLower(v) {
			case accessPublic, accessPrivate, accessRestricted:
				t.Access = strings.ToLower(v)
			default:
				return nil, execFail("Invalid operation: Invalid ACCESS_LEVEL '"+v+"'", true)
			}
		}
	} else if _, ok := p.options["access_level"]; ok {
		return nil, execFail("Invalid operation: ACCESS_LEVEL is only valid for SHARED tables", true)
	}
	if kind == tableStream {
		v, ok := p.options["ttl_seconds"]
		ttl, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil || ttl <= 0 {
			return nil, execFail("Invalid operation: STREAM tables require TTL clause (e.g., TTL 3600)", true)
		}
		t.TTL = ttl
	}
	return t, nil
}

// defaultFuncs are the functions a DEFAULT may call (SQLite only accepts
// them when they are registered on every connection that opens the file).
var defaultFuncs = map[string]string{
	"now": "now()", "current_timestamp": "now()", "snowflake_id": "snowflake_id()",
	"uuid_v7": "uuid_v7()", "ulid": "ulid()", "current_user": "current_user()",
}

// defaultSQL translates a DEFAULT expression: a literal (converted to the
// column's storage form) or one of KalamDB's default functions.
func defaultSQL(toks []token, t colType) (string, *failure) {
	if len(toks) == 1 || (len(toks) == 3 && toks[1].isPunct("(") && toks[2].isPunct(")")) {
		tk := toks[0]
		if tk.kind == tkWord {
			if fn, ok := defaultFuncs[strings.ToLower(tk.text)]; ok {
				return fn, nil
			}
		}
	}
	if len(toks) == 1 || (len(toks) == 2 && toks[0].isPunct("-") && toks[1].kind == tkNumber) {
		tk := toks[len(toks)-1]
		var v any
		switch {
		case tk.kind == tkString:
			v = tk.text
		case tk.kind == tkNumber:
			txt := tk.text
			if len(toks) == 2 {
				txt = "-" + txt
			}
			if n, err := strconv.ParseInt(txt, 10, 64); err == nil {
				v = n
			} else if f, err := strconv.ParseFloat(txt, 64); err == nil {
				v = f
			} else {
				return "", invalidSQL("bad number")
			}
		case tk.is("NULL"):
			return "NULL", nil
		case tk.is("TRUE"):
			v = int64(1)
		case tk.is("FALSE"):
			v = int64(0)
		default:
			return "", invalidSQL("unsupported expression")
		}
		if cv := t.conv(); cv != "" {
			var msg string
			if v, msg = convertIn(cv, v); msg != "" {
				return "", invalidSQL(msg)
			}
		}
		return sqlLiteral(v), nil
	}
	return "", invalidSQL("only literals and NOW(), SNOWFLAKE_ID(), UUID_V7(), ULID(), CURRENT_USER() are supported")
}

// sqlLiteral renders a Go value as an SQLite literal.
func sqlLiteral(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return quoteString(x)
	case []byte:
		return "x'" + formatHex(x) + "'"
	}
	return "NULL"
}

func formatHex(b []byte) string {
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return string(out)
}

func (s *Store) dropTable(st *execState, p *plan) (string, *failure) {
	ns := p.table.ns
	if ns == "" {
		ns = st.ns
	}
	full := ns + "." + p.table.name
	if ns == "system" {
		return "", execFail("Invalid operation: Cannot drop system table '"+full+"'. System tables are managed internally.", true)
	}
	if !isAdmin(st.sess.Role) {
		return "", denied("Unauthorized: Insufficient privileges to drop this table")
	}
	s.catMu.RLock()
	t := s.tables[full]
	s.catMu.RUnlock()
	if t == nil {
		if p.ifExists {
			return "Table " + full + " does not exist (skipped)", nil
		}
		return "", tableNotFound(full)
	}
	stmts := append(t.dropDDL(), "DELETE FROM _kalam_tables WHERE namespace_id = "+quoteString(t.NS)+
		" AND table_name = "+quoteString(t.Name))
	if err := s.ddl(stmts); err != nil {
		return "", execFail("DROP TABLE failed: "+sqliteMessage(err), false)
	}
	s.catMu.Lock()
	delete(s.tables, full)
	s.catMu.Unlock()
	return "Table " + full + " dropped successfully", nil
}

// runUserDDL runs CREATE/ALTER/DROP USER. None of its messages contain the
// password.
func (s *Store) runUserDDL(st *execState, p *plan) (string, *failure) {
	name := p.name
	self := name == st.sess.User
	switch p.kind {
	case pCreateUser:
		if f := requireAdmin(st, "create users"); f != nil {
			return "", f
		}
		if !validUserID(name) {
			return "", execFail("Invalid operation: invalid user name", true)
		}
		if !validRole(p.role) {
			return "", execFail("Invalid operation: invalid role '"+p.role+"' (user, service, dba or system)", true)
		}
		pw := ""
		if p.password != nil {
			pw = *p.password
		}
		if len(pw) > maxPassword {
			return "", execFail("Invalid operation: password too long", true)
		}
		s.usersMu.RLock()
		_, exists := s.users[name]
		s.usersMu.RUnlock()
		if exists {
			return "", execFail("Already exists: User '"+name+"' already exists", true)
		}
		var email *string
		if p.hasEmail {
			email = &p.email
		}
		authData := ""
		if p.authType == authOAuth {
			var f *failure
			if authData, f = oauthData(p); f != nil {
				return "", f
			}
		}
		if err := s.insertUserAuth(name, pw, p.role, email, p.authType, authData); err != nil {
			return "", execFail("CREATE USER failed", false)
		}
		return "User '" + name + "' created", nil
	case pAlterUser:
		if !(isAdmin(st.sess.Role) || (self && p.alterWhat == "password")) {
			return "", denied("Unauthorized: Admin privileges (DBA or System role) required to alter users")
		}
		var err error
		switch p.alterWhat {
		case "password":
			if *p.password == "" || len(*p.password) > maxPassword {
				return "", execFail("Invalid operation: invalid password", true)
			}
			err = s.updateUser(name, func(u *userRec) (string, any, error) {
				h, err := hashPassword(*p.password)
				u.hash = h
				return "password_hash", h, err
			})
		case "role":
			if !validRole(p.role) {
				return "", execFail("Invalid operation: invalid role '"+p.role+"' (user, service, dba or system)", true)
			}
			err = s.updateUser(name, func(u *userRec) (string, any, error) {
				u.info.Role = p.role
				return "role", p.role, nil
			})
		case "email":
			err = s.updateUser(name, func(u *userRec) (string, any, error) {
				e := p.email
				u.info.Email = &e
				return "email", e, nil
			})
		}
		if errors.Is(err, ErrUserNotFound) {
			return "", execFail("Not found: User '"+name+"' not found", true)
		}
		if err != nil {
			return "", execFail("ALTER USER failed", false)
		}
		return "User '" + name + "' updated", nil
	default:
		if f := requireAdmin(st, "drop users"); f != nil {
			return "", f
		}
		if name == rootUser || self {
			return "", execFail("Invalid operation: Cannot drop user '"+name+"'", true)
		}
		err := s.deleteUser(name)
		if errors.Is(err, ErrUserNotFound) {
			if p.ifExists {
				return "User '" + name + "' does not exist (skipped)", nil
			}
			return "", execFail("Not found: User '"+name+"' not found", true)
		}
		if err != nil {
			return "", execFail("DROP USER failed", false)
		}
		return "User '" + name + "' dropped (soft delete)", nil
	}
}
