package store

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/kalamgo/kalam/transport/wire"
)

// Topic SQL:
//
//	CREATE TOPIC t [PARTITIONS n]
//	DROP TOPIC t
//	ALTER TOPIC t ADD SOURCE ns.table ON INSERT|UPDATE|DELETE [WHERE …] [WITH (payload = 'key'|'full'|'diff')]
//	CONSUME FROM t [GROUP 'g'] [PARTITION p] [FROM LATEST|EARLIEST|n] [LIMIT n]
//	ACK t GROUP 'g' [PARTITION p] UPTO OFFSET n
//
// Topic management needs the dba or system role; CONSUME and ACK need
// service, dba or system. A topic statement must be the only statement of
// its request.

const defaultConsumeLimit = 100

// isTopicStatement reports whether toks start a topic statement.
func isTopicStatement(toks []token) bool {
	if len(toks) == 0 {
		return false
	}
	first := toks[0]
	switch {
	case first.is("CONSUME"), first.is("ACK"):
		return true
	case first.is("CREATE"), first.is("DROP"), first.is("ALTER"):
		return len(toks) > 1 && toks[1].is("TOPIC")
	}
	return false
}

// execTopic runs sql when it is a topic statement; ok is false otherwise.
func (s *Store) execTopic(sess Session, sql string, toks []token) (res Result, err error, ok bool) {
	stmts := split(toks)
	if len(stmts) == 0 || !isTopicStatement(stmts[0]) {
		return Result{}, nil, false
	}
	admin := isAdmin(sess.Role)
	if len(stmts) > 1 {
		f := invalidSQL("Topic statements must be sent alone, not in a batch")
		f.safe = true
		return Result{}, f.toError(0, admin, ""), true
	}
	p := &parser{src: sql, toks: stmts[0]}
	var qr wire.QueryResult
	var f *failure
	switch {
	case p.accept("CREATE"):
		qr, f = s.createTopic(sess, p)
	case p.accept("DROP"):
		qr, f = s.dropTopic(sess, p)
	case p.accept("ALTER"):
		qr, f = s.alterTopic(sess, p)
	case p.accept("CONSUME"):
		qr, f = s.consumeSQL(sess, p)
	default:
		p.next()
		qr, f = s.ackSQL(sess, p)
	}
	if f != nil {
		return Result{}, f.toError(1, admin, ""), true
	}
	qr.AsUser = sess.User
	return Result{Results: []wire.QueryResult{qr}, Streamed: qr.Schema != nil}, nil, true
}

// topicName reads a topic id: a dotted identifier or a string literal.
func (p *parser) topicName() (string, *failure) {
	if t := p.peek(); t.kind == tkString {
		p.next()
		if t.text == "" {
			return "", invalidSQL("Topic name must not be empty")
		}
		return t.text, nil
	}
	var parts []string
	for {
		id, f := p.ident("a topic name")
		if f != nil {
			return "", f
		}
		parts = append(parts, id)
		if !p.acceptPunct(".") {
			break
		}
	}
	return strings.Join(parts, "."), nil
}

func (p *parser) uintLit(what string) (uint64, *failure) {
	t := p.peek()
	if t.kind != tkNumber {
		return 0, p.fail(what)
	}
	n, err := strconv.ParseUint(t.text, 10, 64)
	if err != nil {
		return 0, invalidSQL("Invalid " + what + ": " + t.text)
	}
	p.next()
	return n, nil
}

func needAdmin(sess Session) *failure {
	if !isAdmin(sess.Role) {
		return denied("Admin privileges (DBA or System role) required for topic management")
	}
	return nil
}

func needConsumer(sess Session, what string) *failure {
	switch sess.Role {
	case roleService, roleDBA, roleSystem:
		return nil
	}
	return denied("Topic " + what + " requires service, dba, or system role")
}

func messageResult(msg string) wire.QueryResult {
	return wire.QueryResult{Message: msg}
}

func topicMissing(id string) *failure {
	return &failure{status: http.StatusNotFound, code: wire.CodeNotFound, msg: "Topic '" + id + "' does not exist", safe: true, prefix: true}
}

func (s *Store) createTopic(sess Session, p *parser) (wire.QueryResult, *failure) {
	if f := p.expect("TOPIC"); f != nil {
		return wire.QueryResult{}, f
	}
	id, f := p.topicName()
	if f != nil {
		return wire.QueryResult{}, f
	}
	parts := uint64(1)
	if p.accept("PARTITIONS") {
		if parts, f = p.uintLit("a partition count"); f != nil {
			return wire.QueryResult{}, f
		}
		if parts == 0 || parts > 1024 {
			return wire.QueryResult{}, execFail("Partition count must be between 1 and 1024", true)
		}
	}
	if f := p.expectEnd(); f != nil {
		return wire.QueryResult{}, f
	}
	if f := needAdmin(sess); f != nil {
		return wire.QueryResult{}, f
	}
	unlock, f := s.lockTopics()
	if f != nil {
		return wire.QueryResult{}, f
	}
	defer unlock()
	if s.topics.topics[id] != nil {
		return wire.QueryResult{}, execFail("Topic '"+id+"' already exists", true)
	}
	if err := s.execArgs(`INSERT INTO _kalam_topics VALUES (?, ?, ?)`, id, int64(parts), s.now().UnixMilli()); err != nil {
		return wire.QueryResult{}, execFail("Failed to create topic: "+err.Error(), false)
	}
	s.topics.topics[id] = &topicDef{id: id, partitions: uint32(parts)}
	return messageResult("Topic '" + id + "' created with " + strconv.FormatUint(parts, 10) + " partition(s)"), nil
}

func (s *Store) dropTopic(sess Session, p *parser) (wire.QueryResult, *failure) {
	if f := p.expect("TOPIC"); f != nil {
		return wire.QueryResult{}, f
	}
	id, f := p.topicName()
	if f != nil {
		return wire.QueryResult{}, f
	}
	if f := p.expectEnd(); f != nil {
		return wire.QueryResult{}, f
	}
	if f := needAdmin(sess); f != nil {
		return wire.QueryResult{}, f
	}
	unlock, f := s.lockTopics()
	if f != nil {
		return wire.QueryResult{}, f
	}
	defer unlock()
	if s.topics.topics[id] == nil {
		return wire.QueryResult{}, topicMissing(id)
	}
	for _, q := range []string{`DELETE FROM _kalam_topics WHERE id = ?`, `DELETE FROM _kalam_topic_sources WHERE topic = ?`,
		`DELETE FROM _kalam_topic_messages WHERE topic = ?`, `DELETE FROM _kalam_topic_offsets WHERE topic = ?`} {
		if err := s.execArgs(q, id); err != nil {
			return wire.QueryResult{}, execFail("Failed to drop topic: "+err.Error(), false)
		}
	}
	delete(s.topics.topics, id)
	for k := range s.topics.next {
		if k.topic == id {
			delete(s.topics.next, k)
		}
	}
	for k := range s.topics.groups {
		if k.topic == id {
			delete(s.topics.groups, k)
		}
	}
	return messageResult("Topic '" + id + "' dropped"), nil
}

func (s *Store) alterTopic(sess Session, p *parser) (wire.QueryResult, *failure) {
	if f := p.expect("TOPIC"); f != nil {
		return wire.QueryResult{}, f
	}
	id, f := p.topicName()
	if f != nil {
		return wire.QueryResult{}, f
	}
	if f := p.expect("ADD"); f != nil {
		return wire.QueryResult{}, f
	}
	if f := p.expect("SOURCE"); f != nil {
		return wire.QueryResult{}, f
	}
	ref, f := p.tableRef()
	if f != nil {
		return wire.QueryResult{}, f
	}
	if f := p.expect("ON"); f != nil {
		return wire.QueryResult{}, f
	}
	var op string
	switch {
	case p.accept("INSERT"):
		op = wire.TopicOpInsert
	case p.accept("UPDATE"):
		op = wire.TopicOpUpdate
	case p.accept("DELETE"):
		op = wire.TopicOpDelete
	default:
		return wire.QueryResult{}, p.fail("INSERT, UPDATE or DELETE")
	}
	cond := ""
	if p.accept("WHERE") {
		ct := p.until(func(t token) bool { return t.is("WITH") })
		if len(ct) == 0 {
			return wire.QueryResult{}, p.fail("a condition")
		}
		cond = srcText(p.src, ct)
	}
	payload := payloadFull
	if p.accept("WITH") {
		if payload, f = p.payloadOption(); f != nil {
			return wire.QueryResult{}, f
		}
	}
	if f := p.expectEnd(); f != nil {
		return wire.QueryResult{}, f
	}
	if f := needAdmin(sess); f != nil {
		return wire.QueryResult{}, f
	}
	return s.addSource(id, topicSource{table: ref.resolve(sess.Namespace), op: op, cond: cond, payload: payload})
}

// payloadOption reads "(payload = 'key'|'full'|'diff')".
func (p *parser) payloadOption() (string, *failure) {
	if f := p.expectPunct("("); f != nil {
		return "", f
	}
	if !p.accept("PAYLOAD") {
		return "", p.fail("payload")
	}
	if f := p.expectPunct("="); f != nil {
		return "", f
	}
	t := p.peek()
	if t.kind != tkString && t.kind != tkWord {
		return "", p.fail("'key', 'full' or 'diff'")
	}
	p.next()
	mode := strings.ToLower(t.text)
	switch mode {
	case payloadKey, payloadFull, payloadDiff:
	default:
		return "", invalidSQL("Invalid payload mode '" + t.text + "': expected 'key', 'full' or 'diff'")
	}
	if f := p.expectPunct(")"); f != nil {
		return "", f
	}
	return mode, nil
}

func (s *Store) addSource(id string, src topicSource) (wire.QueryResult, *failure) {
	unlock, f := s.lockTopics()
	if f != nil {
		return wire.QueryResult{}, f
	}
	defer unlock()
	t := s.topics.topics[id]
	if t == nil {
		return wire.QueryResult{}, topicMissing(id)
	}
	def := s.tables[src.table]
	if def == nil || def.sysPhys != "" {
		return wire.QueryResult{}, tableNotFound(src.table)
	}
	if src.cond != "" {
		q, e := topicFilterSQL(def, src.cond)
		if e != nil {
			return wire.QueryResult{}, invalidSQL("Invalid source filter: " + e.Message)
		}
		if _, err := s.evalFilter(q, make([]any, len(def.Cols)), 0, 0); err != nil {
			return wire.QueryResult{}, invalidSQL("Invalid source filter: " + sqliteMessage(err))
		}
		src.evalSQL = q
	}
	for _, x := range t.sources {
		if x.table == src.table && x.op == src.op {
			return wire.QueryResult{}, execFail("Topic '"+id+"' already has a source "+src.table+" ON "+strings.ToUpper(src.op), true)
		}
	}
	if err := s.execArgs(`INSERT INTO _kalam_topic_sources VALUES (?, ?, ?, ?, ?)`, id, src.table, src.op, src.cond, src.payload); err != nil {
		return wire.QueryResult{}, execFail("Failed to add source: "+err.Error(), false)
	}
	t.sources = append(t.sources, src)
	return messageResult("Source " + src.table + " ON " + strings.ToUpper(src.op) + " added to topic '" + id + "'"), nil
}

// storeFailure turns an error of Consume/Ack into a statement failure.
func storeFailure(err error) *failure {
	var e *Error
	if errors.As(err, &e) {
		code := e.Code
		if code == wire.TopicCodeInternal {
			code = wire.CodeSQLExecutionError
		}
		return &failure{status: e.Status, code: code, msg: e.Message, safe: true, prefix: true, cause: e.cause}
	}
	return execFail(err.Error(), false)
}

func (s *Store) consumeSQL(sess Session, p *parser) (wire.QueryResult, *failure) {
	if f := p.expect("FROM"); f != nil {
		return wire.QueryResult{}, f
	}
	id, f := p.topicName()
	if f != nil {
		return wire.QueryResult{}, f
	}
	a := ConsumeArgs{Topic: id, Limit: defaultConsumeLimit}
	for !p.eof() {
		switch {
		case p.accept("GROUP"):
			if a.Group, f = p.name("a group name"); f != nil {
				return wire.QueryResult{}, f
			}
		case p.accept("PARTITION"):
			n, f := p.uintLit("a partition")
			if f != nil {
				return wire.QueryResult{}, f
			}
			a.Partition = uint32(n)
		case p.accept("FROM"):
			switch {
			case p.accept("LATEST"):
				a.Start = wire.TopicStart{Kind: wire.StartLatest}
			case p.accept("EARLIEST"):
				a.Start = wire.TopicStart{Kind: wire.StartEarliest}
			default:
				n, f := p.uintLit("LATEST, EARLIEST or an offset")
				if f != nil {
					return wire.QueryResult{}, f
				}
				a.Start = wire.TopicStart{Kind: wire.StartOffset, Offset: n}
			}
		case p.accept("LIMIT"):
			n, f := p.uintLit("a limit")
			if f != nil {
				return wire.QueryResult{}, f
			}
			a.Limit = int(min(n, 10000))
		default:
			return wire.QueryResult{}, invalidSQL("SQL parse error: unexpected " + p.near())
		}
	}
	if f := needConsumer(sess, "consumption"); f != nil {
		return wire.QueryResult{}, f
	}
	if s.closed.Load() {
		return wire.QueryResult{}, closedFailure()
	}
	r, err := s.Consume(a)
	if err != nil {
		return wire.QueryResult{}, storeFailure(err)
	}
	return consumeResult(id, r), nil
}

// consumeResult lays a page out as rows: topic, partition, offset, key,
// payload (base64), timestamp_ms, user, op.
func consumeResult(id string, r ConsumeResult) wire.QueryResult {
	typ := func(n string) wire.DataType { return wire.DataType{Name: n} }
	names := []struct{ n, t string }{{"topic", wire.TypeText}, {"partition", wire.TypeInt}, {"offset", wire.TypeBigInt},
		{"key", wire.TypeText}, {"payload", wire.TypeText}, {"timestamp_ms", wire.TypeBigInt}, {"user", wire.TypeText}, {"op", wire.TypeText}}
	res := wire.QueryResult{Rows: [][]json.RawMessage{}}
	for i, c := range names {
		res.Schema = append(res.Schema, wire.SchemaField{Name: c.n, DataType: typ(c.t), Index: i})
	}
	null := json.RawMessage("null")
	for _, m := range r.Messages {
		user := null
		if m.User != "" {
			user = jsonText(m.User)
		}
		res.Rows = append(res.Rows, []json.RawMessage{jsonText(id), json.RawMessage(strconv.FormatUint(uint64(m.Partition), 10)),
			json.RawMessage(strconv.FormatUint(m.Offset, 10)), null, jsonText(base64.StdEncoding.EncodeToString(m.Payload)),
			json.RawMessage(strconv.FormatInt(m.TimestampMs, 10)), user, jsonText(m.Op)})
	}
	res.RowCount = int64(len(res.Rows))
	return res
}

func (s *Store) ackSQL(sess Session, p *parser) (wire.QueryResult, *failure) {
	id, f := p.topicName()
	if f != nil {
		return wire.QueryResult{}, f
	}
	if f := p.expect("GROUP"); f != nil {
		return wire.QueryResult{}, f
	}
	group, f := p.name("a group name")
	if f != nil {
		return wire.QueryResult{}, f
	}
	var part uint64
	if p.accept("PARTITION") {
		if part, f = p.uintLit("a partition"); f != nil {
			return wire.QueryResult{}, f
		}
	}
	if f := p.expect("UPTO"); f != nil {
		return wire.QueryResult{}, f
	}
	if f := p.expect("OFFSET"); f != nil {
		return wire.QueryResult{}, f
	}
	upto, f := p.uintLit("an offset")
	if f != nil {
		return wire.QueryResult{}, f
	}
	if f := p.expectEnd(); f != nil {
		return wire.QueryResult{}, f
	}
	if f := needConsumer(sess, "acknowledgment"); f != nil {
		return wire.QueryResult{}, f
	}
	if err := s.Ack(id, group, uint32(part), upto); err != nil {
		return wire.QueryResult{}, storeFailure(err)
	}
	return messageResult("Acknowledged offset " + strconv.FormatUint(upto, 10) + " for group '" + group +
		"' on topic '" + id + "' partition " + strconv.FormatUint(part, 10)), nil
}

// closedFailure is the answer to a topic statement on a closed store.
func closedFailure() *failure {
	return &failure{status: 503, code: wire.CodeInternalError, msg: "store closed", cause: ErrClosed}
}

// lockTopics takes the store's statement lock, then the topic registry's,
// for a statement that changes topics; unlock releases both.
func (s *Store) lockTopics() (unlock func(), f *failure) {
	if !s.lock() {
		return nil, closedFailure()
	}
	s.topics.mu.Lock()
	return func() {
		s.topics.mu.Unlock()
		s.mu.Unlock()
	}, nil
}
