package sim

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/fsm"
	"github.com/kalamgo/kalam/transport/wire"
)

// Markers that every issued secret carries, so the secrets check is one
// substring search per formatted effect.
const (
	sigMarker = "SIMSIG"
	jwtHeader = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" // {"alg":"HS256","typ":"JWT"}
)

// row is the current version of a table row. grp never changes, so a
// subscription's WHERE grp = … filter is stable for a row.
type row struct {
	id      int64
	grp     string
	v       int64
	seq     int64
	deleted bool
}

// change is one row version written to a table.
type change struct {
	seq  int64
	kind string // insert, update, delete
	new  row
	old  row
}

type table struct {
	name string
	rows map[int64]*row
	ids  []int64 // insertion order, for deterministic picks
	log  []change
}

// server models KalamDB: tables, WebSocket connections with subscriptions,
// the SQL endpoint and token issuance. Its clock is the client's, skewed
// and running at a slightly different rate.
type server struct {
	s          *Sim
	seq        int64
	nextID     int64
	tables     map[string]*table
	tableNames []string
	conns      map[uint64]*sconn
	tokens     map[string]*token
	serial     int
	revoked    int // tokens with serial ≤ revoked are expired
	down       bool
	writeUntil time.Duration
	base       time.Time
	dropped    []dropped
}

type token struct {
	serial int
	exp    int64 // unix seconds, server clock
}

type sconn struct {
	l         *link
	authed    bool
	subs      map[string]*ssub
	order     []string
	lastFrame time.Duration
	gone      bool
	// KalamDB's limits (PROTOCOL.md §4.6, §4.9).
	unread int           // notifications sent while the client reads nothing, not yet read: the outgoing queue
	tokens float64       // the frame-rate bucket
	fillAt time.Duration // when tokens was last refilled
}

// KalamDB's limits the model enforces: the per-connection outgoing queue
// (128 notifications, dropped silently when full), text frames per second
// (a bucket of 50, answered with RATE_LIMIT_EXCEEDED), subscriptions per
// connection (100). The loading buffer (1,024 in KalamDB, dropping the
// oldest) is a per-seed knob, smaller in some seeds so overflows are
// common.
const (
	queueCap   = 128
	frameRate  = 50
	subsPerCon = 100
)

// dropped is a change the server did not deliver to a subscription.
type dropped struct {
	epoch uint64
	wire  string
	table string
	ch    change
	why   string
}

// ssub is a subscription registered on one connection.
type ssub struct {
	id        string
	table     *table
	grp       string // "" matches every row
	regSeq    int64  // the server's _seq when it was registered
	loading   bool
	batchSize int
	snapEnd   int64
	from      int64
	batchNum  uint32
	buffer    []change
}

var schema = []wire.SchemaField{
	{Name: "id", DataType: wire.DataType{Name: "BigInt"}, Index: 0, Flags: []string{"pk", "nn", "uq"}},
	{Name: "grp", DataType: wire.DataType{Name: "Text"}, Index: 1},
	{Name: "v", DataType: wire.DataType{Name: "BigInt"}, Index: 2},
	{Name: "_seq", DataType: wire.DataType{Name: "BigInt"}, Index: 3, Flags: []string{"nn"}},
	{Name: "_deleted", DataType: wire.DataType{Name: "Boolean"}, Index: 4, Flags: []string{"nn"}},
}

func newServer(s *Sim) *server {
	sv := &server{s: s, nextID: 1,
		tables: map[string]*table{}, conns: map[uint64]*sconn{}, tokens: map[string]*token{},
		base: time.Date(2026, 5, 5, 9, 0, 0, 0, time.UTC).Add(s.k.skew), writeUntil: 1 << 62}
	sv.seq = int64(wire.MakeSeqID(sv.base.UnixMilli()-1, 1, 0))
	for _, n := range []string{"app.t", "app.u", "shop.t"} {
		sv.tables[n] = &table{name: n, rows: map[int64]*row{}}
		sv.tableNames = append(sv.tableNames, n)
	}
	// Some rows exist before the client starts.
	for range s.rng.IntN(12) {
		sv.write(sv.tables[sv.tableNames[s.rng.IntN(3)]], "insert", 0)
	}
	return sv
}

// wall is the server's wall clock.
func (sv *server) wall() time.Time {
	return sv.base.Add(time.Duration(float64(sv.s.now) * sv.s.k.rate))
}

// --- tokens -------------------------------------------------------------------

// issue mints an access token (a JWT the client can read, never verify).
func (sv *server) issue() string {
	sv.serial++
	iat := sv.wall().Unix()
	exp := iat + int64(sv.s.k.tokenTTL/time.Second)
	claims := fmt.Sprintf(`{"sub":"alice","iss":"kalamdb","exp":%d,"iat":%d,"email":null,"role":"user","token_type":"access"}`, exp, iat)
	tok := jwtHeader + "." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + "." + fmt.Sprintf("%s%010d%016x", sigMarker, sv.serial, sv.s.rng.Uint64())
	sv.tokens[tok] = &token{serial: sv.serial, exp: exp}
	return tok
}

// login issues credentials as the client would read them at receipt.
func (sv *server) login(withRefresh bool) auth.Credentials {
	access := sv.issue()
	refresh := ""
	if withRefresh {
		refresh = jwtHeader + ".e30." + fmt.Sprintf("%sr%09d%016x", sigMarker, sv.serial, sv.s.rng.Uint64())
	}
	c, err := auth.FromTokensAt(access, refresh, sv.s.clientWall())
	if err != nil {
		sv.s.fail(fmt.Errorf("sim: FromTokensAt refused an issued token: %v", err))
	}
	return c
}

func (sv *server) revokeAll() { sv.revoked = sv.serial }

// check validates a token on the server's clock: "" when good, else the code.
func (sv *server) check(tok string) string {
	t := sv.tokens[tok]
	switch {
	case tok == "":
		return wire.CodeMissingAuthorization
	case t == nil:
		return wire.CodeInvalidCredentials
	case t.serial <= sv.revoked, sv.wall().Unix() > t.exp+int64(sv.s.k.leeway/time.Second):
		return wire.CodeTokenExpired
	}
	return ""
}

// --- data ----------------------------------------------------------------------

// nextSeq mints a _seq as KalamDB does: a Snowflake of the server's clock
// (skewed from the client's; its rate knob models token checks, not the
// Snowflake clock, which NTP keeps from drifting), strictly increasing.
func (sv *server) nextSeq() int64 {
	ms := sv.base.Add(sv.s.now).UnixMilli()
	sv.seq = max(sv.seq+1+sv.s.rng.Int64N(5), int64(wire.MakeSeqID(ms, 1, 0)))
	return sv.seq
}

// write applies one random change of kind to t (id 0: pick one) and fans
// it out. It reports the rows affected.
func (sv *server) write(t *table, kind string, id int64) int {
	var live []int64
	if kind != "insert" && id == 0 {
		for _, x := range t.ids {
			if !t.rows[x].deleted {
				live = append(live, x)
			}
		}
		if len(live) == 0 {
			kind = "insert"
		} else {
			id = live[sv.s.rng.IntN(len(live))]
		}
	}
	var ch change
	switch kind {
	case "insert":
		if id == 0 {
			id = sv.nextID
			sv.nextID++
		}
		if t.rows[id] != nil {
			return 0
		}
		r := &row{id: id, grp: []string{"a", "b"}[sv.s.rng.IntN(2)], v: sv.s.rng.Int64N(1000), seq: sv.nextSeq()}
		t.rows[id] = r
		t.ids = append(t.ids, id)
		ch = change{seq: r.seq, kind: kind, new: *r}
	case "update":
		r := t.rows[id]
		if r == nil || r.deleted {
			return 0
		}
		old := *r
		r.v = sv.s.rng.Int64N(1000)
		r.seq = sv.nextSeq()
		ch = change{seq: r.seq, kind: kind, new: *r, old: old}
	case "delete":
		r := t.rows[id]
		if r == nil || r.deleted {
			return 0
		}
		old := *r
		r.deleted = true
		r.seq = sv.nextSeq()
		ch = change{seq: r.seq, kind: kind, new: *r, old: old}
	}
	t.log = append(t.log, ch)
	sv.fanOut(t, ch)
	return 1
}

// startWriter runs the server-side writers (other users of the database).
func (sv *server) startWriter() {
	var next func()
	next = func() {
		if sv.s.isClosed || sv.s.now > sv.writeUntil {
			return
		}
		kind := []string{"insert", "insert", "update", "update", "delete"}[sv.s.rng.IntN(5)]
		sv.write(sv.tables[sv.tableNames[sv.s.rng.IntN(len(sv.tableNames))]], kind, 0)
		sv.s.after(sv.s.exp(sv.s.k.writeEvery), next)
	}
	sv.s.after(sv.s.exp(sv.s.k.writeEvery), next)
}

func rowJSON(r row) wire.Row {
	return wire.Row(fmt.Sprintf(`{"id":"%d","grp":%q,"v":"%d","_seq":"%d","_deleted":%t}`, r.id, r.grp, r.v, r.seq, r.deleted))
}

func (sv *server) changeMessage(sub string, ch change) *wire.ServerMessage {
	m := &wire.ServerMessage{Type: wire.TypeChange, SubscriptionID: sub, ChangeType: ch.kind}
	switch ch.kind {
	case "insert":
		m.Rows = []wire.Row{rowJSON(ch.new)}
	case "update":
		m.Rows = []wire.Row{wire.Row(fmt.Sprintf(`{"id":"%d","grp":%q,"v":"%d","_seq":"%d"}`, ch.new.id, ch.new.grp, ch.new.v, ch.new.seq))}
		m.OldValues = []wire.Row{wire.Row(fmt.Sprintf(`{"id":"%d","v":"%d","_seq":"%d"}`, ch.old.id, ch.old.v, ch.old.seq))}
	case "delete":
		m.OldValues = []wire.Row{rowJSON(ch.new)}
	}
	return m
}

func (sub *ssub) matches(r row) bool { return sub.grp == "" || r.grp == sub.grp }

// fanOut notifies every subscription on t: buffered while its initial load
// runs (changes at or below the snapshot are already in it), sent otherwise.
func (sv *server) fanOut(t *table, ch change) {
	for _, c := range sv.sortedConns() {
		if !c.authed {
			continue
		}
		for _, id := range c.order {
			sub := c.subs[id]
			if sub.table != t || !sub.matches(ch.new) {
				continue
			}
			if sub.loading {
				if ch.seq > sub.snapEnd {
					if len(sub.buffer) >= sv.s.k.loadCap {
						sv.drop(c, sub, sub.buffer[0], "loading buffer full")
						sub.buffer = sub.buffer[1:]
					}
					sub.buffer = append(sub.buffer, ch)
				}
				continue
			}
			if !sv.s.suspended() {
				sv.send(c, sv.changeMessage(sub.id, ch))
				continue
			}
			// The client reads nothing while it is suspended: its socket's
			// buffers fill (modelled as holding nothing) and the queue with
			// them.
			if c.unread >= queueCap {
				sv.drop(c, sub, ch, "outgoing queue full")
				continue
			}
			c.unread++
			sv.sendCounted(c, sv.changeMessage(sub.id, ch))
		}
	}
}

func (sv *server) sortedConns() []*sconn {
	eps := make([]uint64, 0, len(sv.conns))
	for ep := range sv.conns {
		eps = append(eps, ep)
	}
	slices.Sort(eps)
	out := make([]*sconn, len(eps))
	for i, ep := range eps {
		out[i] = sv.conns[ep]
	}
	return out
}

// --- WebSocket -------------------------------------------------------------------

func (sv *server) accept(l *link) *sconn {
	c := &sconn{l: l, subs: map[string]*ssub{}, lastFrame: sv.s.now}
	sv.conns[l.epoch] = c
	// The auth timeout (3 s, checked by a 5 s heartbeat) and the idle
	// timeout (10 s without a client frame).
	sv.s.after(3*time.Second+sv.s.jitter(5*time.Second), func() {
		if !c.gone && !c.authed {
			sv.send(c, &wire.ServerMessage{Type: wire.TypeAuthError, Message: "Authentication timeout - no auth message received within 3 seconds"})
			sv.s.serverClose(l, wire.ClosePolicy, "Authentication timeout")
		}
	})
	var beat func()
	beat = func() {
		if c.gone {
			return
		}
		if sv.s.now-c.lastFrame > 10*time.Second {
			sv.s.serverClose(l, wire.CloseNormal, "Heartbeat timeout")
			return
		}
		sv.s.after(5*time.Second, beat)
	}
	sv.s.after(5*time.Second, beat)
	return c
}

// forget drops the server's end of a connection and its subscriptions.
func (sv *server) forget(c *sconn) {
	c.gone = true
	delete(sv.conns, c.l.epoch)
}

func (sv *server) onActivity(c *sconn) { c.lastFrame = sv.s.now }

func (sv *server) drop(c *sconn, sub *ssub, ch change, why string) {
	sv.dropped = append(sv.dropped, dropped{epoch: c.l.epoch, wire: sub.id, table: sub.table.name, ch: ch, why: why})
	sv.s.chk.count("seen: server dropped a change, " + why)
}

// sendCounted sends a notification through the outgoing queue: it leaves
// the queue when the client reads it.
func (sv *server) sendCounted(c *sconn, m *wire.ServerMessage) {
	if c.gone {
		return
	}
	data, err := wire.Encode(m)
	if err != nil {
		sv.s.fail(fmt.Errorf("sim: encode %s: %v", m.Type, err))
		return
	}
	frame, binary := wire.Compress(data)
	sv.s.queued[&frame[0]] = c
	sv.s.sendDown(c.l, frame, binary)
}

// allow takes a token of c's frame-rate bucket, reporting false when it
// is empty.
func (sv *server) allow(c *sconn) bool {
	now := sv.s.now
	if c.fillAt == 0 && c.tokens == 0 {
		c.tokens = frameRate
	} else {
		c.tokens = min(frameRate, c.tokens+float64(now-c.fillAt)/float64(time.Second)*frameRate)
	}
	c.fillAt = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

func (sv *server) send(c *sconn, m *wire.ServerMessage) {
	if c.gone {
		return
	}
	data, err := wire.Encode(m)
	if err != nil {
		sv.s.fail(fmt.Errorf("sim: encode %s: %v", m.Type, err))
		return
	}
	frame, binary := wire.Compress(data)
	sv.s.sendDown(c.l, frame, binary)
}

func (sv *server) onFrame(c *sconn, data []byte) {
	if c.gone {
		return
	}
	c.lastFrame = sv.s.now
	if !sv.allow(c) {
		sv.s.chk.count("seen: server rate-limited a frame")
		sv.send(c, &wire.ServerMessage{Type: wire.TypeError, SubscriptionID: wire.PlaceholderRateLimit, Code: wire.CodeRateLimitExceeded, Message: "Rate limit exceeded"})
		return
	}
	m, err := wire.DecodeClient(data)
	if err != nil {
		sv.s.serverClose(c.l, wire.CloseInternalError, "Invalid message")
		return
	}
	switch m.Type {
	case wire.TypeAuthenticate:
		if c.authed {
			sv.send(c, &wire.ServerMessage{Type: wire.TypeAuthSuccess, User: "alice", Role: "user", Protocol: &wire.DefaultProtocol})
			return
		}
		if code := sv.check(m.Token); code != "" {
			sv.send(c, &wire.ServerMessage{Type: wire.TypeAuthError, Message: "Invalid credentials"})
			sv.s.serverClose(c.l, wire.ClosePolicy, "Authentication failed")
			return
		}
		c.authed = true
		sv.send(c, &wire.ServerMessage{Type: wire.TypeAuthSuccess, User: "alice", Role: "user", Protocol: &wire.DefaultProtocol})
	case wire.TypeSubscribe:
		sv.subscribe(c, m.Subscription)
	case wire.TypeNextBatch:
		if !c.authed {
			return
		}
		sub := c.subs[m.SubscriptionID]
		if sub == nil || !sub.loading {
			sv.send(c, &wire.ServerMessage{Type: wire.TypeError, SubscriptionID: m.SubscriptionID, Code: "BATCH_FETCH_FAILED", Message: "Batch fetch failed"})
			return
		}
		after := sub.from
		if m.LastSeqID != nil {
			after = int64(*m.LastSeqID)
		}
		sub.batchNum++
		sv.sendBatch(c, sub, after, false)
	case wire.TypeUnsubscribe:
		if c.subs[m.SubscriptionID] != nil {
			delete(c.subs, m.SubscriptionID)
			c.order = slices.DeleteFunc(c.order, func(id string) bool { return id == m.SubscriptionID })
		}
	}
}

// subscribe registers a subscription as KalamDB does (PROTOCOL.md §4.6).
func (sv *server) subscribe(c *sconn, req *wire.SubscriptionRequest) {
	if !c.authed {
		sv.send(c, &wire.ServerMessage{Type: wire.TypeError, SubscriptionID: wire.PlaceholderSubscribe, Code: wire.CodeAuthRequired, Message: "Authentication required"})
		return
	}
	t, grp, code := sv.parseLive(req.SQL)
	if code != "" {
		sv.send(c, &wire.ServerMessage{Type: wire.TypeError, SubscriptionID: req.ID, Code: code, Message: "Not found: table"})
		return
	}
	if c.subs[req.ID] == nil && len(c.subs) >= subsPerCon {
		sv.s.chk.count("seen: server refused a subscription over the per-connection cap")
		sv.send(c, &wire.ServerMessage{Type: wire.TypeError, SubscriptionID: req.ID, Code: wire.CodeUnsupported,
			Message: "Invalid operation: Maximum subscriptions (100) per connection exceeded"})
		return
	}
	if c.subs[req.ID] == nil {
		c.order = append(c.order, req.ID)
	}
	sub := &ssub{id: req.ID, table: t, grp: grp, regSeq: sv.seq}
	c.subs[req.ID] = sub
	sv.s.registered(c.l.epoch, sub)
	if req.Options == nil {
		sv.send(c, &wire.ServerMessage{Type: wire.TypeSubscriptionAck, SubscriptionID: req.ID, TotalRows: new(int),
			BatchControl: &wire.BatchControl{Status: wire.StatusReady}, Schema: schema})
		return
	}
	sub.batchSize = 1000
	if req.Options.BatchSize != nil {
		sub.batchSize = *req.Options.BatchSize
	}
	if from, ok := req.Options.ResumeFrom(); ok {
		sub.from = int64(from)
	}
	for _, id := range t.ids {
		if r := t.rows[id]; sub.matches(*r) && r.seq > sub.snapEnd {
			sub.snapEnd = r.seq
		}
	}
	sub.loading = true
	sv.sendBatch(c, sub, sub.from, true)
}

// sendBatch sends the next page of the initial load: rows with _seq in
// (after, snapEnd], not deleted, in _seq order.
func (sv *server) sendBatch(c *sconn, sub *ssub, after int64, withAck bool) {
	var rows []row
	for _, id := range sub.table.ids {
		r := sub.table.rows[id]
		if !r.deleted && sub.matches(*r) && r.seq > after && r.seq <= sub.snapEnd {
			rows = append(rows, *r)
		}
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(a.seq, b.seq) })
	more := false
	if len(rows) > sub.batchSize {
		rows, more = rows[:sub.batchSize], true
	}
	bc := &wire.BatchControl{BatchNum: sub.batchNum, HasMore: more, Status: wire.StatusReady}
	if more {
		bc.Status = "loading"
		if sub.batchNum > 0 {
			bc.Status = "loading_batch"
		}
	}
	out := make([]wire.Row, len(rows))
	for i, r := range rows {
		out[i] = rowJSON(r)
	}
	if len(rows) > 0 {
		last := wire.SeqID(rows[len(rows)-1].seq)
		bc.LastSeqID = &last
	}
	if withAck {
		sv.send(c, &wire.ServerMessage{Type: wire.TypeSubscriptionAck, SubscriptionID: sub.id, TotalRows: new(int), BatchControl: bc, Schema: schema})
	}
	sv.send(c, &wire.ServerMessage{Type: wire.TypeInitialDataBatch, SubscriptionID: sub.id, Rows: out, BatchControl: bc})
	if !more {
		sub.loading = false
		for _, ch := range sub.buffer {
			sv.send(c, sv.changeMessage(sub.id, ch))
		}
		sub.buffer = nil
	}
}

// parseLive reads SELECT * FROM ns.table [WHERE grp = 'x'].
func (sv *server) parseLive(sql string) (*table, string, string) {
	f := strings.Fields(sql)
	for i, w := range f {
		if strings.EqualFold(w, "FROM") && i+1 < len(f) {
			name := f[i+1]
			if !strings.Contains(name, ".") {
				return nil, "", "INVALID_SQL"
			}
			t := sv.tables[name]
			if t == nil {
				return nil, "", "NOT_FOUND"
			}
			grp := ""
			if i+5 < len(f) && strings.EqualFold(f[i+2], "WHERE") {
				grp = strings.Trim(f[i+5], "'")
			}
			return t, grp, ""
		}
	}
	return nil, "", "INVALID_SQL"
}

// --- HTTP ----------------------------------------------------------------------------

// sql runs one request of the application's fixed statement forms.
func (sv *server) sql(tok string, req wire.SQLRequest) (*wire.SQLResponse, *fsm.QueryError) {
	if code := sv.check(tok); code != "" {
		return nil, &fsm.QueryError{Status: 401, Code: code, Message: "Invalid credentials"}
	}
	ok := func(n int64, msg string) (*wire.SQLResponse, *fsm.QueryError) {
		return &wire.SQLResponse{Status: "success", Results: []wire.QueryResult{{RowCount: n, Message: msg, AsUser: "alice"}}}, nil
	}
	f := strings.Fields(req.SQL)
	ns := req.NamespaceID
	if ns == "" {
		ns = "default"
	}
	tableOf := func(name string) *table {
		if !strings.Contains(name, ".") {
			name = ns + "." + name
		}
		return sv.tables[name]
	}
	param := func(i int) int64 {
		if i < len(req.Params) {
			if v, ok := req.Params[i].(int64); ok {
				return v
			}
		}
		return -1
	}
	switch strings.ToUpper(f[0]) {
	case "USE":
		if len(f) == 2 && (f[1] == "app" || f[1] == "shop") {
			return ok(0, "Namespace set")
		}
	case "SELECT":
		return ok(1, "")
	case "INSERT":
		if t := tableOf(f[2]); t != nil {
			return ok(int64(sv.write(t, "insert", param(0))), "Inserted")
		}
	case "UPDATE":
		if t := tableOf(f[1]); t != nil {
			return ok(int64(sv.write(t, "update", param(0))), "Updated")
		}
	case "DELETE":
		if t := tableOf(f[2]); t != nil {
			return ok(int64(sv.write(t, "delete", param(0))), "Deleted")
		}
	}
	return nil, &fsm.QueryError{Status: 400, Code: wire.CodeSQLExecutionError, Message: "SQL statement failed"}
}

// clientWall is the client's wall clock (the server's is skewed from it).
func (s *Sim) clientWall() time.Time {
	return time.Date(2026, 5, 5, 9, 0, 0, 0, time.UTC).Add(s.now)
}
