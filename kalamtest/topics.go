package kalamtest

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"sync"
	"time"

	"github.com/kalamgo/kalam/kalamtest/internal/store"
	"github.com/kalamgo/kalam/transport/wire"
)

// Topic routes (PROTOCOL.md §6): POST /v1/api/topics/consume and
// /v1/api/topics/ack. Bearer authentication fails as on /v1/api/sql (the
// SQL envelope, 401); the role rule, a missing topic and store failures
// answer in the topic envelope {"error","code"} with 403, 404 and 500. A
// body the JSON extractor cannot read gets 400 with a plain-text reason.

// topicFaults are the fault hooks of the topic routes.
type topicFaults struct {
	mu           sync.Mutex
	failAcks     int  // acks still to fail
	failApplied  bool // whether a failed ack is recorded before the 500
	slowPoll     time.Duration
	expireTopics int // topic requests still to answer 401 TOKEN_EXPIRED
	held         int // polls being held by SlowTopicPolls right now
}

// SlowPollsHeld returns how many consume requests SlowTopicPolls is holding
// right now, so a test can act while a poll is in flight.
func (s *Server) SlowPollsHeld() int {
	f := s.topicFaults()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.held
}

func (s *Server) topicFaults() *topicFaults { return &s.topicFault }

// FailTopicCommits makes the next n calls of /v1/api/topics/ack answer 500
// INTERNAL_ERROR. With applied the offset is recorded before the failure
// (the answer is lost, the commit is not); without it nothing is recorded.
// n = 0 clears the fault.
func (s *Server) FailTopicCommits(n int, applied bool) {
	f := s.topicFaults()
	f.mu.Lock()
	f.failAcks, f.failApplied = n, applied
	f.mu.Unlock()
	s.log.Info("kalamtest: fault: topic commits fail", "count", n, "applied", applied)
}

// SlowTopicPolls delays every /v1/api/topics/consume answer by d (the
// request's cancellation still ends it). Zero clears the fault.
func (s *Server) SlowTopicPolls(d time.Duration) {
	f := s.topicFaults()
	f.mu.Lock()
	f.slowPoll = d
	f.mu.Unlock()
	s.log.Info("kalamtest: fault: topic polls slowed", "delay", d)
}

// ExpireTopicTokens makes the access tokens expire as the next n topic
// requests (consume or ack) arrive, as ExpireAccessTokens would at that
// instant: the request gets 401 TOKEN_EXPIRED and is not carried out;
// refreshing works and yields a token that is valid. n = 0 clears it.
func (s *Server) ExpireTopicTokens(n int) {
	f := s.topicFaults()
	f.mu.Lock()
	f.expireTopics = n
	f.mu.Unlock()
	s.log.Info("kalamtest: fault: topic tokens expire", "count", n)
}

// SetTopicVisibility sets how long a consumer group's unacknowledged
// messages stay claimed before they are handed out again (default 30 s;
// zero restores it).
func (s *Server) SetTopicVisibility(d time.Duration) { s.db.SetTopicVisibility(d) }

// TopicInfo describes a topic: its id, partition count and sources, each
// as "ns.table ON OP [WHERE …] payload-mode".
type TopicInfo struct {
	ID         string   `json:"id"`
	Partitions uint32   `json:"partitions"`
	Sources    []string `json:"sources"`
}

// Topics lists the topics, sorted by id.
func (s *Server) Topics() []TopicInfo {
	list := s.db.Topics()
	out := make([]TopicInfo, len(list))
	for i, t := range list {
		out[i] = TopicInfo{ID: t.ID, Partitions: t.Partitions, Sources: t.Sources}
		if out[i].Sources == nil {
			out[i].Sources = []string{}
		}
	}
	return out
}

// topicAdminRoutes adds the topic fault endpoints to the admin mux:
//
//	POST /_kalamtest/faults/topic-commit-failures {"count":2,"applied":false}
//	POST /_kalamtest/faults/topic-slow-polls      {"delay":"1s"}
//	POST /_kalamtest/faults/topic-token-expiry    {"count":1}
//	POST /_kalamtest/topics/visibility            {"timeout":"5s"}
//	GET  /_kalamtest/topics                       [TopicInfo]
func (s *Server) topicAdminRoutes(mux *http.ServeMux, p string) {
	mux.HandleFunc("POST "+p+"faults/topic-commit-failures", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Count   int  `json:"count"`
			Applied bool `json:"applied"`
		}
		if !adminDecode(w, r, &req) {
			return
		}
		if req.Count < 0 {
			adminError(w, http.StatusBadRequest, errors.New("count must not be negative"))
			return
		}
		s.FailTopicCommits(req.Count, req.Applied)
		adminOK(w)
	})
	mux.HandleFunc("POST "+p+"faults/topic-slow-polls", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Delay string `json:"delay"`
		}
		if !adminDecode(w, r, &req) {
			return
		}
		d, err := time.ParseDuration(req.Delay)
		if err != nil || d < 0 {
			adminError(w, http.StatusBadRequest, errors.New("delay must be a non-negative Go duration"))
			return
		}
		s.SlowTopicPolls(d)
		adminOK(w)
	})
	mux.HandleFunc("POST "+p+"faults/topic-token-expiry", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Count int `json:"count"`
		}
		if !adminDecode(w, r, &req) {
			return
		}
		if req.Count < 0 {
			adminError(w, http.StatusBadRequest, errors.New("count must not be negative"))
			return
		}
		s.ExpireTopicTokens(req.Count)
		adminOK(w)
	})
	mux.HandleFunc("POST "+p+"topics/visibility", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Timeout string `json:"timeout"`
		}
		if !adminDecode(w, r, &req) {
			return
		}
		d, err := time.ParseDuration(req.Timeout)
		if err != nil || d < 0 {
			adminError(w, http.StatusBadRequest, errors.New("timeout must be a non-negative Go duration"))
			return
		}
		s.SetTopicVisibility(d)
		adminOK(w)
	})
	mux.HandleFunc("GET "+p+"topics", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Topics())
	})
}

// hold applies SlowTopicPolls; false when the client gave up meanwhile.
func (f *topicFaults) hold(r *http.Request) bool {
	f.mu.Lock()
	delay := f.slowPoll
	if delay > 0 {
		f.held++
	}
	f.mu.Unlock()
	if delay <= 0 {
		return true
	}
	defer func() {
		f.mu.Lock()
		f.held--
		f.mu.Unlock()
	}()
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (f *topicFaults) takeExpire() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.expireTopics > 0 {
		f.expireTopics--
		return true
	}
	return false
}

func (f *topicFaults) takeAckFailure() (fail, applied bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failAcks > 0 {
		f.failAcks--
		return true, f.failApplied
	}
	return false, false
}

func writeTopicError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, wire.TopicErrorBody{Error: msg, Code: code})
}

// topicAuth authenticates and applies the role rule; what is
// "consumption" or "acknowledgment".
func (s *Server) topicAuth(w http.ResponseWriter, r *http.Request, what string) bool {
	start := time.Now()
	if s.topicFaults().takeExpire() {
		s.tok.expireAccess() // the token expires just as it reaches the route
	}
	u, ok := s.bearerAuth(w, r, start)
	if !ok {
		return false
	}
	switch u.Role {
	case "service", "dba", "system":
		return true
	}
	writeTopicError(w, http.StatusForbidden, wire.TopicCodeForbidden, "Topic "+what+" requires service, dba, or system role")
	return false
}

// readTopicBody is actix's JSON extractor: content type, size, syntax.
func readTopicBody(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if !isJSONType(mt) {
		writeText(w, http.StatusBadRequest, "Content type error")
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil || len(body) > maxJSONBody {
		writeText(w, http.StatusBadRequest, "Json payload error: payload too large or unreadable")
		return false
	}
	if reason := decodeStrict(body, v, false); reason != "" {
		writeText(w, http.StatusBadRequest, "Json deserialize error: "+reason)
		return false
	}
	return true
}

type consumeBody struct {
	TopicID     *string          `json:"topic_id"`
	GroupID     *string          `json:"group_id"`
	Start       *wire.TopicStart `json:"start"`
	Limit       *uint32          `json:"limit"`
	PartitionID *uint32          `json:"partition_id"`
	Timeout     *uint64          `json:"timeout_seconds"`
}

func missingField(w http.ResponseWriter, name string) {
	writeText(w, http.StatusBadRequest, "Json deserialize error: missing field `"+name+"`")
}

func (s *Server) handleTopicConsume(w http.ResponseWriter, r *http.Request) {
	if !s.topicAuth(w, r, "consumption") {
		return
	}
	var b consumeBody
	if !readTopicBody(w, r, &b) {
		return
	}
	switch {
	case b.TopicID == nil:
		missingField(w, "topic_id")
		return
	case b.GroupID == nil:
		missingField(w, "group_id")
		return
	}
	a := store.ConsumeArgs{Topic: *b.TopicID, Group: *b.GroupID, Limit: 100}
	if b.Start != nil {
		a.Start = *b.Start
	}
	if b.Limit != nil {
		a.Limit = int(*b.Limit)
	}
	if b.PartitionID != nil {
		a.Partition = *b.PartitionID
	}
	if !s.db.TopicExists(a.Topic) {
		writeTopicError(w, http.StatusNotFound, wire.TopicCodeNotFound, "Topic '"+a.Topic+"' does not exist")
		return
	}
	f := s.topicFaults()
	if !f.hold(r) {
		return
	}
	res, err := s.db.Consume(a)
	if err != nil {
		s.writeStoreTopicError(w, err)
		return
	}
	out := wire.ConsumeResponse{Messages: make([]wire.TopicMessage, 0, len(res.Messages)), NextOffset: res.Start}
	for _, m := range res.Messages {
		out.Messages = append(out.Messages, wire.TopicMessage{TopicID: a.Topic, PartitionID: m.Partition, Offset: m.Offset,
			Payload: m.Payload, TimestampMs: m.TimestampMs, User: m.User, Op: m.Op})
	}
	if n := len(res.Messages); n > 0 {
		out.NextOffset = res.Messages[n-1].Offset + 1
	}
	out.HasMore = len(res.Messages) == a.Limit // as KalamDB: true for limit 0
	writeJSON(w, http.StatusOK, out)
}

type ackBody struct {
	TopicID     *string `json:"topic_id"`
	GroupID     *string `json:"group_id"`
	PartitionID *uint32 `json:"partition_id"`
	UptoOffset  *uint64 `json:"upto_offset"`
}

func (s *Server) handleTopicAck(w http.ResponseWriter, r *http.Request) {
	if !s.topicAuth(w, r, "acknowledgment") {
		return
	}
	var b ackBody
	if !readTopicBody(w, r, &b) {
		return
	}
	switch {
	case b.TopicID == nil:
		missingField(w, "topic_id")
		return
	case b.GroupID == nil:
		missingField(w, "group_id")
		return
	case b.UptoOffset == nil:
		missingField(w, "upto_offset")
		return
	}
	part := uint32(0)
	if b.PartitionID != nil {
		part = *b.PartitionID
	}
	if !s.db.TopicExists(*b.TopicID) {
		writeTopicError(w, http.StatusNotFound, wire.TopicCodeNotFound, "Topic '"+*b.TopicID+"' does not exist")
		return
	}
	fail, applied := s.topicFaults().takeAckFailure()
	if !fail || applied {
		if err := s.db.Ack(*b.TopicID, *b.GroupID, part, *b.UptoOffset); err != nil {
			s.writeStoreTopicError(w, err)
			return
		}
	}
	if fail {
		writeTopicError(w, http.StatusInternalServerError, wire.TopicCodeInternal, "Failed to acknowledge offset: injected fault")
		return
	}
	writeJSON(w, http.StatusOK, wire.AckResponse{Success: true, AcknowledgedOffset: *b.UptoOffset})
}

func (s *Server) writeStoreTopicError(w http.ResponseWriter, err error) {
	var se *store.Error
	if errors.As(err, &se) {
		code := se.Code
		if se.Status != http.StatusNotFound && se.Status != http.StatusForbidden {
			code = wire.TopicCodeInternal
		}
		writeTopicError(w, se.Status, code, se.Message)
		return
	}
	s.log.Warn("kalamtest: topic request failed", "err", err)
	writeTopicError(w, http.StatusInternalServerError, wire.TopicCodeInternal, "Topic request failed")
}
