package kalamtest

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"

	"github.com/kalamgo/kalam/kalamtest/internal/store"
)

// Result is the outcome of Exec: the per-statement results in wire form,
// and whether the HTTP API would stream them (one row-returning statement).
type Result = store.Result

// SQLError is the error of a failed Exec, with the HTTP status and SQL
// error code the API would answer. Match it with errors.As.
type SQLError = store.Error

// Exec runs sql as user, in the namespace "default", exactly as
// POST /v1/api/sql would, and notifies subscribers. It is how tests write
// rows without going through HTTP. Params bind $1, $2, …: nil, bool,
// integers, floats, strings and json.Number. A failed statement gives a
// *SQLError; an unknown user an error matching ErrUnknownUser.
func (s *Server) Exec(ctx context.Context, user, sql string, params ...any) (Result, error) {
	u, ok := s.db.LookupUser(user)
	if !ok {
		return Result{}, fmt.Errorf("%w: %q", ErrUnknownUser, user)
	}
	return s.db.Exec(ctx, store.Session{User: u.ID, Role: u.Role, Namespace: "default"}, sql, params)
}

// CreateUser adds a user. role is one of "user", "service", "dba" and
// "system"; empty means "user".
func (s *Server) CreateUser(name, password, role string) error {
	if role == "" {
		role = "user"
	}
	if !validRoles[role] {
		return &ConfigError{Field: "role", Reason: "must be user, service, dba or system"}
	}
	return s.db.CreateUser(name, password, role, nil)
}

// IssueTokens mints an access and a refresh token for user without a
// password, as a login would.
func (s *Server) IssueTokens(user string) (access, refresh string, err error) {
	u, ok := s.db.LookupUser(user)
	if !ok {
		return "", "", fmt.Errorf("%w: %q", ErrUnknownUser, user)
	}
	t, err := s.tok.mint(u)
	if err != nil {
		return "", "", err
	}
	return t.access, t.refresh, nil
}

// Connections returns the number of open WebSocket connections,
// authenticated or not.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ws)
}

// SubscriptionInfo describes one live subscription.
type SubscriptionInfo struct {
	User  string `json:"user"`
	Conn  uint64 `json:"conn"` // connection number, 1 for the first WebSocket
	ID    string `json:"id"`
	SQL   string `json:"sql"`
	State string `json:"state"` // "loading" (initial load under way) or "live"
}

// Subscriptions lists the live subscriptions of every connection, ordered
// by connection and id.
func (s *Server) Subscriptions() []SubscriptionInfo {
	s.mu.Lock()
	conns := s.wsListLocked()
	s.mu.Unlock()
	var out []SubscriptionInfo
	for _, c := range conns {
		c.mu.Lock()
		for _, sub := range c.subs {
			sub.mu.Lock()
			st := sub.state
			sub.mu.Unlock()
			out = append(out, SubscriptionInfo{User: sub.sess.User, Conn: c.id, ID: sub.id, SQL: sub.sql, State: st.String()})
		}
		c.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Conn != out[j].Conn {
			return out[i].Conn < out[j].Conn
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Stats are cumulative counters since start.
type Stats struct {
	WSAccepted           int64 `json:"ws_accepted"`           // WebSocket upgrades
	AuthOK               int64 `json:"auth_ok"`               // successful WebSocket authentications
	AuthFailed           int64 `json:"auth_failed"`           // auth_error replies (timeouts excluded)
	MessagesIn           int64 `json:"messages_in"`           // client data frames
	MessagesOut          int64 `json:"messages_out"`          // server data frames written
	NotificationsSent    int64 `json:"notifications_sent"`    // change messages written
	NotificationsDropped int64 `json:"notifications_dropped"` // lost to OverflowDrop or the 1024-change load buffer
	OverflowCloses       int64 `json:"overflow_closes"`       // connections closed by OverflowClose
}

type counters struct {
	connSeq              atomic.Uint64
	wsAccepted           atomic.Int64
	authOK               atomic.Int64
	authFailed           atomic.Int64
	messagesIn           atomic.Int64
	messagesOut          atomic.Int64
	notificationsSent    atomic.Int64
	notificationsDropped atomic.Int64
	overflowCloses       atomic.Int64
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		WSAccepted:           c.wsAccepted.Load(),
		AuthOK:               c.authOK.Load(),
		AuthFailed:           c.authFailed.Load(),
		MessagesIn:           c.messagesIn.Load(),
		MessagesOut:          c.messagesOut.Load(),
		NotificationsSent:    c.notificationsSent.Load(),
		NotificationsDropped: c.notificationsDropped.Load(),
		OverflowCloses:       c.overflowCloses.Load(),
	}
}

// testHooks let in-package tests stop the world at precise points.
type testHooks struct {
	beforeWrite   atomic.Pointer[func()] // before each WebSocket frame write
	afterRegister atomic.Pointer[func()] // after a subscription joined the hub, before its snapshot end
}
