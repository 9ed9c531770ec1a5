package store

import (
	"encoding/json"
	"hash/fnv"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kalamgo/kalam/transport/wire"
)

// Topics are KalamDB's durable change logs: sources (table + operation +
// optional WHERE + payload mode) append a message for every matching
// committed row change; consumer groups read a partition by offset and
// acknowledge what they processed. Messages and acknowledged offsets live in
// SQLite; the in-flight claims of a group (what it was handed and has not
// acknowledged) live in memory, as in KalamDB, and expire after the
// visibility timeout so a crashed consumer's messages are handed out again.
// Simplification: when any claim of a group lapses, everything after the
// group's acknowledged offset is handed out again (KalamDB re-offers only
// the lapsed range); delivery stays at least once either way.

var topicDDL = []string{
	`CREATE TABLE IF NOT EXISTS _kalam_topics (id TEXT PRIMARY KEY, partitions INTEGER NOT NULL, created_at INTEGER NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS _kalam_topic_sources (topic TEXT NOT NULL, tbl TEXT NOT NULL, op TEXT NOT NULL,
		cond TEXT NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (topic, tbl, op))`,
	`CREATE TABLE IF NOT EXISTS _kalam_topic_messages (topic TEXT NOT NULL, part INTEGER NOT NULL, off INTEGER NOT NULL,
		payload BLOB NOT NULL, ts INTEGER NOT NULL, usr TEXT, op TEXT NOT NULL, PRIMARY KEY (topic, part, off))`,
	`CREATE TABLE IF NOT EXISTS _kalam_topic_offsets (topic TEXT NOT NULL, grp TEXT NOT NULL, part INTEGER NOT NULL,
		acked INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (topic, grp, part))`,
}

// DefaultTopicVisibility is how long a group's unacknowledged claim keeps
// other consumers of the group from being handed the same messages.
const DefaultTopicVisibility = 30 * time.Second

// Payload modes of a topic source.
const (
	payloadKey  = "key"
	payloadFull = "full"
	payloadDiff = "diff"
)

type topicSource struct {
	table   string // "ns.t"
	op      string // wire.TopicOpInsert, …
	cond    string // WHERE text as written ("" = none)
	payload string
	evalSQL string // filter over the change's values ("" = none)
}

type topicDef struct {
	id         string
	partitions uint32
	sources    []topicSource
}

type claim struct {
	start, end uint64 // [start, end)
	at         time.Time
}

type groupState struct {
	cursor  uint64
	pending []claim
}

type groupKey struct {
	topic, group string
	part         uint32
}

type topicState struct {
	mu         sync.Mutex // guards everything below; taken after Store.mu
	topics     map[string]*topicDef
	next       map[groupKey]uint64 // next offset per (topic, "", part)
	groups     map[groupKey]*groupState
	visibility time.Duration
}

// initTopics creates the topic tables, loads the topics and their sources,
// and starts routing committed changes into them. Called once from Open.
func (s *Store) initTopics() error {
	s.topics = &topicState{
		topics:     make(map[string]*topicDef),
		next:       make(map[groupKey]uint64),
		groups:     make(map[groupKey]*groupState),
		visibility: DefaultTopicVisibility,
	}
	for _, q := range topicDDL {
		if err := s.db.Exec(q); err != nil {
			return &Error{Status: 500, Code: wire.CodeInternalError, Message: sqliteMessage(err)}
		}
	}
	st, _, err := s.db.Prepare(`SELECT id, partitions FROM _kalam_topics`)
	if err != nil {
		return err
	}
	for st.Step() {
		s.topics.topics[st.ColumnText(0)] = &topicDef{id: st.ColumnText(0), partitions: uint32(st.ColumnInt64(1))}
	}
	st.Close()
	st, _, err = s.db.Prepare(`SELECT topic, tbl, op, cond, payload FROM _kalam_topic_sources ORDER BY rowid`)
	if err != nil {
		return err
	}
	for st.Step() {
		t := s.topics.topics[st.ColumnText(0)]
		if t == nil {
			continue
		}
		src := topicSource{table: st.ColumnText(1), op: st.ColumnText(2), cond: st.ColumnText(3), payload: st.ColumnText(4)}
		if def := s.tables[src.table]; def != nil && src.cond != "" {
			src.evalSQL, _ = topicFilterSQL(def, src.cond)
		}
		t.sources = append(t.sources, src)
	}
	st.Close()
	s.Watch(s.routeChange)
	return nil
}

// SetTopicVisibility changes how long an unacknowledged claim lasts. Zero
// restores DefaultTopicVisibility.
func (s *Store) SetTopicVisibility(d time.Duration) {
	if d <= 0 {
		d = DefaultTopicVisibility
	}
	s.topics.mu.Lock()
	s.topics.visibility = d
	s.topics.mu.Unlock()
}

// TopicExists reports whether topic id exists.
func (s *Store) TopicExists(id string) bool {
	s.topics.mu.Lock()
	defer s.topics.mu.Unlock()
	return s.topics.topics[id] != nil
}

func opName(kind string) string {
	switch kind {
	case wire.ChangeInsert:
		return wire.TopicOpInsert
	case wire.ChangeUpdate:
		return wire.TopicOpUpdate
	case wire.ChangeDelete:
		return wire.TopicOpDelete
	}
	return ""
}

type pendingMsg struct {
	topic   string
	part    uint32
	payload []byte
	op      string
	user    string
}

// routeChange is the Watch callback: it appends a message to every topic
// with a source matching ch. It runs after the commit, on the writer's
// goroutine, so the messages exist when the writer's Exec returns.
func (s *Store) routeChange(ch Change) {
	op := opName(ch.Kind)
	if ch.def == nil || op == "" {
		return
	}
	var msgs []pendingMsg
	s.topics.mu.Lock()
	for _, t := range s.topics.topics {
		for _, src := range t.sources {
			if src.table != ch.Table || src.op != op {
				continue
			}
			if src.evalSQL != "" {
				deleted := int64(0)
				if ch.Kind == wire.ChangeDelete {
					deleted = 1
				}
				if ok, err := s.evalFilter(src.evalSQL, ch.newVals, int64(ch.Seq), deleted); err != nil || !ok {
					continue
				}
			}
			msgs = append(msgs, pendingMsg{topic: t.id, part: partitionOf(ch, t.partitions),
				payload: topicPayload(ch, src.payload), op: op, user: ch.Owner})
		}
	}
	s.topics.mu.Unlock()
	if len(msgs) == 0 || !s.lock() {
		return
	}
	defer s.mu.Unlock()
	s.topics.mu.Lock()
	defer s.topics.mu.Unlock()
	ts := s.now().UnixMilli()
	for _, m := range msgs {
		if s.topics.topics[m.topic] == nil {
			continue // dropped meanwhile
		}
		off, err := s.nextOffsetLocked(m.topic, m.part)
		if err != nil {
			continue
		}
		var usr any
		if m.user != "" {
			usr = m.user
		}
		if err := s.execArgs(`INSERT INTO _kalam_topic_messages VALUES (?, ?, ?, ?, ?, ?, ?)`,
			m.topic, int64(m.part), int64(off), m.payload, ts, usr, m.op); err == nil {
			s.topics.next[groupKey{topic: m.topic, part: m.part}] = off + 1
		}
	}
}

// nextOffsetLocked is the offset the next message of the partition gets.
// Caller holds mu and topics.mu.
func (s *Store) nextOffsetLocked(topic string, part uint32) (uint64, error) {
	k := groupKey{topic: topic, part: part}
	if n, ok := s.topics.next[k]; ok {
		return n, nil
	}
	n, err := s.queryInt(`SELECT coalesce(max(off) + 1, 0) FROM _kalam_topic_messages WHERE topic = ? AND part = ?`, topic, int64(part))
	if err != nil {
		return 0, err
	}
	s.topics.next[k] = uint64(n)
	return uint64(n), nil
}

// partitionOf spreads rows over partitions by a hash of the primary key.
func partitionOf(ch Change, n uint32) uint32 {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	for _, i := range ch.def.pk {
		h.Write(appendCell(nil, ch.def.Cols[i].Type, ch.newVals[i]))
		h.Write([]byte{0})
	}
	return h.Sum32() % n
}

// topicPayload is the message body: the row as a JSON object; full and
// diff add "_table" ("ns.t"). Like KalamDB, diff carries the full row.
func topicPayload(ch Change, mode string) []byte {
	b := []byte{'{'}
	for i, c := range ch.def.Cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, c.Name)
		b = append(b, ':')
		b = appendCell(b, c.Type, ch.newVals[i])
	}
	if mode != payloadKey {
		if len(ch.def.Cols) > 0 {
			b = append(b, ',')
		}
		b = append(b, `"_table":`...)
		b = appendJSONString(b, ch.Table)
	}
	return append(b, '}')
}

// topicFilterSQL compiles a source's WHERE text into a statement over the
// change's values, like a subscription filter.
func topicFilterSQL(def *tableDef, cond string) (string, *Error) {
	toks, err := lex(cond)
	if err != nil {
		return "", liveInvalid(err.Error())
	}
	text, e := liveCondition(toks, tref{ns: def.NS, name: def.Name}, "", "")
	if e != nil {
		return "", e
	}
	var b strings.Builder
	b.WriteString("SELECT 1 FROM (SELECT ")
	for i, c := range def.Cols {
		b.WriteString("CAST(?" + strconv.Itoa(i+1) + " AS " + c.Type.affinity() + ") AS " + quoteIdent(c.Name) + ", ")
	}
	n := len(def.Cols)
	b.WriteString("CAST(?" + strconv.Itoa(n+1) + " AS INTEGER) AS " + quoteIdent(seqCol) + ", CAST(?" + strconv.Itoa(n+2) +
		" AS INTEGER) AS " + quoteIdent(deletedCol) + ") WHERE " + text)
	return b.String(), nil
}

// TopicMessageRow is a stored topic message.
type TopicMessageRow struct {
	Partition   uint32
	Offset      uint64
	Payload     []byte
	TimestampMs int64
	User        string
	Op          string
}

// ConsumeArgs selects what a consume call reads.
type ConsumeArgs struct {
	Topic, Group string
	Partition    uint32
	Start        wire.TopicStart
	Limit        int
}

// ConsumeResult is a page of messages and the start offset it was read
// from (the next_offset of an empty page).
type ConsumeResult struct {
	Messages []TopicMessageRow
	Start    uint64
}

func topicNotFound(id string) *Error {
	return &Error{Status: http.StatusNotFound, Code: wire.TopicCodeNotFound, Message: "Topic '" + id + "' does not exist"}
}

// Consume reads up to a.Limit messages for the group. Where it reads:
// with a claim state in memory, after what the group was already handed;
// otherwise after the group's acknowledged offset, or, for a group without
// one, at a.Start. The messages handed out are claimed for the group until
// acknowledged or until the visibility timeout passes.
func (s *Store) Consume(a ConsumeArgs) (ConsumeResult, error) {
	if !s.lock() {
		return ConsumeResult{}, closedError()
	}
	defer s.mu.Unlock()
	ts := s.topics
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.topics[a.Topic] == nil {
		return ConsumeResult{}, topicNotFound(a.Topic)
	}
	acked, hasAck, err := s.ackedLocked(a.Topic, a.Group, a.Partition)
	if err != nil {
		return ConsumeResult{}, internalTopic("Failed to read group offset: " + err.Error())
	}
	latest, err := s.nextOffsetLocked(a.Topic, a.Partition)
	if err != nil {
		return ConsumeResult{}, internalTopic("Failed to resolve latest offset: " + err.Error())
	}
	start := uint64(0)
	switch {
	case hasAck:
		start = acked + 1
	case a.Start.Kind == wire.StartOffset:
		start = a.Start.Offset
	case a.Start.Kind == wire.StartLatest:
		start = latest
	}
	if a.Limit <= 0 {
		return ConsumeResult{Start: start}, nil
	}
	k := groupKey{topic: a.Topic, group: a.Group, part: a.Partition}
	gs := ts.groups[k]
	from := start
	if gs != nil {
		now := s.now()
		expired := false
		gs.pending = slicesDeleteFunc(gs.pending, func(c claim) bool {
			old := now.Sub(c.at) >= ts.visibility
			expired = expired || old
			return old
		})
		if expired {
			// Hand out again everything not acknowledged.
			gs.pending = nil
			gs.cursor = start
		}
		from = gs.cursor
	}
	rows, err := s.readMessages(a.Topic, a.Partition, from, a.Limit)
	if err != nil {
		return ConsumeResult{}, internalTopic("Failed to fetch messages: " + err.Error())
	}
	if len(rows) == 0 {
		if gs == nil && start > 0 {
			ts.groups[k] = &groupState{cursor: start} // Latest/offset: remember the tail
		}
		return ConsumeResult{Start: start}, nil
	}
	if gs == nil {
		gs = &groupState{}
		ts.groups[k] = gs
	}
	end := rows[len(rows)-1].Offset + 1
	gs.cursor = end
	gs.pending = append(gs.pending, claim{start: rows[0].Offset, end: end, at: s.now()})
	return ConsumeResult{Messages: rows, Start: start}, nil
}

func slicesDeleteFunc(cs []claim, del func(claim) bool) []claim {
	out := cs[:0]
	for _, c := range cs {
		if !del(c) {
			out = append(out, c)
		}
	}
	return out
}

func internalTopic(msg string) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: wire.TopicCodeInternal, Message: msg}
}

func (s *Store) ackedLocked(topic, group string, part uint32) (uint64, bool, error) {
	st, err := s.prepare(`SELECT acked FROM _kalam_topic_offsets WHERE topic = ? AND grp = ? AND part = ?`)
	if err != nil {
		return 0, false, err
	}
	defer st.Reset()
	if err := bind(st, topic, group, int64(part)); err != nil {
		return 0, false, err
	}
	if !st.Step() {
		return 0, false, st.Err()
	}
	return uint64(st.ColumnInt64(0)), true, nil
}

func (s *Store) readMessages(topic string, part uint32, from uint64, limit int) ([]TopicMessageRow, error) {
	st, err := s.prepare(`SELECT off, payload, ts, usr, op FROM _kalam_topic_messages
		WHERE topic = ? AND part = ? AND off >= ? ORDER BY off LIMIT ?`)
	if err != nil {
		return nil, err
	}
	defer st.Reset()
	if err := bind(st, topic, int64(part), int64(from), int64(limit)); err != nil {
		return nil, err
	}
	var rows []TopicMessageRow
	for st.Step() {
		rows = append(rows, TopicMessageRow{Partition: part, Offset: uint64(st.ColumnInt64(0)),
			Payload: append([]byte(nil), st.ColumnRawBlob(1)...), TimestampMs: st.ColumnInt64(2),
			User: st.ColumnText(3), Op: st.ColumnText(4)})
	}
	return rows, st.Err()
}

// Ack records that group processed every offset up to and including upto
// of the partition, and releases the claims it covers.
func (s *Store) Ack(topic, group string, part uint32, upto uint64) error {
	if !s.lock() {
		return closedError()
	}
	defer s.mu.Unlock()
	ts := s.topics
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.topics[topic] == nil {
		return topicNotFound(topic)
	}
	if err := s.execArgs(`INSERT INTO _kalam_topic_offsets VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (topic, grp, part) DO UPDATE SET acked = excluded.acked, updated_at = excluded.updated_at`,
		topic, group, int64(part), int64(upto), s.now().UnixMilli()); err != nil {
		return internalTopic("Failed to acknowledge offset: " + err.Error())
	}
	k := groupKey{topic: topic, group: group, part: part}
	if gs := ts.groups[k]; gs != nil {
		gs.pending = slicesDeleteFunc(gs.pending, func(c claim) bool { return c.end <= upto+1 })
		for i := range gs.pending {
			if gs.pending[i].start <= upto {
				gs.pending[i].start = upto + 1
			}
		}
		if len(gs.pending) == 0 {
			delete(ts.groups, k)
		}
	}
	return nil
}

// TopicInfo describes a topic for the tests and the admin routes.
type TopicInfo struct {
	ID         string
	Partitions uint32
	Sources    []string // "ns.t ON op [WHERE …] payload"
}

// Topics lists the topics, sorted by id.
func (s *Store) Topics() []TopicInfo {
	s.topics.mu.Lock()
	defer s.topics.mu.Unlock()
	var out []TopicInfo
	for _, t := range s.topics.topics {
		ti := TopicInfo{ID: t.id, Partitions: t.partitions}
		for _, src := range t.sources {
			d := src.table + " ON " + strings.ToUpper(src.op)
			if src.cond != "" {
				d += " WHERE " + src.cond
			}
			ti.Sources = append(ti.Sources, d+" "+src.payload)
		}
		out = append(out, ti)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// jsonText is a JSON string cell.
func jsonText(v string) json.RawMessage { return appendJSONString(nil, v) }
